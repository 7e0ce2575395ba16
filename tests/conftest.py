"""Shared test helpers: where the repository and the shared data live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
SAMPLES = REPO / "deploy" / "samples" / "feeds"


def shared_dir() -> Path:
    """The workplace's shared data (seed article, feedparser corpus): ../shared by default,
    else /work/shared (where a CI clone elsewhere on the same machine finds it)."""
    if "MEDIAMON_TEST_SHARED_DIR" in os.environ:
        return Path(os.environ["MEDIAMON_TEST_SHARED_DIR"])
    for candidate in (REPO.parent / "shared", Path("/work/shared")):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared"


@pytest.fixture
def seed_article() -> tuple[str, str]:
    seeds = sorted((shared_dir() / "seed").glob("*.txt"))
    if not seeds:
        pytest.skip(f"the shared seed article is absent ({shared_dir() / 'seed'})")
    headline, _, body = seeds[0].read_text(encoding="utf-8").partition("\n")
    return headline, body


_integration_skips: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # integration: tests/integration and tests/faults (marked by their conftests); an xfail
    # (a known, marked bug) is reported as skipped too but is not a skip
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and (
            "integration" in report.keywords
            or "tests/integration" in report.nodeid.replace(os.sep, "/")
        )
    ):
        _integration_skips.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # CI must never pass with integration tests skipped (MEDIAMON_CI is set by .ci/run).
    if os.environ.get("MEDIAMON_CI") and _integration_skips:
        print(f"\nintegration tests were skipped in CI: {_integration_skips}")
        session.exitstatus = 1
