"""Elasticsearch: the client, built from the settings (the one place one is constructed)."""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import AsyncElasticsearch

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
    return AsyncElasticsearch(
        settings.es_url,
        request_timeout=30,
        retry_on_timeout=False,
        max_retries=0,
        **client_options(settings),
    )


async def cluster_modules(es: AsyncElasticsearch) -> set[str]:
    """The modules of the node we talk to: what this distribution can do. Asked through the
    module list because the ILM endpoint answers 405 on the integ-test-zip, and the client
    would mark the node dead for a second."""
    resp = await es.nodes.info(
        node_id="_local", metric="plugins", filter_path="nodes.*.modules.name"
    )
    return {m["name"] for node in resp.get("nodes", {}).values() for m in node["modules"]}
