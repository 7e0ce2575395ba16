"""`python -m benchmarks NAME [options]`: runs one benchmark, on the working tree or, with
`--code-ref REF`, on a commit exported under the state dir."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

from benchmarks import measure

NAMES = ("alerts", "e2e", "enrich_process", "extract", "pages", "stories", "web")
# the ones that start workers (or the page) from the code measured
ON_A_STACK = ("alerts", "e2e", "pages", "stories", "web")


def export(ref: str, state_dir: Path) -> tuple[str, Path]:
    """`git archive` of the commit's pipeline, deploy and connectors, once per commit: people
    edit the working tree while a run goes on, and a half-saved module breaks or skews it."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=measure.REPO, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    dest = state_dir.resolve() / "code" / sha[:12]
    if not (dest / "pipeline").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha, "pipeline", "deploy", "connectors"],
            cwd=measure.REPO, capture_output=True, check=True,
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return sha, dest


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in NAMES:
        print(f"usage: python -m benchmarks {{{','.join(NAMES)}}} [options] [--help]")
        return 2
    name, rest = argv[0], argv[1:]
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--code-ref")
    pre.add_argument("--state-dir", type=Path, default=measure.DEFAULT_STATE)
    known, _ = pre.parse_known_args(rest)
    if known.code_ref:
        if name not in ON_A_STACK:
            raise SystemExit(f"--code-ref is for {' and '.join(ON_A_STACK)} only")
        measure.EXPORTED = export(known.code_ref, known.state_dir)
        # this process imports pipeline from the export first; the workers (`python -m`)
        # import from their working directory, which is the export too
        sys.path.insert(0, str(measure.EXPORTED[1]))
        os.chdir(measure.EXPORTED[1])
    module = importlib.import_module(f"benchmarks.{name}")
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
