"""IAM-OnDB (Liwicki & Bunke 2005, the paper's CTC task): pen points in, characters out.

This module states the corpus's facts only; it imports nothing heavy (the Snakefile reads it).
"""

from lstm_odyssey.tasks import CTC

KIND = CTC
SOURCE_REAL = "iam-ondb"
STAND_IN = "synthetic-iamondb"
"""The generated stand-in's name: its folder, and the `source` of everything prepared from it."""
STAND_IN_MARKER = "synthetic-iamondb.json"
"""Left at the stand-in's root by its generator: its presence makes `source` the stand-in."""
