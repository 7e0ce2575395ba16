"""Kafka through aiokafka: security settings, client start-up, the producer, readiness.

The only place aiokafka clients get their connection options; topic admin and lag are in
kafka_admin.py, reading and replaying dead letters in pipeline/deadletters.py."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context

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


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The partitions of `topic`, asking the broker when the client has not seen it."""
    await consumer._client.force_metadata_update()  # not cached for topics never subscribed
    return consumer.partitions_for_topic(topic) or set()
