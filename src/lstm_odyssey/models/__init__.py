"""LSTM variants and the networks built from them.

Importing the package registers the fused CPU kernel (``implementation="fast"``
and ``"auto"``) next to the reference, so every entry point sees all of them.
"""

from lstm_odyssey.models import fast_lstm as fast_lstm  # noqa: F401  (registers "fast", "auto")
