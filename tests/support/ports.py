"""The one registry of fixed ports: a named block per suite, no port in two blocks
(tests/unit/test_ports.py checks it), so suites, benchmarks and a running demo can share a
machine. Tests that only need some port take a free one (tests.support.net.free_port)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.settings import Settings


@dataclass(frozen=True)
class PortBlock:
    """The ports one suite's servers listen on: Kafka (client and controller listeners),
    Elasticsearch (HTTP and transport) when it has one, and any others by name."""

    name: str
    kafka: int
    kafka_controller: int
    es: int | None = None
    es_transport: int | None = None
    others: Mapping[str, int] = field(default_factory=dict)

    def ports(self) -> dict[str, int]:
        """Every port of the block by its role."""
        named = {
            "kafka": self.kafka,
            "kafka_controller": self.kafka_controller,
            "es": self.es,
            "es_transport": self.es_transport,
        }
        return {**{k: v for k, v in named.items() if v is not None}, **self.others}

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka}"

    @property
    def es_url(self) -> str:
        if self.es is None:
            raise ValueError(f"the {self.name} block has no Elasticsearch")
        return f"http://127.0.0.1:{self.es}"

    def stack_vars(self) -> dict[str, str]:
        """The MEDIAMON_* variables that put `mediamon stack` and its clients on this block."""
        out = {
            "MEDIAMON_KAFKA_PORT": str(self.kafka),
            "MEDIAMON_KAFKA_CONTROLLER_PORT": str(self.kafka_controller),
        }
        if self.es is not None and self.es_transport is not None:
            out["MEDIAMON_ES_PORT"] = str(self.es)
            out["MEDIAMON_ES_TRANSPORT_PORT"] = str(self.es_transport)
        out["MEDIAMON_KAFKA_BOOTSTRAP"] = self.kafka_bootstrap
        if self.es is not None:
            out["MEDIAMON_ES_URL"] = self.es_url
        return out


def _default(name: str) -> int:
    value = Settings.model_fields[name].default
    assert isinstance(value, int), name
    return value


# `make demo` / `mediamon stack up` with no configuration: pipeline/settings.py's defaults
# (read from there, so the registry cannot drift from them).
DEMO = PortBlock(
    "demo",
    kafka=_default("kafka_port"),  # 9092
    kafka_controller=_default("kafka_controller_port"),  # 9093
    es=_default("es_port"),  # 9200
    es_transport=_default("es_transport_port"),  # 9300
    others={
        "demo_feeds": _default("demo_feed_port"),  # 8765
        "connector_metrics": _default("connector_metrics_port"),  # 9464
        "worker_metrics": _default("worker_metrics_port"),  # 9465
        "worker_web": _default("worker_web_port"),  # 6066, Faust's web server when enabled
    },
)

# tests/integration: the stack every integration test shares (tests/integration/conftest.py)
INTEGRATION = PortBlock(
    "integration", kafka=19092, kafka_controller=19093, es=19200, es_transport=19300
)

# tests/faults: its own stack, so stopping a server never touches the integration one, and a
# second Elasticsearch node with a tiny write queue for the 429 scenario
FAULTS = PortBlock(
    "faults",
    kafka=29092,
    kafka_controller=29093,
    es=29200,
    es_transport=29300,
    others={"es_429": 29201, "es_429_transport": 29301},
)

# tests/faults/test_cluster.py: 3 Kafka nodes and 2 Elasticsearch nodes (deploy/cluster.py:
# Kafka node i on the base ports + 10*(i-1), Elasticsearch node i on the base + (i-1))
CLUSTER = PortBlock(
    "cluster",
    kafka=27092,
    kafka_controller=27093,
    es=27200,
    es_transport=27300,
    others={
        "kafka_2": 27102,
        "kafka_2_controller": 27103,
        "kafka_3": 27112,
        "kafka_3_controller": 27113,
        "es_2": 27201,
        "es_2_transport": 27301,
    },
)

# tests/integration/test_kafka_sasl.py: a broker that requires SASL, plain and over TLS
# (deploy/kafka_sasl.py takes its ports from the caller's Settings)
KAFKA_SASL = PortBlock(
    "kafka-sasl", kafka=59092, kafka_controller=59093, others={"kafka_tls": 59094}
)

# tests/integration/test_security.py: Elasticsearch with x-pack security and TLS (and, for
# Kafka's ACLs, a broker of its own)
SECURE = PortBlock(
    "secure",
    kafka=58092,
    kafka_controller=58093,
    es=58200,
    es_transport=58300,
    others={"kafka_tls": 58094, "worker_metrics": 58465},
)

# benchmarks/: their own stack, so a benchmark never stops a test's servers
BENCHMARKS = PortBlock(
    "benchmarks", kafka=39092, kafka_controller=39093, es=39200, es_transport=39300
)

# tests/containers (make test-containers): the stack the image's containers talk to over the
# host's network
CONTAINERS = PortBlock(
    "containers", kafka=49092, kafka_controller=49093, es=49200, es_transport=49300
)

BLOCKS: tuple[PortBlock, ...] = (
    DEMO,
    INTEGRATION,
    FAULTS,
    CLUSTER,
    KAFKA_SASL,
    SECURE,
    BENCHMARKS,
    CONTAINERS,
)
