"""LSTM variants, the GRU, and the networks built from them.

Modules, each importing only those below it: `variants` (the LSTM configurations, the parameter
layout and the reference step) and `gru` (the GRU's equations, layout, reference loop and torch's
fused GRU) <- `fast_lstm` (the fused C++ kernels' extension and the LSTM's) <- `fast_gru` (the
GRU's fused kernel) <- `implementations` (which one runs) <- `layer` (`VariantLSTM`, `GRULayer`)
<- `networks` (stacked layers + read-out).
"""
