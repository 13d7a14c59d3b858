"""The text both generated stand-ins speak or write: traditional English proverbs.

Public domain, bundled as `resources/proverbs.json`; shared here so the TIMIT and IAM-OnDB
stand-ins (independent packages) read one copy.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

PROVERBS_RESOURCE = "resources/proverbs.json"


@cache
def proverbs() -> tuple[str, ...]:
    """Every bundled proverb, one per entry."""
    document = resources.files("lstm_odyssey.data").joinpath(PROVERBS_RESOURCE).read_text()
    return tuple(json.loads(document)["lines"])
