"""Elasticsearch: the client, built from the settings (the one place one is constructed)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.failures import never, pause
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def client_options(settings: Settings) -> dict[str, Any]:
    """Authentication and TLS for the Elasticsearch client, from the settings only."""
    opts: dict[str, Any] = {}
    if settings.es_api_key:
        opts["api_key"] = settings.es_api_key.get_secret_value()
    elif settings.es_username and settings.es_password:
        opts["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_url.startswith("https://"):
        if settings.es_ca_certs:
            opts["ca_certs"] = str(settings.es_ca_certs)
        if not settings.es_verify_certs:
            log.warning(
                "TLS certificate verification for %s is OFF (MEDIAMON_ES_VERIFY_CERTS=false): "
                "anyone on the path can read and alter what is indexed",
                settings.es_url,
            )
            opts |= {"verify_certs": False, "ssl_show_warn": False}
    return opts


def make_client(settings: Settings) -> AsyncElasticsearch:
    # A comma-separated list reaches every node: a request that cannot connect to one is
    # tried once on each other node (and the dead one set aside), so one node away is no
    # error. With one node nothing is retried here: the callers' own backoff decides.
    nodes = [url.strip() for url in settings.es_url.split(",") if url.strip()]
    return AsyncElasticsearch(
        nodes,
        request_timeout=30,
        retry_on_timeout=False,
        max_retries=len(nodes) - 1,
        **client_options(settings),
    )


@dataclass(eq=False, repr=False)
class ElasticWork:
    """Base of what works against Elasticsearch and waits out an outage (the indexer, the
    rule matcher): the client, the settings, and the wait between retries, which gives up
    (ShutdownRequested) once the worker stops or rebalances; tests pass their own `sleep`."""

    es: AsyncElasticsearch
    settings: Settings
    stopping: Callable[[], bool] = field(default=never, kw_only=True)
    sleep: Callable[[float], Awaitable[None]] | None = field(default=None, kw_only=True)

    async def wait(self, seconds: float) -> None:
        if self.sleep is None:
            await pause(seconds, self.stopping)
        else:
            await self.sleep(seconds)


async def cluster_modules(es: AsyncElasticsearch) -> set[str]:
    """The modules of the node we talk to: what this distribution can do. Asked through the
    module list because the ILM endpoint answers 405 on the integ-test-zip, and the client
    would mark the node dead for a second."""
    resp = await es.nodes.info(
        node_id="_local", metric="plugins", filter_path="nodes.*.modules.name"
    )
    return {m["name"] for node in resp.get("nodes", {}).values() for m in node["modules"]}


def describe_error(exc: BaseException, settings: Settings) -> str:
    """What went wrong talking to Elasticsearch, in words that say what to change: refused
    credentials, a missing privilege, a certificate nobody told us to trust. Never includes
    a credential."""
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
    if isinstance(status, int) and status == 401:
        what = (
            "the API key (MEDIAMON_ES_API_KEY) is wrong, expired or invalidated; "
            "`mediamon setup security --rotate SERVICE` makes a new one"
            if settings.es_api_key
            else "the user name and password (MEDIAMON_ES_USERNAME, MEDIAMON_ES_PASSWORD) "
            "are wrong or missing"
        )
        return f"Elasticsearch refused the credentials (401): {what}"
    if isinstance(status, int) and status == 403:
        reason = _reason(exc)
        return (
            "Elasticsearch refused the action (403): these credentials lack the privilege"
            f"{f' ({reason})' if reason else ''}; docs/operations.md, Security, lists each "
            "service's role"
        )
    text = f"{exc!s} {exc!r}"  # the transport's errors keep the cause in repr only
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            f"the certificate of {settings.es_url} is not signed by a CA this client trusts: "
            "set MEDIAMON_ES_CA_CERTS to the CA file that signed it"
        )
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return (
            f"{settings.es_url} does not speak TLS there (or speaks it where http:// was "
            "given): check the scheme of MEDIAMON_ES_URL"
        )
    return f"{type(exc).__name__}{f' {status}' if status else ''}"


def _reason(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("reason", ""))[:300]
    return ""
