"""The dependency audit's verdicts (deploy/audit.py): a vulnerable pin fails unless listed with
a reason; a service that cannot be asked is reported as NOT PERFORMED, never as a pass."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy import audit
from tests.support.paths import REPO


def _dep(
    name: str, vulns: list[dict[str, Any]] | None = None, skip: bool = False
) -> dict[str, Any]:
    if skip:
        return {"name": name, "skip_reason": f"Dependency not found on PyPI: {name}"}
    return {"name": name, "version": "1.0", "vulns": vulns or []}


VULN = {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"], "fix_versions": ["1.1"]}


def test_a_vulnerable_pin_fails() -> None:
    verdict = audit.judge({"dependencies": [_dep("ok"), _dep("bad", [VULN])]}, "", 1)
    assert verdict.status == 1 and verdict.performed
    assert "bad 1.0: PYSEC-2099-1 (CVE-2099-1), fixed in 1.1" in verdict.message


def test_every_package_checked_and_clean_passes() -> None:
    verdict = audit.judge({"dependencies": [_dep("a"), _dep("b")]}, "", 0)
    assert verdict == audit.Verdict(0, "no known vulnerabilities in 2 of 2 pinned packages", True)


def test_a_service_that_answered_for_nothing_is_not_a_pass() -> None:
    # what pip-audit 2.10 does when PyPI's JSON API is unreachable: exit 0, "No known
    # vulnerabilities found", every package skipped
    report = {"dependencies": [_dep("a", skip=True), _dep("b", skip=True)]}
    verdict = audit.judge(report, "", 0)
    assert verdict.status == 0 and not verdict.performed
    assert "NOT PERFORMED" in verdict.message and "not a pass" in verdict.message
    assert audit.judge(report, "", 0, strict=True).status == audit.NOT_PERFORMED


def test_an_unreachable_service_is_not_performed_other_failures_fail() -> None:
    stderr = "requests.exceptions.ConnectionError: ... Failed to resolve 'api.osv.dev'"
    unreachable = audit.judge(None, stderr, 1)
    assert unreachable.status == 0 and "NOT PERFORMED" in unreachable.message
    broken = audit.judge(None, "error: invalid requirement 'x=='", 1)
    assert broken.status == 1 and not broken.performed


def test_partly_audited_names_what_was_not() -> None:
    verdict = audit.judge({"dependencies": [_dep("a"), _dep("private", skip=True)]}, "", 0)
    assert verdict.status == 0 and verdict.performed
    assert "1 of 2" in verdict.message and "NOT audited (1): private" in verdict.message


def test_exceptions_need_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('[[exception]]\nid = "PYSEC-2099-1"\npackage = "bad"\nreason = ""\n')
    with pytest.raises(audit.ExceptionsError, match="lacks reason"):
        audit.load_exceptions(path)
    path.write_text('[[exception]]\nid = "PYSEC-2099-1"\npackage = "bad"\nreason = "unused"\n')
    assert audit.load_exceptions(path) == [audit.Accepted("PYSEC-2099-1", "bad", "unused")]


def test_the_committed_exception_list_loads() -> None:
    for entry in audit.load_exceptions(REPO / "audit-exceptions.toml"):
        assert entry.reason.strip()


FAKE_PIP_AUDIT = """\
import json, sys
args = sys.argv[1:]
ignored = [args[i + 1] for i, a in enumerate(args) if a == "--ignore-vuln"]
vulns = [v for v in [{"id": "PYSEC-2099-1", "aliases": [], "fix_versions": []}]
         if v["id"] not in ignored]
report = {"dependencies": [{"name": "bad", "version": "1.0", "vulns": vulns}]}
open(args[args.index("--output") + 1], "w").write(json.dumps(report))
sys.exit(1 if vulns else 0)
"""


@pytest.mark.parametrize("listed", [False, True])
def test_main_fails_on_a_vulnerable_pin_unless_listed(
    listed: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tool = tmp_path / "pip-audit"
    tool.write_text(f"#!{sys.executable}\n{FAKE_PIP_AUDIT}")
    tool.chmod(0o755)
    monkeypatch.setattr(audit, "_install_tool", lambda: tool)
    exceptions = tmp_path / "audit-exceptions.toml"
    if listed:
        exceptions.write_text(
            '[[exception]]\nid = "PYSEC-2099-1"\npackage = "bad"\nreason = "not reachable"\n'
        )
    monkeypatch.setattr(audit, "EXCEPTIONS", exceptions)
    status = audit.main()
    out = capsys.readouterr()
    if listed:
        assert status == 0 and "accepted (audit-exceptions.toml): PYSEC-2099-1" in out.out
    else:
        assert status == 1 and "bad 1.0: PYSEC-2099-1" in out.err


def test_report_json_shape_matches_pip_audit() -> None:
    # the fields judge() reads, as pip-audit 2.10 writes them (seen on this machine)
    sample = json.loads(
        '{"dependencies": [{"name": "aiohttp", "skip_reason": "Dependency not found on PyPI '
        'and could not be audited: aiohttp (3.14.5)"}], "fixes": []}'
    )
    assert not audit.judge(sample, "", 0).performed
