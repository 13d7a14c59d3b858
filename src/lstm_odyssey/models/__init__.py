"""LSTM variants and the networks built from them (implementations chosen in `implementations`)."""
