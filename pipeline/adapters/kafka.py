"""Kafka through aiokafka: producer, admin (topic creation), offsets and lag, readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context

from pipeline import topics
from pipeline.errors import ConfigError
from pipeline.settings import Settings

log = logging.getLogger(__name__)


class _HideSaslExchange(logging.Filter):
    """aiokafka logs every request and response at DEBUG, SaslAuthenticateRequest included,
    whose bytes under PLAIN are the password in clear (seen against the SASL test broker).
    Such records keep their line with the request's name instead of its content."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                f"<{type(a).__name__}, content hidden>"
                if type(a).__name__.startswith("SaslAuthenticate")
                else a
                for a in record.args
            )
        return True


# On the logger, not a handler: it applies whatever handlers logging is configured with.
logging.getLogger("aiokafka.conn").addFilter(_HideSaslExchange())


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """Certificate-verifying TLS context for SSL and SASL_SSL (the CA file, or the system's)."""
    if settings.kafka_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = str(settings.kafka_ca_file) if settings.kafka_ca_file else None
    context: ssl.SSLContext = create_ssl_context(cafile=cafile)
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every aiokafka client (Faust gets the same through
    pipeline.app.credentials)."""
    protocol = settings.kafka_protocol
    opts: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap}
    opts["security_protocol"] = protocol
    context = ssl_context(settings)
    if context is not None:
        opts["ssl_context"] = context
    if protocol.startswith("SASL"):
        if not (settings.kafka_username and settings.kafka_password):
            raise ConfigError(
                f"MEDIAMON_KAFKA_SECURITY_PROTOCOL={protocol} needs MEDIAMON_KAFKA_USERNAME "
                "and MEDIAMON_KAFKA_PASSWORD"
            )
        opts |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": settings.kafka_password.get_secret_value(),
        }
    return opts


async def refusal(settings: Settings) -> str | None:
    """Why the first bootstrap server refuses these settings: its TLS certificate fails
    verification, or it refuses the SASL login (naming the user and the mechanism, never the
    password). None when it accepts them or fails for another reason (away, a timeout):
    aiokafka reports every one of these as "Unable to bootstrap"."""
    opts = client_options(settings)
    protocol = opts.pop("security_protocol")
    if protocol == "PLAINTEXT":
        return None
    host, _, port = str(opts.pop("bootstrap_servers")).split(",")[0].strip().rpartition(":")
    try:
        conn = await create_conn(
            host, int(port), security_protocol=protocol, request_timeout_ms=10_000, **opts
        )
    except ssl.SSLCertVerificationError as exc:
        ca = settings.kafka_ca_file or "the system's CA certificates"
        return (
            f"Kafka at {host}:{port} failed TLS verification against {ca} "
            f"({exc.verify_message}); set MEDIAMON_KAFKA_CA_FILE to the CA that signed the "
            "broker's certificate, and use the host name the certificate names"
        )
    except (SaslAuthenticationFailed, UnsupportedSaslMechanismError) as exc:
        return (
            f"Kafka at {host}:{port} refused the login of user {settings.kafka_username!r} "
            f"with SASL {settings.kafka_sasl_mechanism} ({exc}); check "
            "MEDIAMON_KAFKA_USERNAME, MEDIAMON_KAFKA_PASSWORD and MEDIAMON_KAFKA_SASL_MECHANISM"
        )
    except (KafkaError, OSError, TimeoutError, ValueError):
        return None
    conn.close()
    return None


async def start_client(
    client: AIOKafkaProducer | AIOKafkaConsumer | AIOKafkaAdminClient, settings: Settings
) -> None:
    """`client.start()`; on failure the client is closed, and a refused login or an untrusted
    certificate is raised as a ConfigError that says so (aiokafka only logs the broker's
    answer and raises "Unable to bootstrap", as for a broker that is away)."""
    try:
        await client.start()
    except KafkaConnectionError:
        await (client.close() if isinstance(client, AIOKafkaAdminClient) else client.stop())
        why = await refusal(settings)
        if why is None:
            raise
        raise ConfigError(why) from None


def make_producer(settings: Settings) -> AIOKafkaProducer:
    """Durable producer: every write acknowledged by all in-sync replicas, no duplicates on
    retry, gzip (in the standard library, unlike lz4/zstd) to keep raw HTML small."""
    return AIOKafkaProducer(
        **client_options(settings),
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        linger_ms=20,
        request_timeout_ms=30_000,
        max_request_size=1_048_576,
    )


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every declared topic that does not exist yet; returns those it created."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await start_client(admin, settings)
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in topics.names(settings).values() if name not in existing]
        if wanted:
            new = [NewTopic(name, settings.topic_partitions, 1) for name in wanted]
            with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile
                await admin.create_topics(new)
        return wanted
    finally:
        await admin.close()


async def broker_ready(
    bootstrap: str, wait_seconds: float = 5.0, settings: Settings | None = None
) -> bool:
    """True when the broker answers a metadata request (with the settings' credentials and
    TLS when given: a secured broker refuses anonymous clients)."""
    opts = client_options(settings) | {"bootstrap_servers": bootstrap} if settings else {}
    admin = AIOKafkaAdminClient(
        **(opts or {"bootstrap_servers": bootstrap}),
        request_timeout_ms=int(wait_seconds * 1000),
    )
    try:
        async with asyncio.timeout(wait_seconds * 2):
            await admin.start()
            await admin.list_topics()
        return True
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        try:
            await admin.close()
        except Exception:  # closing a client that never connected can raise anything
            log.debug("admin close failed", exc_info=True)


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    topic: str
    partition: int
    start: int  # oldest offset still held
    end: int  # next offset to be written
    committed: int | None  # the consumer group's position, None if it never committed

    @property
    def messages(self) -> int:
        return self.end - self.start

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(0, self.end - self.committed)


async def partition_offsets(
    settings: Settings, topic_names: list[str], group: str | None = None
) -> list[PartitionOffsets]:
    """Held offsets per partition of the existing `topic_names`, and `group`'s committed
    position on each (consumer lag = end - committed)."""
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await start_client(admin, settings)
    await start_client(consumer, settings)
    try:
        existing = set(await admin.list_topics())
        parts = [
            TopicPartition(t, p)
            for t in topic_names
            if t in existing
            for p in sorted(consumer.partitions_for_topic(t) or await _partitions(consumer, t))
        ]
        if not parts:
            return []
        starts = await consumer.beginning_offsets(parts)
        ends = await consumer.end_offsets(parts)
        committed: dict[TopicPartition, Any] = {}
        if group:
            committed = await admin.list_consumer_group_offsets(group, partitions=parts)
        rows = []
        for tp in parts:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else None
            rows.append(PartitionOffsets(tp.topic, tp.partition, starts[tp], ends[tp], offset))
        return rows
    finally:
        await consumer.stop()
        await admin.close()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # not cached for topics never subscribed
    return consumer.partitions_for_topic(topic) or set()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def ref(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def source_topic(self) -> str | None:
        source = self.headers.get("mediamon-source", "")
        return source.rsplit("/", 2)[0] if source.count("/") >= 2 else None


async def read_topic(
    settings: Settings,
    topic: str,
    *,
    since_ms: int | None = None,
    group: str | None = None,
    idle_ms: int = 1500,
) -> list[DeadLetter]:
    """Every message of `topic` from `since_ms` (or from `group`'s committed position, or
    from the start) to the end as it was when called."""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await start_client(consumer, settings)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(await _partitions(consumer, topic))]
        if not parts:
            return []
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        if since_ms is not None:
            found = await consumer.offsets_for_times({tp: since_ms for tp in parts})
            for tp in parts:
                hit = found.get(tp)
                consumer.seek(tp, hit.offset if hit is not None else ends[tp])
        elif group is None:
            await consumer.seek_to_beginning(*parts)
        out: list[DeadLetter] = []
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*parts, timeout_ms=idle_ms)
            if not batch:
                break
            for records in batch.values():
                out += [
                    DeadLetter(
                        m.topic,
                        m.partition,
                        m.offset,
                        m.timestamp,
                        m.key,
                        m.value,
                        {k: v.decode("utf-8", "replace") for k, v in m.headers},
                    )
                    for m in records
                    if m.offset < ends[TopicPartition(m.topic, m.partition)]
                ]
        return sorted(out, key=lambda d: (d.timestamp_ms, d.partition, d.offset))
    finally:
        await consumer.stop()


async def commit_positions(settings: Settings, group: str, letters: list[DeadLetter]) -> None:
    """Record in `group` that `letters` are done (the next read starts after them)."""
    if not letters:
        return
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=group, enable_auto_commit=False
    )
    await start_client(consumer, settings)
    try:
        last: dict[TopicPartition, int] = {}
        for d in letters:
            tp = TopicPartition(d.topic, d.partition)
            last[tp] = max(last.get(tp, -1), d.offset)
        consumer.assign(list(last))
        await consumer.commit({tp: offset + 1 for tp, offset in last.items()})
    finally:
        await consumer.stop()
