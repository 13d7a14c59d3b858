"""TIMIT (LDC93S1, the paper's framewise task): 39 MFCC inputs, one of 61 phones per frame.

- `sphere`: NIST SPHERE (and RIFF) audio reading and writing.
- `corpus`: the LDC layout, PHN/WRD/TXT parsing, the standard split, preparation.
- `features`: HTK's MFCC_E_D_A recipe.
- `layout`: what a configured TIMIT folder must look like (checked before any job runs).
- `espeak`, `stand_in`: the generated stand-in `synthetic-timit` in TIMIT's layout and formats.

This module states the corpus's facts only; it imports nothing heavy (the Snakefile reads it).
"""

from lstm_odyssey.tasks import FRAMEWISE

KIND = FRAMEWISE
SOURCE_REAL = "timit"
STAND_IN = "synthetic-timit"
"""The generated stand-in's name: its folder, and the `source` of everything prepared from it."""
STAND_IN_MARKER = "synthetic-timit.json"
"""Left at the stand-in's root by its generator: its presence makes `source` the stand-in."""
