"""The one settings class: every knob, read from `MEDIAMON_*` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal, overload

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.failures import RetryPolicy


def _default_cache_dir() -> Path:
    # Outside the checkout so a fresh clone (and CI) reuses the jars already resolved. As root
    # the servers' files must be readable by the unprivileged user Elasticsearch runs as,
    # which root's home (mode 0700) is not.
    if os.geteuid() == 0:
        return Path("/var/cache/mediamon")
    return Path.home() / ".cache" / "mediamon"


class Namespaced:
    """A name the settings' namespace prefixes (an index, an alias, the app id): a read-only
    attribute of Settings, declared in one line."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, settings: None, owner: type[Settings]) -> Namespaced: ...
    @overload
    def __get__(self, settings: Settings, owner: type[Settings]) -> str: ...
    def __get__(self, settings: Settings | None, owner: type[Settings]) -> Namespaced | str:
        return self if settings is None else settings.topic(self.name)


class Settings(BaseSettings):
    """Configuration for the connector, the worker, the local stack and the CLI."""

    model_config = SettingsConfigDict(env_prefix="MEDIAMON_", extra="ignore", populate_by_name=True)

    # Namespacing: prefixes topic, index and consumer-group names (tests use one per test).
    namespace: str = ""

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_partitions: int = Field(default=3, ge=1)
    # copies of each topic's partitions: 3 on a cluster (with min.insync.replicas 2 there and
    # acks=all in every producer, one broker may fail without a loss); 1 on one broker
    topic_replication: int = Field(default=1, ge=1)
    # /readyz turns unhealthy once Kafka (connector) or Elasticsearch (worker) has refused
    # or failed every request for this long: a short blip is not worth an alarm
    ready_grace_seconds: float = Field(default=60.0, ge=0)
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    # default: SASL_PLAINTEXT when a username is set, else PLAINTEXT
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = None
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_ca_file: Path | None = None  # CA bundle for SSL/SASL_SSL (default: the system's)

    # Elasticsearch
    es_url: str = "http://127.0.0.1:9200"
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_api_key: SecretStr | None = None  # preferred over username/password when both are set
    es_ca_certs: Path | None = None  # CA bundle for https:// (default: the system's)
    es_verify_certs: bool = True  # turning this off is logged as a warning at every start
    es_shards: int = Field(default=1, ge=1)
    es_replicas: int = Field(default=0, ge=0)
    es_refresh_interval: str = "1s"
    es_retention_days: int = Field(default=365, ge=0)  # 0 keeps everything; needs ILM (x-pack)

    # Kibana (`mediamon setup kibana` imports the dashboards in pipeline/adapters/dashboards/)
    kibana_url: str = "http://127.0.0.1:5601"
    kibana_username: str | None = None
    kibana_password: SecretStr | None = None

    # Connector
    feeds_file: Path = Path("feeds.yaml")
    feeds: str = ""  # extra comma-separated feed URLs, polled with default settings
    poll_interval: float = Field(default=300.0, ge=1)  # for feeds given as plain URLs
    http_timeout: float = Field(default=20.0, gt=0)  # connect/read timeout per request
    http_total_timeout: float = Field(default=60.0, gt=0)  # bound on a whole slow download
    max_feed_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_concurrency: int = Field(default=50, ge=1)  # feeds fetched at once, all hosts
    parse_workers: int = Field(default=2, ge=0)  # processes parsing feeds; 0: a thread
    host_spacing: float = Field(default=1.0, ge=0)  # seconds between requests to one host
    backoff_cap: float = Field(default=6 * 3600.0, gt=0)  # longest wait after failures
    unconditional_every: float = Field(default=24 * 3600.0, gt=0)  # catch feeds stuck on 304
    # The SSRF guard: feeds and pages whose host resolves to a loopback, private,
    # link-local or metadata address are refused at connect time, on every redirect hop.
    # Hosts an operator trusts on an internal network (an intranet feed, the demo's local
    # site) are named in allow_private_hosts (comma-separated names or addresses).
    feeds_refuse_private: bool = True
    allow_private_hosts: str = ""
    # Every feed and page request through this HTTP proxy (http://host:port); the proxy,
    # not the guard above, then decides what may be reached.
    http_proxy: str | None = None
    # Article pages (connectors/pages.py): an item's page is fetched and its article used
    # as the text when the feed's text is short (feeds.yaml `fetch: auto|always|never`).
    # Each short item costs a request to its site (one at a time per host, host_spacing
    # apart, robots.txt honoured); off, mediamon reads only what the feeds say.
    fetch_pages: bool = True
    fetch_min_chars: int = Field(default=500, ge=0)  # feed text shorter than this: fetch
    page_concurrency: int = Field(default=20, ge=1)  # pages fetched at once, all hosts
    host_concurrency: int = Field(default=1, ge=1)  # requests at once to one host
    max_page_bytes: int = Field(default=5_000_000, gt=0)
    page_total_timeout: float = Field(default=20.0, gt=0)
    connector_state_path: Path | None = None  # default: <state_dir>/<namespace>connector.sqlite
    # /healthz, /readyz and /metrics (Prometheus); 0 turns them off
    connector_metrics_port: int = Field(default=9464, ge=0)
    worker_metrics_port: int = Field(default=9465, ge=0)
    health_bind: str = "127.0.0.1"  # 0.0.0.0 in containers, so the orchestrator can probe

    # Worker
    index_batch_size: int = Field(default=500, ge=1)
    # a batch waits at most this long to fill: with the 1 s refresh it sets the latency to
    # searchable (measured p95 at 500 docs/s: 2.5 s with 1.0, 1.6 s with 0.25)
    index_batch_seconds: float = Field(default=0.25, gt=0)
    # per-document 429/5xx answers retried in place before the document goes to the retry
    # topic (an unreachable cluster is retried without limit: the batch waits, offsets do
    # not advance; every message would fail the same way)
    index_doc_attempts: int = Field(default=3, ge=1)
    taxonomy_path: Path | None = None
    # How often the worker looks at the taxonomy file for changes (0: only on `mediamon
    # topics reload` or SIGHUP). A changed file is read between batches: nothing is lost.
    taxonomy_check_seconds: float = Field(default=5.0, ge=0)

    # Alerts: rules and channels in rules_file; SMTP for e-mail channels
    rules_file: Path = Path("rules.yaml")
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "mediamon@localhost"
    alert_delivery_attempts: int = Field(default=2, ge=1)  # in place, then the retry topic
    # rules delivered at once; one rule's alerts stay in order (its throttle and digest)
    alert_delivery_concurrency: int = Field(default=16, ge=1)
    # search only the rules a batch can match (pipeline.alerts.presearch); off: every rule
    # on every batch, as before (kept for the benchmark's before/after and as an escape hatch)
    alert_presearch: bool = True
    # Transient failures (pipeline.failures): deliveries of a message to its stage through
    # the retry topic, with capped exponential backoff between them, before it is
    # dead-lettered (6 x 2..120 s: about 2 minutes of trying before a person is needed)
    retry_attempts: int = Field(default=6, ge=1)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_max_seconds: float = Field(default=120.0, gt=0)
    volume_bucket_seconds: float = Field(default=60.0, ge=1)  # resolution of volume rules
    volume_history_days: int = Field(default=8, ge=1)  # longest baseline + window kept
    worker_web_port: int = 6066
    worker_web_enabled: bool = False

    # Local stack (mediamon stack up)
    kafka_version: str = "4.4.0"
    es_version: str = "8.19.21"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_tls_port: int = 9094  # `stack up --secure`: the SASL_SSL listener clients use
    kafka_heap: str = "512m"
    es_port: int = 9200
    es_transport_port: int = 9300
    es_heap: str = "768m"
    state_dir: Path = Path(".state")
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    # A JDK for the local servers; JAVA_HOME is honoured too (see deploy/java.py).
    java_home: Path | None = Field(
        default=None, validation_alias=AliasChoices("MEDIAMON_JAVA_HOME", "JAVA_HOME")
    )

    # Demo
    demo_feed_port: int = 8765

    # `mediamon web`: the live page. On any address but loopback it requires web_token
    # (a bearer token, or the password of HTTP basic auth with any user name).
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    web_token: SecretStr | None = None
    web_searches_per_minute: int = Field(default=120, ge=1)  # per client address
    web_live_streams: int = Field(default=50, ge=1)  # live pages open at once

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_attempts, self.retry_base_seconds, self.retry_max_seconds)

    def topic(self, name: str) -> str:
        """`name` (a topic's, or any other) with this deployment's namespace in front."""
        return f"{self.namespace}{name}"

    @property
    def feed_urls(self) -> list[str]:
        return [u.strip() for u in self.feeds.split(",") if u.strip()]

    @property
    def private_hosts_allowed(self) -> frozenset[str]:
        return frozenset(
            h.strip().lower() for h in self.allow_private_hosts.split(",") if h.strip()
        )

    @property
    def connector_state_file(self) -> Path:
        return self.connector_state_path or self.state_dir / f"{self.namespace}connector.sqlite"

    @property
    def kafka_protocol(self) -> str:
        if self.kafka_security_protocol:
            return self.kafka_security_protocol
        return "SASL_PLAINTEXT" if self.kafka_username else "PLAINTEXT"

    articles_alias: ClassVar[Namespaced] = Namespaced("articles")
    alerts_index: ClassVar[Namespaced] = Namespaced("alerts")
    alert_rules_index: ClassVar[Namespaced] = Namespaced("alert-rules")
    app_id: ClassVar[Namespaced] = Namespaced("mediamon")  # the Faust app id: consumer group


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def named_secret(name: str) -> SecretStr | None:
    """The secret in the environment variable an alert channel names (`secret_env`,
    `url_env`, `token_env` in the rules file); None when unset or empty. The name is only
    known from the rules file, so it cannot be a field above; it is read here, the one
    module that reads the environment, when the channel sends."""
    value = os.environ.get(name)
    return SecretStr(value) if value else None
