"""Send a pipeline job's log records (and a failure's traceback) to the job's own log file."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def job_logging(log_path: str | os.PathLike | None, level: int = logging.INFO) -> Iterator[None]:
    """Log to `log_path` (and stderr) for the duration; a raised exception is logged first."""
    root = logging.getLogger()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    previous_level = root.level
    root.setLevel(level)
    logging.captureWarnings(True)
    try:
        yield
    except BaseException:
        logging.getLogger("lstm_odyssey").exception("job failed")
        raise
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(previous_level)
