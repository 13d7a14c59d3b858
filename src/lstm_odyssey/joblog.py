"""Send a pipeline job's log records (and a failure's traceback) to the job's own log file.

A failing job prints one line on the terminal (what failed, where the log is) and writes the
traceback once, to its log file: a corpus error must be readable at a glance among many jobs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FAILURE_MESSAGE = "job failed"
"""What a failed job logs (at ERROR, its traceback below); `status` reads it to tell a failure."""


class JobFailed(SystemExit):
    """Ends a failed job with exit status 1 after its error was reported (no second traceback)."""

    def __init__(self) -> None:
        super().__init__(1)


@contextlib.contextmanager
def job_logging(log_path: str | os.PathLike | None, level: int = logging.INFO) -> Iterator[None]:
    """Log to `log_path` (and stderr) for the duration; a failure is reported once, see above."""
    root = logging.getLogger()
    terminal = logging.StreamHandler()
    handlers: list[logging.Handler] = [terminal]
    file_handler: logging.Handler | None = None
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_path, mode="w")
        handlers.append(file_handler)
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    previous_level = root.level
    root.setLevel(level)
    logging.captureWarnings(True)
    try:
        yield
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:
        root.removeHandler(terminal)  # the traceback goes to the log file only
        logging.getLogger("lstm_odyssey").exception(FAILURE_MESSAGE)
        where = f" (traceback in {log_path})" if log_path is not None else ""
        print(f"error: {error}{where}", file=sys.stderr)
        if file_handler is None:  # nowhere else to keep it
            raise
        raise JobFailed() from None
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(previous_level)
