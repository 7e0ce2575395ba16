"""The SSRF guard: hosts resolving to internal addresses are refused at connect time, on
every redirect hop, and a DNS answer that changes after a check cannot get through. No test
here sends a packet anywhere but to loopback: names resolve through a stub, and the only
connections made go to a local server standing in for a public address."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore
import httpx
import pytest

from pipeline.adapters.http import (
    BlockedAddressError,
    PublicOnlyTransport,
    fetch,
    is_public,
    make_client,
)
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
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("100.64.1.1", False),  # carrier-grade NAT, not the internet
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) is public


def _fetch(settings: Settings, url: str) -> None:
    async def go() -> None:
        async with make_client(settings) as client:
            await fetch(client, url, 1_000_000, total_timeout=10)

    asyncio.run(go())


def test_loopback_and_localhost_refused_by_default() -> None:
    guarded = Settings(allow_private_hosts="")
    assert guarded.feeds_refuse_private
    for url in ("http://127.0.0.1:9/feed.xml", "http://localhost:9/feed.xml"):
        with pytest.raises(BlockedAddressError, match="non-public address") as caught:
            _fetch(guarded, url)
        assert isinstance(caught.value, PermanentError)  # the feed is backed off, not retried


def test_hosts_the_operator_names_are_trusted_and_only_those() -> None:
    trusting = Settings(allow_private_hosts=" LocalHost ,10.0.0.5")
    assert trusting.private_hosts_allowed == {"localhost", "10.0.0.5"}
    with pytest.raises(TransientError):  # let through: nothing listens on port 9
        _fetch(trusting, "http://localhost:9/feed.xml")
    with pytest.raises(BlockedAddressError):  # the same machine by another name is not
        _fetch(trusting, "http://127.0.0.1:9/feed.xml")


def test_the_guard_can_be_turned_off() -> None:
    with pytest.raises(TransientError):  # nothing listens on port 9: a connection error
        _fetch(
            Settings(feeds_refuse_private=False, allow_private_hosts=""),
            "http://127.0.0.1:9/feed.xml",
        )


PUBLIC = "93.184.216.34"  # stands for the internet; connections to it go to a local server


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/to-internal":
            self.send_response(302)
            self.send_header("Location", "http://internal.example/admin")
            self.end_headers()
            return
        body = b"<rss><channel><title>ok</title></channel></rss>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class _Internet(httpcore.AsyncNetworkBackend):
    """The only way out in these tests: PUBLIC goes to the local site; any other address
    fails the test (a refused host must never be connected to)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inner = httpcore.AnyIOBackend()
        self.connected: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host != PUBLIC:
            pytest.fail(f"a connection to {host} was attempted")
        self.connected.append(host)
        return await self.inner.connect_tcp("127.0.0.1", self.port, *args, **kwargs)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
        pytest.fail("a unix socket was attempted")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _guarded_get(port: int, answers: dict[str, list[list[str]]], url: str) -> _Internet:
    """GET through the guard with a stub resolver (each name's answers in turn)."""
    internet = _Internet(port)

    async def resolver(host: str, _port: int) -> list[str]:
        return answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]

    transport = PublicOnlyTransport(resolver)
    transport._pool._network_backend._inner = internet  # type: ignore[attr-defined]

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
            await fetch(client, url, 1_000_000, total_timeout=10)

    asyncio.run(go())
    return internet


def test_a_public_host_is_reached_at_the_address_checked(site: int) -> None:
    internet = _guarded_get(site, {"news.example": [[PUBLIC]]}, f"http://news.example:{site}/")
    assert internet.connected == [PUBLIC]


@pytest.mark.parametrize("answer", [["10.0.0.5"], ["127.0.0.1"], [PUBLIC, "169.254.169.254"]])
def test_a_host_with_any_internal_address_is_refused_before_connecting(
    site: int, answer: list[str]
) -> None:
    with pytest.raises(BlockedAddressError, match="non-public address"):
        _guarded_get(site, {"evil.example": [answer]}, f"http://evil.example:{site}/")


def test_a_redirect_hop_to_an_internal_host_is_refused(site: int) -> None:
    answers = {"news.example": [[PUBLIC]], "internal.example": [["10.1.2.3"]]}
    with pytest.raises(BlockedAddressError, match=r"10\.1\.2\.3"):
        _guarded_get(site, answers, f"http://news.example:{site}/to-internal")


def test_a_dns_answer_that_changes_after_the_check_does_not_get_through(site: int) -> None:
    """Rebinding: public when first asked, loopback when asked again. Each connection
    resolves once and connects to what it checked, so the second request is refused."""
    answers = {"rebind.example": [[PUBLIC], ["127.0.0.1"]]}
    internet = _guarded_get(site, answers, f"http://rebind.example:{site}/")
    assert internet.connected == [PUBLIC]
    with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1"):
        _guarded_get(site, answers, f"http://rebind.example:{site}/")
