"""Bad queries get an answer that points at the problem, before any server is asked."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.query import QuerySyntaxError, check_query_syntax
from tests.support.paths import REPO


@pytest.mark.parametrize(
    ("query", "reason", "at"),
    [
        ("Сирия AND (", "'(' without ')'", 10),
        ('"Astana talks', "unterminated double quote", 0),
        ("Syria / Iraq", "a lone '/'", 6),
        ("Syria)", "')' without '('", 5),
        ("Syria AND OR Iraq", "AND/OR needs a term", 6),
    ],
)
def test_pointer_at_the_problem(query: str, reason: str, at: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        check_query_syntax(query)
    assert reason in caught.value.reason and caught.value.at == at
    assert caught.value.pointer().splitlines()[1] == " " * at + "^"


@pytest.mark.parametrize("query", ["/Syri[ae]/", r"a\/b", '"a / b"', "a OR NOT b", '"( )" AND x'])
def test_valid_queries_pass(query: str) -> None:
    assert check_query_syntax(query) == query


def test_search_cli_explains_without_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mediamon.main", "search", "Сирия AND ("],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "MEDIAMON_ES_PORT": "1"},
    )
    assert done.returncode == 2
    assert "invalid query: '(' without ')' (at character 11)" in done.stderr
    assert "Traceback" not in done.stderr and "^" in done.stderr
