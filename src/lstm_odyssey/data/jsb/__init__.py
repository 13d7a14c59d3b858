"""JSB Chorales (the paper's next-step task): Bach's chorales as 88-key piano rolls.

- `chorales`: the Boulanger-Lewandowski split (pickle or JSON, local or downloaded with its
  sha256) and music21's bundled chorales (offline), to the prepared HDF5.
- `layout`: what a configured JSB source must look like (checked before any job runs).

This module states the corpus's facts only; it imports nothing heavy (the Snakefile reads it).
"""

from lstm_odyssey.tasks import NEXT_STEP

KIND = NEXT_STEP
SOURCES = ("music21", "boulanger")
