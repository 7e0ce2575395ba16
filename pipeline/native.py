"""mediamon's native module (native/, Rust through PyO3) when this install built it, else
None. It holds hot loops only; every caller keeps a Python path that gives the same answers
(tests/unit/test_native.py), used where no Rust toolchain was at hand (an image built with
NATIVE=0, an install without cargo) or for input only Python's str can hold (lone
surrogates)."""

from __future__ import annotations

import os

try:
    from pipeline import _native
except ImportError:  # built without cargo
    _native = None  # type: ignore[assignment]

# MEDIAMON_NATIVE=0 runs the Python paths, to measure or test them
native = None if os.environ.get("MEDIAMON_NATIVE", "1") == "0" else _native
