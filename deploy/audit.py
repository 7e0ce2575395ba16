"""Dependency audit of requirements.lock with pip-audit (`make audit`, part of `make lint`).

pip-audit runs from its own virtualenv (.audit-venv), not the project's lock. Outcomes:
- a known vulnerability in a pin that audit-exceptions.toml does not list: exit 1;
- every pin checked, none vulnerable: exit 0;
- the vulnerability service could not be asked (unreachable, or it answered for no pin), or
  pip-audit could not be installed: "dependency audit NOT PERFORMED" and exit 0, so an
  outage does not fail the build, but nothing claims an audit happened; MEDIAMON_AUDIT_STRICT=1
  makes that exit 3 instead (for a CI that can reach the service and must audit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PIP_AUDIT_VERSION = "2.10.1"
REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements.lock"
EXCEPTIONS = REPO / "audit-exceptions.toml"
TOOL_VENV = REPO / ".audit-venv"
TIMEOUT = 300
UNREACHABLE_HINTS = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "Failed to resolve",
    "timed out",
    "Temporary failure in name resolution",
)
NOT_PERFORMED = 3  # the exit status with MEDIAMON_AUDIT_STRICT=1


class ExceptionsError(ValueError):
    """audit-exceptions.toml is malformed: every entry needs id, package and reason."""


@dataclass(frozen=True, slots=True)
class Accepted:
    id: str
    package: str
    reason: str


def load_exceptions(path: Path | None = None) -> list[Accepted]:
    path = path or EXCEPTIONS
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text("utf-8"))
    entries = data.get("exception", [])
    if not isinstance(entries, list):
        raise ExceptionsError(f"{path}: [[exception]] entries expected")
    accepted = []
    for n, entry in enumerate(entries, 1):
        missing = [k for k in ("id", "package", "reason") if not str(entry.get(k, "")).strip()]
        if missing:
            raise ExceptionsError(f"{path}: exception #{n} lacks {', '.join(missing)}")
        accepted.append(Accepted(str(entry["id"]), str(entry["package"]), str(entry["reason"])))
    return accepted


@dataclass(frozen=True, slots=True)
class Verdict:
    status: int  # 0 pass (audited or not performed), 1 vulnerable, NOT_PERFORMED when strict
    message: str
    performed: bool


def judge(
    report: dict[str, Any] | None, stderr: str, returncode: int, *, strict: bool = False
) -> Verdict:
    """What pip-audit's JSON report (None when it wrote none), stderr and exit status mean."""

    def not_performed(why: str) -> Verdict:
        return Verdict(
            NOT_PERFORMED if strict else 0,
            f"dependency audit NOT PERFORMED: {why}. Nothing was checked; this is not a pass.",
            False,
        )

    if report is None:
        if any(hint in stderr for hint in UNREACHABLE_HINTS):
            last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            return not_performed(f"the vulnerability service is unreachable ({last[:200]})")
        return Verdict(1, f"pip-audit failed (exit {returncode}): {stderr.strip()[-500:]}", False)
    deps = report.get("dependencies", [])
    vulnerable = [
        f"{d['name']} {d.get('version', '?')}: {v['id']}"
        + (f" ({', '.join(v.get('aliases') or [])})" if v.get("aliases") else "")
        + (f", fixed in {', '.join(v['fix_versions'])}" if v.get("fix_versions") else "")
        for d in deps
        for v in d.get("vulns") or []
    ]
    skipped = [d["name"] for d in deps if d.get("skip_reason")]
    if vulnerable:
        lines = "\n  ".join(vulnerable)
        return Verdict(
            1,
            f"known vulnerabilities in {len(vulnerable)} pin(s) of requirements.lock:\n  {lines}\n"
            "upgrade them (make lock), or list each in audit-exceptions.toml with a reason",
            True,
        )
    if deps and len(skipped) == len(deps):
        return not_performed(
            f"the vulnerability service answered for none of the {len(deps)} pinned packages "
            "(PyPI's JSON API unreachable from here?)"
        )
    if not deps:
        return not_performed("pip-audit reported no packages")
    audited = len(deps) - len(skipped)
    partial = f"; NOT audited ({len(skipped)}): {', '.join(skipped)}" if skipped else ""
    return Verdict(
        0, f"no known vulnerabilities in {audited} of {len(deps)} pinned packages{partial}", True
    )


def _install_tool() -> Path | None:
    tool = TOOL_VENV / "bin" / "pip-audit"
    marker = TOOL_VENV / f".pip-audit-{PIP_AUDIT_VERSION}"
    if tool.exists() and marker.exists():
        return tool
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(TOOL_VENV)], check=True)
        subprocess.run(
            [
                str(TOOL_VENV / "bin" / "pip"),
                "install",
                "--quiet",
                f"pip-audit=={PIP_AUDIT_VERSION}",
            ],
            check=True,
            timeout=TIMEOUT,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"cannot install pip-audit {PIP_AUDIT_VERSION}: {exc}", file=sys.stderr)
        return None
    marker.touch()
    return tool


def main() -> int:
    strict = os.environ.get("MEDIAMON_AUDIT_STRICT", "") in ("1", "true", "yes")
    try:
        accepted = load_exceptions()
    except (ExceptionsError, tomllib.TOMLDecodeError) as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2
    tool = _install_tool()
    if tool is None:
        verdict = judge(None, "ConnectionError: could not install pip-audit", 1, strict=strict)
        print(verdict.message, file=sys.stderr)
        return verdict.status
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [str(tool), "-r", str(LOCK), "--no-deps", "--disable-pip", "--progress-spinner"]
        cmd += ["off", "--format", "json", "--output", str(out)]
        cmd += [arg for a in accepted for arg in ("--ignore-vuln", a.id)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
            stderr, returncode = proc.stderr, proc.returncode
        except subprocess.TimeoutExpired:
            stderr, returncode = f"pip-audit timed out after {TIMEOUT}s", 124
        report = json.loads(out.read_text()) if out.exists() and out.stat().st_size else None
    verdict = judge(report, stderr, returncode, strict=strict)
    if accepted:
        print(f"accepted (audit-exceptions.toml): {', '.join(a.id for a in accepted)}")
    print(verdict.message, file=sys.stdout if verdict.status == 0 else sys.stderr)
    return verdict.status


if __name__ == "__main__":
    sys.exit(main())
