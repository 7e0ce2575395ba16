"""Per-host pace (pipeline/adapters/hosts.py and the feeds file's `hosts:`): a host's own
spacing and concurrency, its subdomains, and what a robots.txt Crawl-delay may change."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from connectors.feeds import configured_hosts, load_feeds
from pipeline.adapters.hosts import HostGate, HostPolicy
from pipeline.errors import ConfigError

HOSTS = """\
feeds:
  - id: wire
    url: https://wire.example.org/atom.xml
hosts:
  Wire.Example.org:
    spacing: 0
    concurrency: 4
  slow.example.net:
    spacing: 5
"""


def test_a_policy_covers_its_host_and_subdomains_and_nothing_else() -> None:
    gate = HostGate(
        1.0,
        per_host=1,
        policies={
            "example.org": HostPolicy(spacing=0.2, concurrency=4),
            "slow.example.org": HostPolicy(spacing=5),
            "10.0.0.1": HostPolicy(spacing=0),
        },
    )
    assert (gate.base_spacing("www.example.org:8443"), gate.concurrency("www.example.org")) == (
        0.2,
        4,
    )
    # the most specific policy wins; what it leaves out is the deployment's default
    assert (gate.base_spacing("a.slow.example.org"), gate.concurrency("slow.example.org")) == (
        5.0,
        1,
    )
    assert gate.base_spacing("notexample.org") == 1.0  # a suffix is not a parent domain
    assert gate.base_spacing("10.0.0.1:80") == 0.0
    assert gate.base_spacing("0.0.1") == 1.0  # an address has no parent domain


def test_a_crawl_delay_slows_a_host_down_but_never_below_its_policy() -> None:
    gate = HostGate(0.0, policies={"polite.example": HostPolicy(spacing=2.0)})
    gate.space("polite.example", 0.5)
    assert gate._spacing["polite.example"] == 2.0
    gate.space("polite.example", 9.0)
    assert gate._spacing["polite.example"] == 9.0
    assert gate.back_off("polite.example", retry_after=0.0) == 2.0


def test_a_host_with_its_own_concurrency_is_served_in_parallel_others_one_at_a_time() -> None:
    gate = HostGate(0.25, policies={"wire.example": HostPolicy(spacing=0, concurrency=3)})
    busy: dict[str, int] = {"wire.example": 0, "small.example": 0}
    most: dict[str, int] = dict(busy)
    starts: dict[str, list[float]] = {"wire.example": [], "small.example": []}

    async def request(host: str) -> None:
        async with gate.slot(host):
            starts[host].append(time.monotonic())
            busy[host] += 1
            most[host] = max(most[host], busy[host])
            await asyncio.sleep(0.1)
            busy[host] -= 1

    async def main() -> None:
        await asyncio.gather(*(request(h) for h in busy for _ in range(3)))

    asyncio.run(main())
    assert most == {"wire.example": 3, "small.example": 1}
    gaps = [b - a for a, b in itertools.pairwise(starts["small.example"])]
    assert all(gap >= 0.1 + 0.25 - 0.02 for gap in gaps), gaps  # answer, then the spacing
    assert starts["wire.example"][-1] - starts["wire.example"][0] < 0.05


def test_the_feeds_file_names_hosts_once_in_lower_case(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(HOSTS)
    hosts = configured_hosts(path)
    assert hosts == {
        "wire.example.org": HostPolicy(spacing=0, concurrency=4),
        "slow.example.net": HostPolicy(spacing=5),
    }
    assert configured_hosts(tmp_path / "absent.yaml") == {}


@pytest.mark.parametrize(
    ("hosts", "says"),
    [
        ("  https://wire.example.org/: {spacing: 1}\n", "is not a host name"),
        ("  wire.example.org: {spacing: -1}\n", "greater than or equal to 0"),
        ("  wire.example.org: {concurrency: 0}\n", "greater than or equal to 1"),
        ("  wire.example.org: {pace: 1}\n", "Extra inputs are not permitted"),
        ("  wire.example.org: {}\n  WIRE.example.org: {}\n", "named twice"),
    ],
)
def test_a_bad_host_policy_is_refused_with_its_reason(
    tmp_path: Path, hosts: str, says: str
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds: []\nhosts:\n" + hosts)
    with pytest.raises(ConfigError, match=says):
        load_feeds(path)
