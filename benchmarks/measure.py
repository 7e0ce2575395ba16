"""Measuring processes and the machine, and small report helpers: shared by the benchmarks
(run as scripts from this folder, so `from measure import ...` finds this file)."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int | None) -> float:
    """User+system CPU seconds of one process, all its threads (0 when it is gone)."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (every process, ours and other people's)."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


@dataclass
class CpuMeter:
    pids: dict[str, int | None]

    def read(self) -> dict[str, float]:
        sample = {name: proc_cpu(pid) for name, pid in self.pids.items() if pid}
        sample["machine"] = machine_cpu()
        return sample

    @staticmethod
    def cores(start: dict[str, float], end: dict[str, float], seconds: float) -> dict[str, float]:
        """Average cores used per process over the interval; `others` is the rest of the
        machine: the other stacks and sessions sharing it."""
        if seconds <= 0:
            return {}
        used = {k: (end[k] - start.get(k, 0.0)) / seconds for k in end}
        used["others"] = used["machine"] - sum(v for k, v in used.items() if k != "machine")
        return {k: round(v, 2) for k, v in used.items()}


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def work_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0) for k in after}
