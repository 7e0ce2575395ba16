"""The connector's SSRF guard: feed hosts resolving to internal addresses are refused."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.adapters.http import BlockedAddressError, fetch, is_public, make_client
from pipeline.errors import PermanentError, TransientError
from pipeline.settings import Settings


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) is public


def _fetch(settings: Settings, url: str) -> None:
    async def go() -> None:
        async with make_client(settings) as client:
            await fetch(client, url, 1_000_000, total_timeout=10)

    asyncio.run(go())


def test_loopback_and_localhost_refused_when_the_guard_is_on() -> None:
    guarded = Settings(feeds_refuse_private=True)
    for url in ("http://127.0.0.1:9/feed.xml", "http://localhost:9/feed.xml"):
        with pytest.raises(BlockedAddressError, match="non-public address") as caught:
            _fetch(guarded, url)
        assert isinstance(caught.value, PermanentError)  # the feed is backed off, not retried


def test_the_guard_is_off_by_default_for_the_local_demo() -> None:
    with pytest.raises(TransientError):  # nothing listens on port 9: a connection error
        _fetch(Settings(), "http://127.0.0.1:9/feed.xml")
