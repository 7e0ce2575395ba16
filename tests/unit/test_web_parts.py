"""The live page's pure parts: filters read from a URL, the token check, the search rate
limit, evidence marking and chart numbers (the page itself is tested in a real browser in
tests/integration/test_web.py)."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from mediamon.web.charts import bars, over_time
from mediamon.web.command import check_exposure
from mediamon.web.filters import MAX_QUERY, Filters
from mediamon.web.guard import RateLimit, is_loopback, token_matches
from mediamon.web.reading import marked, row
from pipeline.errors import ConfigError
from pipeline.settings import Settings


def test_filters_are_read_bounded_and_written_back_to_a_url() -> None:
    f = Filters.from_params(
        {
            "q": "x" * 5000,
            "topic": "syria",
            "lang": "<script>",
            "source": "a.example",
            "since": "7d",
        }
    )
    assert len(f.q) == MAX_QUERY and f.lang == "" and f.topic == "syria"
    assert f.url(q="", topic="un") == "/?topic=un&source=a.example&since=7d"
    assert Filters().url() == "/" and not Filters().active


def test_filters_explain_a_bad_query_or_span_before_any_search() -> None:
    problem = Filters(q="Сирия AND (").problem()
    assert problem is not None and problem.at == 10 and "(" in str(problem)
    assert Filters(q='"open').problem() is not None
    assert Filters(q="a / b").problem() is not None
    assert "since" in str(Filters(since="yesterday").problem())
    assert Filters(q="Сирия AND (Астана OR ООН)", since="24h").problem() is None
    query = Filters(q="x", topic="un", lang="ru", source="a.example").query()
    assert {"terms": {"domain": ["a.example"]}} in query["bool"]["filter"]


def test_only_the_token_opens_the_page() -> None:
    token = "t0ken-" + "z" * 20

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert token_matches(f"Bearer {token}", token)
    assert token_matches(basic("anyone", token), token)
    assert not token_matches(basic(token, "wrong"), token)  # the token is the password
    assert not token_matches("Bearer ", token) and not token_matches("", token)
    assert not token_matches("Basic !!!not-base64", token)
    assert not token_matches(f"Bearer {token}x", token)


def test_a_public_address_needs_a_token_to_start() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert "only this machine" in check_exposure(Settings(), "127.0.0.1")
    with pytest.raises(ConfigError, match="MEDIAMON_WEB_TOKEN"):
        check_exposure(Settings(web_token=None), "0.0.0.0")
    assert "needs" in check_exposure(Settings(web_token=SecretStr("s" * 32)), "0.0.0.0")


def test_searches_are_limited_per_client_and_refill() -> None:
    now = [0.0]
    limit = RateLimit(60, clock=lambda: now[0])  # one a second, bursts of 6
    allowed = [limit.allow("a") for _ in range(10)]
    assert allowed.count(True) == 6 and limit.allow("b")  # another client is not affected
    now[0] += 2.0
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")


def test_evidence_is_marked_once_and_bad_offsets_are_ignored() -> None:
    text = "Talks on Syria in Astana with the UN."
    evidence = {
        "syria": [{"field": "text", "start": 9, "end": 14}],
        "astana_process": [{"field": "text", "start": 18, "end": 24}],
        "un": [
            {"field": "text", "start": 34, "end": 36},
            {"field": "text", "start": 10, "end": 12},  # inside another mark: dropped
            {"field": "text", "start": 30, "end": 999},  # out of range: dropped
            {"field": "title", "start": 0, "end": 2},  # another field
        ],
    }
    pieces = marked(text, evidence, "text")
    assert "".join(p for p, _ in pieces) == text
    assert [(p, t) for p, t in pieces if t] == [
        ("Syria", "syria"),
        ("Astana", "astana_process"),
        ("UN", "un"),
    ]


def test_rows_never_link_to_anything_but_the_web() -> None:
    assert row({"_id": "a", "_source": {"url": "javascript:alert(1)"}})["url"] == ""
    assert row({"_id": "a", "_source": {"url": "data:text/html,x"}})["url"] == ""
    assert row({"_id": "a", "_source": {"url": "https://x.example/a"}})["url"].startswith("https")
    assert row({"_id": "a", "_source": {}})["title"] == "(no title)"


def test_charts_are_numbers_scaled_to_the_largest() -> None:
    assert [b.share for b in bars([("a", 10), ("b", 5), ("c", 0)])] == [100.0, 50.0, 0.0]
    assert bars([]) == []
    assert over_time([("2026-01-01", {"": 3})]) is None  # one point is not a line
    chart = over_time([("d1", {"": 4, "un": 1}), ("d2", {"": 2, "un": 2})])
    assert chart is not None and chart.peak == 4
    assert [s.name for s in chart.series] == ["", "un"]
    assert chart.series[0].points.split()[0].endswith(",4.0")  # the peak at the top
