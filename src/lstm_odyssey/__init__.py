"""lstm-odyssey: a reproduction of "LSTM: A Search Space Odyssey" (Greff et al., 2017)."""

__version__ = "0.1.0"
