"""LSTM variants and the networks built from them.

Modules, each importing only those below it: `variants` (the nine configurations, the parameter
layout and the reference step) <- `fast_lstm` (the fused C++ kernel) <- `implementations` (which
of the two runs) <- `layer` (`VariantLSTM`) <- `networks` (stacked layers + read-out).
"""
