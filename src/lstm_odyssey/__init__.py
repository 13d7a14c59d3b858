"""lstm-odyssey: a reproduction of "LSTM: A Search Space Odyssey" (Greff et al., 2017)."""

import os

__version__ = "0.1.0"


def export_library_path(library: str | os.PathLike[str]) -> None:
    """Put `library` first on PYTHONPATH, so every job script imports this checkout's library.

    Called by the Snakefile: the job scripts then need no `sys.path` lines of their own, and a
    job never imports another copy of the package that happens to be installed.
    """
    entries = [os.fspath(library), *filter(None, [os.environ.get("PYTHONPATH")])]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(entries))
