"""Notice a changed taxonomy file (or a reload request) so the worker can re-read it
between batches: the batch in hand finishes with the rules it began with, the next one
starts with the new rules, and offsets move as before, so no message is lost or tagged
twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pipeline.taxonomy import DEFAULT_PATH


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None  # a file being replaced; looked at again next time
    return info.st_mtime_ns, info.st_size


class TaxonomyWatch:
    def __init__(self, path: Path | None, every: float = 5.0) -> None:
        self.path = path or DEFAULT_PATH
        self.every = every
        self._stamp = _stamp(self.path)
        self._next = time.monotonic() + every
        self._requested = threading.Event()  # set from the health server's thread or a signal

    def request(self) -> None:
        """Re-read at the next batch, changed or not (`mediamon topics reload`, SIGHUP)."""
        self._requested.set()

    def due(self) -> bool:
        """Whether the taxonomy should be read again now; cheap enough to ask every batch."""
        if self._requested.is_set():
            self._requested.clear()
            self._stamp = _stamp(self.path)
            return True
        if self.every <= 0 or time.monotonic() < self._next:
            return False
        self._next = time.monotonic() + self.every
        stamp = _stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        return True
