"""What every benchmark shares, standard library and rich only (enrich_process runs in the
peer's virtualenv): CPU meters of processes and process trees, a measured child process,
machine facts, statistics, the options and output (the results as rich tables and lines,
JSON), the sentence bank."""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEED = 20170123  # the first Astana meeting on Syria
DEFAULT_STATE = Path("/tmp/mediamon-bench")
CLK_TCK = os.sysconf("SC_CLK_TCK")
ERR = Console(stderr=True, highlight=False)
# Set by __main__.py when `--code-ref` exported a commit: (commit, directory)
EXPORTED: tuple[str, Path] | None = None
LONG = 12  # a list of results longer than this (samples, windows) is left to the JSON


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def proc_cpu(pid: int | None) -> float:
    """User+system CPU seconds of one process, all its threads (0 when it is gone)."""
    try:
        fields = _stat(pid) if pid else []
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK if fields else 0.0


def descendants(pid: int) -> list[int]:
    """`pid` and every live process below it (a connector's parse workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def run_process(
    command: list[str], stdin: Path | None = None, output: bool = False
) -> tuple[dict[str, float], bytes]:
    """One child process to its end: wall and CPU seconds and peak RSS (MB, from its
    rusage), and its standard output if `output` (else it goes to /dev/null)."""
    with open(stdin or os.devnull, "rb") as source:
        started = time.monotonic()
        sink = subprocess.PIPE if output else subprocess.DEVNULL
        proc = subprocess.Popen(command, stdin=source, stdout=sink, cwd=REPO)
        out = proc.stdout.read() if proc.stdout else b""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed with status {status}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024}, out  # fmt: skip


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (every process, ours and other people's)."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK  # minus idle and iowait


@dataclass
class CpuMeter:
    """CPU seconds per named process; the names in `trees` with their descendants."""

    pids: Mapping[str, int | None]
    trees: Sequence[str] = ()

    def read(self) -> dict[str, float]:
        sample = {
            name: sum(map(proc_cpu, descendants(pid) if name in self.trees else [pid]))
            for name, pid in self.pids.items()
            if pid
        }
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


def machine_info() -> dict[str, Any]:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), "")
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        mem_kb = int(meminfo.readline().split()[1])
    return {
        "cpu_model": model, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(), "python": platform.python_version(),
    }  # fmt: skip


def versions(*dists: str) -> dict[str, str]:
    out = {}
    for dist in dists:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def code_state() -> dict[str, Any]:
    """The code measured: the commit exported by `--code-ref` (see __main__.py), or HEAD and
    the files of the working tree that differ from it in the packages a run loads."""
    if EXPORTED:
        return {"head": EXPORTED[0][:12], "exported": str(EXPORTED[1])}

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout

    changed = git("status", "--porcelain", "--", "pipeline", "deploy", "connectors", "mediamon")
    head = git("rev-parse", "--short", "HEAD").strip()
    return {"head": head, "changed": [line[3:] for line in changed.splitlines()]}


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def stats(values: Iterable[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered), "p50": round(percentile(ordered, 50), 3),
        "p95": round(percentile(ordered, 95), 3), "p99": round(percentile(ordered, 99), 3),
        "max": round(ordered[-1], 3) if ordered else math.nan,
        "mean": round(sum(ordered) / len(ordered), 3) if ordered else math.nan,
    }  # fmt: skip


def per_ten_seconds(points: Iterable[tuple[float, float]], t0: float) -> list[dict[str, float]]:
    """Latency stats per 10 s of sending, from (send time, latency) points: a run that falls
    behind shows a rising p95."""
    windows: dict[int, list[float]] = {}
    for sent, latency in points:
        windows.setdefault(int((sent - t0) // 10 * 10), []).append(latency)
    return [{"from_s": w} | stats(v) for w, v in sorted(windows.items())]


def work_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0) for k in after}


def target(measured: float | None, limit: float, at_least: bool = True) -> dict[str, Any]:
    met = None if measured is None else measured >= limit if at_least else measured <= limit
    return {"target": f"{'>=' if at_least else '<='} {limit:,g}", "measured": measured, "met": met}


def progress(message: str) -> None:
    ERR.print(f"[{time.strftime('%H:%M:%S')}] {message}", markup=False)


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def parser(name: str, doc: str | None, **options: tuple[Any, str]) -> argparse.ArgumentParser:
    """`python -m benchmarks NAME`'s options, `name=(default, help)`: a False default makes a
    flag, a list a repeatable option, None a string; then --save-json."""
    p = argparse.ArgumentParser(prog=f"python -m benchmarks {name}", description=doc)
    p.formatter_class = _Help
    for key, (default, text) in options.items():
        flag = "--" + key.replace("_", "-")
        if default is False:
            p.add_argument(flag, action="store_true", help=text)
        elif isinstance(default, list):
            p.add_argument(flag, action="append", default=default, help=text)
        else:
            kind = str if default is None else type(default)
            p.add_argument(flag, type=kind, default=default, help=text)
    p.add_argument("--save-json", type=Path, help="also write the JSON results here")
    return p


def serve(host: str, backlog: int, answer: Callable[[BaseHTTPRequestHandler], None]) -> Any:
    """A threaded HTTP/1.1 server (keep-alive, as real endpoints are) on a free port, in a
    daemon thread; `answer` answers GET and POST. A backlog of 5, the default, drops
    connections under bursts."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            answer(self)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads, request_queue_size = True, backlog

    server = Server((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def reply(
    request: BaseHTTPRequestHandler, status: int, body: bytes, kind: str, **headers: str
) -> None:
    """Answer a request of `serve` with `body` of type `kind`."""
    request.send_response(status)
    for key, value in {"Content-Type": kind, "Content-Length": str(len(body)), **headers}.items():
        request.send_header(key, value)
    request.end_headers()
    request.wfile.write(body)


def cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(cell, value))
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return "" if value is None else str(value)


def _flat(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return isinstance(value, dict | list) and not any(isinstance(v, dict | list) for v in items)


def render(data: dict[str, Any]) -> str:
    """The results: a table for each list or mapping of flat rows (a mapping's keys in the
    `name` column), one line for each value or flat mapping, nested ones indented; a list
    longer than LONG is only counted."""
    console = Console(file=io.StringIO(), width=160, color_system=None)

    def show(key: str, value: Any, pad: str) -> None:
        rows = list(value.values()) if isinstance(value, dict) else value
        if isinstance(value, list) and len(value) > LONG:
            console.print(f"{pad}{key}: {len(value)} entries (in --save-json)", markup=False)
        elif not isinstance(value, dict | list) or _flat(value) or not value:
            console.print(f"{pad}{key}: {cell(value)}", markup=False, highlight=False)
        elif all(isinstance(r, dict) and _flat(r) for r in rows):
            if isinstance(value, dict):
                rows = [{"name": k} | v for k, v in value.items()]
            heads = list(dict.fromkeys(k for r in rows for k in r))
            table = Table(*heads, title=pad + key, box=box.SIMPLE_HEAD)
            for row in rows:
                table.add_row(*(cell(row.get(h)) for h in heads))
            console.print(table)
        else:
            console.print(f"{pad}{key}:", markup=False)
            for k, v in value.items() if isinstance(value, dict) else enumerate(value):
                show(str(k), v, pad + "  ")

    for key, value in data.items():
        show(key, value, "")
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return re.sub(r"\n{3,}", "\n\n", re.sub(r" +\n", "\n", str(text))).strip()


def emit(args: argparse.Namespace, data: dict[str, Any]) -> int:
    """Write the JSON if asked (`--save-json`); print the results."""
    if args.save_json:
        text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
        args.save_json.write_text(text + "\n", encoding="utf-8")
    print(render(data))
    return 0


def main(
    argv: Sequence[str] | None, name: str, doc: str | None,
    run: Callable[[Any], dict[str, Any]], **options: tuple[Any, str],
) -> int:  # fmt: skip
    """A benchmark without a stack: its options, its run (the data), its output."""
    args = parser(name, doc, **options).parse_args(argv)
    return emit(args, run(args))


def sentences() -> dict[str, list[str]]:
    """The sentence bank: ~40 news sentences per language (ru en fr de tr ar kk) about Syria,
    the Astana talks and everyday news."""
    lines = (DATA / "sentences.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["lang"]: row["sentences"] for row in map(json.loads, lines)}
