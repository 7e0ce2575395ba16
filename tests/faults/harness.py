"""What the fault-injection scenarios share: one namespace per scenario on the fault stack,
generated articles and feeds, the worker and connector as real processes, a webhook
receiver that counts alert deliveries, and the final checks (indexed exactly once, dead
letters with their reasons, alerts once) that end every scenario."""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar
from xml.sax.saxutils import escape

from aiokafka import AIOKafkaProducer
from elasticsearch.helpers import async_scan

from deploy.processes import ServiceProcess
from pipeline import topics
from pipeline.adapters.elastic import make_client
from pipeline.deadletters import DeadLetter, read_topic
from pipeline.schema import RawArticle
from pipeline.settings import Settings
from pipeline.stages.canonical import article_id
from pipeline.worker import prepare
from tests.support.feedhost import FeedHost, Route
from tests.support.paths import SAMPLES
from tests.support.settings import settings_from_env
from tests.support.webhook import WebhookReceiver

T = TypeVar("T")

# Every scenario's rules file: one keyword rule, matching the articles that carry KEYWORD.
KEYWORD = "zebrafish"
RULE_ID = "zebrafish-watch"
ALERT_EVERY = 7  # one article in seven carries the keyword
# The worker's Kafka session timeout (Faust reads BROKER_SESSION_TIMEOUT from the
# environment): how long a SIGKILLed member keeps its partitions. Faust's default is 60 s.
SESSION_TIMEOUT = "10"

_WORDS = [
    "council",
    "minister",
    "border",
    "talks",
    "harbour",
    "grain",
    "convoy",
    "delegation",
    "summit",
    "treaty",
    "rail",
    "bridge",
    "election",
    "budget",
    "drought",
    "river",
    "valley",
    "province",
    "mayor",
    "court",
    "appeal",
    "factory",
    "strike",
    "union",
    "pension",
    "tariff",
    "export",
    "import",
    "vessel",
    "port",
    "airline",
    "runway",
    "hospital",
    "clinic",
    "vaccine",
    "school",
    "teacher",
    "student",
    "museum",
    "archive",
    "festival",
    "theatre",
    "orchestra",
    "stadium",
    "league",
    "coach",
    "transfer",
    "forecast",
    "storm",
    "flood",
    "harvest",
    "wheat",
    "cotton",
    "copper",
    "pipeline",
    "refinery",
    "reactor",
    "turbine",
    "solar",
    "wind",
    "battery",
    "startup",
    "investor",
    "bank",
    "bond",
    "currency",
    "inflation",
    "deficit",
    "audit",
    "auditor",
    "census",
    "survey",
    "poll",
    "campaign",
    "ballot",
    "senate",
    "parliament",
    "committee",
    "hearing",
    "witness",
    "verdict",
    "prison",
    "police",
    "patrol",
    "rescue",
    "volunteer",
    "charity",
    "donor",
    "refugee",
    "camp",
    "shelter",
    "border",
    "checkpoint",
    "road",
    "tunnel",
    "ferry",
    "cargo",
    "container",
    "warehouse",
    "retail",
    "market",
    "price",
    "salary",
    "wage",
    "strike",
    "protest",
    "rally",
    "march",
    "ceremony",
    "anniversary",
    "monument",
    "library",
    "novel",
    "author",
    "poet",
    "painter",
    "gallery",
    "sculpture",
    "cathedral",
    "mosque",
    "temple",
    "pilgrim",
    "tourist",
    "hotel",
    "resort",
    "island",
    "coast",
    "glacier",
    "mountain",
    "canyon",
    "desert",
    "oasis",
    "forest",
    "reserve",
    "wildlife",
    "ranger",
    "poacher",
    "whale",
    "dolphin",
    "eagle",
]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


@dataclass(frozen=True)
class Item:
    """One generated article: its link decides its id (the connector's id function)."""

    link: str
    title: str
    body: str
    published: datetime

    @property
    def id(self) -> str:
        return article_id(self.link, self.link)

    @property
    def alerts(self) -> bool:
        return KEYWORD in self.title


def make_items(prefix: str, start: int, count: int, seed: int = 7) -> list[Item]:
    """Distinct articles (random bodies, so no two are near-duplicates of one story); every
    ALERT_EVERY-th carries the rule's keyword in its title."""
    out = []
    now = datetime.now(UTC).replace(microsecond=0)
    for n in range(start, start + count):
        rng = random.Random(f"{seed}:{prefix}:{n}")
        tag = f" {KEYWORD} sighting" if n % ALERT_EVERY == 0 else ""
        out.append(
            Item(
                link=f"https://{prefix}.news.example/story/{n}",
                title=f"{words(rng, 5).capitalize()}{tag} report {n}",
                body=f"{words(rng, 40).capitalize()}. {words(rng, 25).capitalize()}.",
                published=now - timedelta(minutes=n % 600),
            )
        )
    return out


def raw_article(item: Item) -> RawArticle:
    return RawArticle(
        id=item.id,
        url=item.link,
        guid=item.link,
        title=item.title,
        content_html=f"<p>{item.body}</p>",
        published=item.published,
        source_name="Generated Wire",
        lang_hint="en",
    )


def rss_of(items: Iterable[Item], title: str) -> bytes:
    body = "".join(
        f"<item><title>{escape(i.title)}</title><link>{i.link}</link><guid>{i.link}</guid>"
        f"<pubDate>{format_datetime(i.published, usegmt=True)}</pubDate>"
        f"<description>{escape(f'<p>{i.body}</p>')}</description></item>"
        for i in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://news.example/</link>{body}"
        f"</channel></rss>"
    ).encode()


@dataclass
class Result:
    """One row of the summary table."""

    scenario: str
    expected: int
    indexed: int = 0
    duplicates: int = 0
    missing: int = 0
    dead_lettered: int = 0
    alerts_expected: int = 0
    alerts_sent: int = 0
    alert_duplicates: int = 0
    alert_repeats: int = 0  # the same notification (same id) received again after a kill
    recovery_s: float | None = None
    duration_s: float = 0.0
    outcome: str = "failed"
    note: str = ""


RESULTS: list[Result] = []


def write_summary(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in RESULTS], indent=2) + "\n")


def summary_lines() -> list[str]:
    head = (
        "scenario",
        "expected",
        "indexed",
        "dupl.",
        "missing",
        "DLQ",
        "alerts exp/sent/dupl/rep",
        "recovery s",
        "total s",
        "outcome",
    )
    rows = [head] + [
        (
            r.scenario,
            str(r.expected),
            str(r.indexed),
            str(r.duplicates),
            str(r.missing),
            str(r.dead_lettered),
            f"{r.alerts_expected}/{r.alerts_sent}/{r.alert_duplicates}/{r.alert_repeats}",
            "-" if r.recovery_s is None else f"{r.recovery_s:.1f}",
            f"{r.duration_s:.0f}",
            r.outcome[:70],
        )
        for r in RESULTS
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


HOOK_PATH = "/hook"


class Hook(WebhookReceiver):
    """The scenarios' webhook receiver (started): which alert notes carried which articles."""

    def __init__(self) -> None:
        super().__init__()
        self.start()

    def deliveries(self) -> Counter[tuple[str, str]]:
        """(rule, article) -> how many distinct notes (alert or digest, told apart by their
        stable id) carried it: what a receiver that drops a repeated id sees."""
        notes = {n["id"]: n for n in self.bodies(HOOK_PATH)}.values()
        return Counter((n["rule"]["id"], a["id"]) for n in notes for a in n["articles"])

    def repeats(self) -> int:
        """Notes received again with the same id: the sender's unavoidable window between a
        POST and its own record of it (a kill inside it re-sends, with the same id)."""
        ids = Counter(n["id"] for n in self.bodies(HOOK_PATH))
        return sum(n - 1 for n in ids.values())


def rules_yaml(hook_url: str) -> str:
    # throttle far above the volume: every match is its own notification, no digests
    return f"""\
channels:
  hook:
    type: webhook
    url: {hook_url}
rules:
  - id: {RULE_ID}
    name: Zebrafish watch
    query: {KEYWORD}
    channels: [hook]
    throttle: {{max: 1000000, window: 24h}}
"""


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class Scenario:
    """One scenario's namespace (topics, indices, consumer group, connector state) on the
    fault stack, its processes and what it expects."""

    name: str
    base: dict[str, str]
    logs: Path
    hook: Hook
    vars: dict[str, str] = field(init=False)
    settings: Settings = field(init=False)
    expected: set[str] = field(default_factory=set)
    expected_alerts: set[str] = field(default_factory=set)
    processes: list[ServiceProcess] = field(default_factory=list)
    ended: list[ServiceProcess] = field(default_factory=list)  # stopped or killed on purpose
    worker_kills: int = 0
    result: Result = field(init=False)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        namespace = f"f{uuid.uuid4().hex[:8]}-"
        rules = self.logs / "rules.yaml"
        (self.logs / "state").mkdir(parents=True, exist_ok=True)
        rules.write_text(rules_yaml(self.hook.url(HOOK_PATH)))
        self.vars = {
            **self.base,
            "MEDIAMON_NAMESPACE": namespace,
            "MEDIAMON_STATE_DIR": str(self.logs / "state"),
            "MEDIAMON_RULES_FILE": str(rules),
            "MEDIAMON_WORKER_METRICS_PORT": "0",
            "MEDIAMON_CONNECTOR_METRICS_PORT": "0",
            "MEDIAMON_FEEDS_FILE": str(self.logs / "feeds.yaml"),
            "MEDIAMON_HOST_SPACING": "0",
            # the flows' items link to made-up hosts: their pages are not what is tested
            "MEDIAMON_FETCH_PAGES": "false",
            "BROKER_SESSION_TIMEOUT": SESSION_TIMEOUT,
        }
        self.settings = settings_from_env(self.vars)
        self.result = Result(self.name, 0)

    # -- set-up and processes -------------------------------------------------------------

    def prepare(self) -> None:
        run(prepare(self.settings))

    def expect(self, items: Iterable[Item]) -> None:
        for item in items:
            self.expected.add(item.id)
            if item.alerts:
                self.expected_alerts.add(item.id)

    def worker(self, name: str, **extra: str) -> ServiceProcess:
        proc = ServiceProcess(
            name, ["worker"], {**self.vars, **extra}, self.logs / f"{name}.log"
        ).start()
        self.processes.append(proc)
        return proc

    def connector(self, name: str, **extra: str) -> ServiceProcess:
        proc = ServiceProcess(
            name, ["connectors", "run"], {**self.vars, **extra}, self.logs / f"{name}.log"
        ).start()
        self.processes.append(proc)
        return proc

    def write_feeds(self, urls: dict[str, str], poll_interval: float = 2.0) -> None:
        lines = ["feeds:"]
        for feed_id, url in urls.items():
            lines += [
                f"  - id: {feed_id}",
                f"    url: {url}",
                f"    poll_interval: {poll_interval}",
                "    min_interval: 1",
                f"    max_interval: {poll_interval}",
            ]
        (self.logs / "feeds.yaml").write_text("\n".join(lines) + "\n")

    def produce(self, articles: Iterable[RawArticle], pace: float = 0.0) -> None:
        """Produce raw articles (key = id) as the connector would; `pace` seconds between
        sends of 50 gives a steady flow instead of one burst."""
        run(produce_raw(self.settings, list(articles), pace))

    def kill(self, proc: ServiceProcess) -> None:
        """SIGKILL: no chance to flush, commit or say goodbye."""
        self.ended.append(proc)
        if "worker" in proc.name:
            self.worker_kills += 1
        proc.kill()

    def sigterm(self, proc: ServiceProcess, bound: float) -> tuple[int | None, float]:
        """SIGTERM; the exit code and how long the process took to exit (SIGKILL after
        `bound` + 30 s, so a hung process does not hang the suite)."""
        self.ended.append(proc)
        started = time.monotonic()
        code = proc.stop(bound + 30)
        return code, time.monotonic() - started

    def check_alive(self) -> None:
        """Fail at once when a process the scenario did not stop has exited."""
        dead = [p for p in self.processes if p not in self.ended and not p.running]
        if dead:
            raise AssertionError(
                f"{self.name}: {', '.join(p.name for p in dead)} exited unexpectedly\n"
                + self.tails()
            )

    def stop_all(self) -> None:
        for proc in self.processes:
            proc.stop(10)

    def tails(self, lines: int = 25) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.tail(lines)}" for p in self.processes)

    # -- observing ------------------------------------------------------------------------

    def indexed(self) -> Counter[str]:
        """Every document id under the articles alias, counted across monthly indices."""
        return run(scan_ids(self.settings))

    def wait_indexed(self, timeout: float, since: float | None = None) -> float:
        """Wait until every expected id is indexed; seconds since `since` (the fault's end)."""
        deadline = time.monotonic() + timeout
        got: Counter[str] = Counter()
        while time.monotonic() < deadline:
            self.check_alive()
            got = self.indexed()
            if self.expected <= set(got):
                return time.monotonic() - (since if since is not None else self.started)
            time.sleep(1.0)
        missing = len(self.expected - set(got))
        raise AssertionError(
            f"{self.name}: {missing} of {len(self.expected)} expected articles not indexed "
            f"after {timeout:.0f}s\n{self.tails()}"
        )

    def wait_alerts(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.expected_alerts <= {a for (_, a) in self.hook.deliveries()}:
                return
            time.sleep(0.5)

    def dead_letters(self, topic: str) -> list[DeadLetter]:
        return run(read_topic(self.settings, self.settings.topic(topic)))

    def raw_keys(self) -> Counter[str]:
        letters = run(read_topic(self.settings, self.settings.topic(topics.RAW)))
        return Counter((d.key or b"").decode() for d in letters)

    # -- the checks every scenario ends with ---------------------------------------------

    def finish(
        self,
        recovery: float | None,
        dead_lettered: int = 0,
        settle: float = 3.0,
        alert_timeout: float = 60.0,
    ) -> None:
        """Every expected article indexed exactly once, nothing else indexed, every matching
        article alerted exactly once, nothing dead-lettered unless the scenario expects it."""
        self.wait_alerts(alert_timeout)
        time.sleep(settle)  # a late duplicate (document or alert) gets its chance to show
        ids = self.indexed()
        deliveries = self.hook.deliveries()
        ours = {a: n for (rule, a), n in deliveries.items() if rule == RULE_ID}
        dlq = sum(
            len(self.dead_letters(t))
            for t in (topics.RAW_DLQ, topics.ENRICHED_DLQ, topics.ALERTS_DLQ)
        )
        r = self.result
        r.expected = len(self.expected)
        r.indexed = len(self.expected & set(ids))
        r.duplicates = sum(1 for n in ids.values() if n > 1)
        r.missing = len(self.expected - set(ids))
        r.dead_lettered = dlq
        r.alerts_expected = len(self.expected_alerts)
        r.alerts_sent = len(self.expected_alerts & set(ours))
        r.alert_duplicates = sum(n - 1 for n in ours.values() if n > 1)
        r.alert_repeats = self.hook.repeats()
        r.recovery_s = recovery
        r.duration_s = time.monotonic() - self.started
        problems = []
        if r.duplicates:
            problems.append(f"{r.duplicates} ids indexed more than once")
        if r.missing:
            problems.append(f"{r.missing} expected ids not indexed")
        unexpected = set(ids) - self.expected
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected ids indexed")
        if r.alerts_sent != r.alerts_expected:
            problems.append(f"alerts: {r.alerts_sent} of {r.alerts_expected} delivered")
        if r.alert_duplicates:
            dupes = sorted(a for a, n in ours.items() if n > 1)[:5]
            problems.append(f"{r.alert_duplicates} duplicate alert deliveries, e.g. {dupes}")
        # A worker killed between a POST and its flushed "sent" mark sends that note again
        # after the restart, with the same id (docs/alerts.md): at most the notes it had in
        # flight, and never without a kill.
        allowed = self.worker_kills * self.settings.alert_delivery_concurrency
        if r.alert_repeats > allowed:
            problems.append(f"{r.alert_repeats} notes received twice ({allowed} allowed)")
        if set(ours) - self.expected_alerts:
            problems.append(f"{len(set(ours) - self.expected_alerts)} unexpected alerts")
        if dlq != dead_lettered:
            problems.append(f"{dlq} dead letters, {dead_lettered} expected")
        r.outcome = "failed: " + "; ".join(problems) if problems else "ok"
        assert not problems, f"{self.name}: {'; '.join(problems)}\n{self.tails()}"


async def produce_raw(settings: Settings, articles: list[RawArticle], pace: float) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        linger_ms=20,
    )
    await producer.start()
    try:
        topic = settings.topic(topics.RAW)
        for n, article in enumerate(articles):
            await producer.send(topic, article.to_json(), key=article.id.encode())
            if pace and n % 50 == 49:
                await asyncio.sleep(pace)
        await producer.flush()
    finally:
        await producer.stop()


async def scan_ids(settings: Settings) -> Counter[str]:
    es = make_client(settings)
    try:
        await es.indices.refresh(index=settings.articles_alias)
        ids: Counter[str] = Counter()
        async for hit in async_scan(
            es, index=settings.articles_alias, query={"query": {"match_all": {}}}, _source=False
        ):
            ids[hit["_id"]] += 1
        return ids
    except Exception:  # the server may be away on purpose: nothing seen yet
        return Counter()
    finally:
        await es.close()


def handled_during_recovery(log_text: str) -> list[str]:
    """The alert and index lines a worker logged between a new assignment and "Worker ready":
    its partitions are paused then, and whatever it handles it is given again after the
    recovery's seek (stop 12: alerts sent twice in a rebalance)."""
    found: list[str] = []
    recovering = False
    for line in log_text.splitlines():
        if "Setting newly assigned partitions" in line:
            recovering = True
        elif "Worker ready" in line:
            recovering = False
        elif recovering and re.search(r"alert \S+: sent|index batch=", line):
            found.append(line)
    return found


def wait_until(check: Callable[[], T], timeout: float, what: str, scenario: Scenario) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scenario.check_alive()
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{scenario.name}: timed out waiting for {what}\n{scenario.tails()}")


class FeedFlow:
    """Generated feeds on the local feed host that grow while the scenario runs: each feed
    starts with `initial` items and gains `per_tick` every `tick` seconds up to `total`."""

    def __init__(
        self,
        host: FeedHost,
        prefix: str,
        feeds: int,
        total: int,
        initial: int,
        per_tick: int = 1,
        tick: float = 1.0,
    ) -> None:
        self.host = host
        self.prefix = prefix
        self.items = {f: make_items(f"{prefix}{f}", 0, total // feeds) for f in range(feeds)}
        self.shown = dict.fromkeys(self.items, initial)
        self.per_tick = per_tick
        self.tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._grow, daemon=True)
        for f in self.items:
            self._publish(f)

    def path(self, f: int) -> str:
        return f"/{self.prefix}/feed{f}.xml"

    def urls(self) -> dict[str, str]:
        return {f"{self.prefix}-{f}": self.host.url(self.path(f)) for f in self.items}

    def _publish(self, f: int) -> None:
        # newest first, at most 50 entries: a feed shows its latest items, as real ones do
        shown = self.items[f][: self.shown[f]][::-1][:50]
        etag = f'"{self.prefix}-{f}-{self.shown[f]}"'
        self.host.routes[self.path(f)] = Route(body=rss_of(shown, f"{self.prefix} {f}"), etag=etag)

    def _grow(self) -> None:
        while not self._stop.wait(self.tick):
            if self.complete:
                return
            for f, items in self.items.items():
                if self.shown[f] < len(items):
                    self.shown[f] = min(len(items), self.shown[f] + self.per_tick)
                    self._publish(f)

    @property
    def complete(self) -> bool:
        return all(self.shown[f] == len(items) for f, items in self.items.items())

    def all_items(self) -> list[Item]:
        return [i for items in self.items.values() for i in items]

    def start(self) -> FeedFlow:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def serve_samples(host: FeedHost) -> dict[str, str]:
    """The sample feeds on the local host: feed id -> URL."""
    urls = {}
    for path in sorted(SAMPLES.iterdir()):
        ctype = "application/atom+xml" if path.suffix == ".atom" else "application/rss+xml"
        host.routes[f"/samples/{path.name}"] = Route(body=path.read_bytes(), content_type=ctype)
        urls[f"sample-{path.stem}"] = host.url(f"/samples/{path.name}")
    return urls


def sample_ids(host: FeedHost) -> set[str]:
    """The sample feeds' ids as the connector computes them from the URLs it polls."""
    from connectors.normalize import parse_feed

    ids: set[str] = set()
    for path in sorted(SAMPLES.iterdir()):
        ids |= {
            a.id for a in parse_feed(path.read_bytes(), host.url(f"/samples/{path.name}")).articles
        }
    return ids


@contextmanager
def scenario_result(scenario: Scenario) -> Iterator[Scenario]:
    """Record the scenario's row in the summary whatever happens, stop its processes."""
    RESULTS.append(scenario.result)
    try:
        yield scenario
    except BaseException as exc:
        scenario.result.expected = len(scenario.expected)
        if scenario.result.outcome == "failed":
            scenario.result.note = str(exc).splitlines()[0][:200] if str(exc) else repr(exc)
        scenario.result.duration_s = time.monotonic() - scenario.started
        raise
    finally:
        scenario.stop_all()


# -- flows the scenarios share (the fault suite and tests/containers) ------------------------


def in_background(target: object, *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


FEEDS = 40


def connector_flow(s: Scenario, host: FeedHost, prefix: str, total: int, tick: float) -> FeedFlow:
    """Generated feeds (two items each at first, one more every `tick` seconds once started)
    plus the sample feeds."""
    flow = FeedFlow(host, prefix, feeds=FEEDS, total=total, initial=2, per_tick=1, tick=tick)
    for f in range(FEEDS):  # a poll takes a moment: a kill or a signal lands mid-poll
        host.routes[flow.path(f)].delay = 0.03
    s.write_feeds({**flow.urls(), **serve_samples(host)})
    s.expect(flow.all_items())
    s.expected |= sample_ids(host)
    return flow


def start_flowing(s: Scenario, flow: FeedFlow, ticks: int) -> None:
    """Once the first items are indexed (worker and connector are up), the feeds start to
    grow; returns after `ticks` rounds of growth have been indexed."""
    first = len(s.expected) - len(flow.all_items()) + FEEDS * 2
    wait_until(lambda: len(s.indexed()) >= first, 120, "the first items indexed", s)
    flow.start()
    wait_until(lambda: len(s.indexed()) >= first + ticks * FEEDS, 120, "the flow", s)
