"""What IAM-OnDB's preparation does, as light data: the inputs, the outlier rule, the rules' recipe.

Imported at DAG-build time (the registry's rerun trigger for `prepare_data`), so nothing heavy.
"""

from __future__ import annotations

from typing import Any

OUTLIER_JUMP = 300.0
"""Whiteboard units: a stroke point farther than this from all its stroke neighbours is noise.

Consecutive pen points are milliseconds apart: a point 300 units (centimetres on the whiteboard)
from both its neighbours is a tablet glitch, not pen movement.
"""

INPUT_NAMES = ("x", "y", "time", "pen_up")
OFFSET_INPUT_NAMES = ("dx", "dy", "stroke_time", "pen_up")

PREPARATION_RECIPE = {
    "rules": "pairing 1..n or the form skipped whole; ink-less lines skipped; time a running max",
    "inputs": {"positions": INPUT_NAMES, "offsets": OFFSET_INPUT_NAMES},
    "outlier_jump": OUTLIER_JUMP,
}
"""What preparation does to the corpus, as data: a Snakemake param of `prepare_data`, so a change
to these rules reruns the preparation (reword it whenever the prepared file would change)."""


def preparation_recipe() -> dict[str, Any]:
    """What preparation does to IAM-OnDB (the registry's rerun trigger)."""
    return PREPARATION_RECIPE
