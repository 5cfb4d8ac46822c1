"""Send the library's logging to a job's log file (used by the workflow's script adapters)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def log_to(path: Path | str | None, level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Log to ``path`` (and stderr) for the duration; an exception is logged before it
    propagates."""
    root = logging.getLogger()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, mode="w"))
    for h in handlers:
        h.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(h)
    old_level = root.level
    root.setLevel(level)
    log = logging.getLogger("biomedclf")
    try:
        yield log
    except BaseException:
        log.exception("job failed")
        raise
    finally:
        for h in handlers:
            root.removeHandler(h)
            h.close()
        root.setLevel(old_level)
