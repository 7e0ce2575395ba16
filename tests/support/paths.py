"""Where the repository, the test fixtures and the sample feeds live."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SAMPLES = REPO / "deploy" / "samples" / "feeds"
# The news item the product was first specified from (tests/fixtures/README.md)
SEED = FIXTURES / "seed"
# feedparser's own test feeds, a bad-input corpus for the parser (BSD-2-Clause)
FEEDPARSER_CORPUS = FIXTURES / "feedparser-tests"
