"""Elasticsearch security API: mediamon's roles and its services' API keys.

Run with an administrator's credentials (`manage_security`, e.g. the `elastic` user); the
services themselves only ever hold their own key. Keys are found again by name and metadata
(service, generation), never stored by mediamon: the secret half is shown once, when made.

Rotation without downtime: `rotate` makes generation n+1 and leaves generation n valid, so
the running service keeps working until it is restarted with the new key; anything older
than n is invalidated then. `retire` invalidates all but the newest, once every replica
runs with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch
from pydantic import SecretStr

from pipeline.access import (
    KEY_METADATA,
    SERVICES,
    Service,
    key_name,
    role_descriptor,
    role_name,
)
from pipeline.settings import Settings


@dataclass(frozen=True)
class IssuedKey:
    service: Service
    id: str
    name: str
    generation: int
    encoded: SecretStr  # what MEDIAMON_ES_API_KEY takes; shown once

    def as_dict(self, reveal: bool = False) -> dict[str, Any]:
        return {
            "service": self.service,
            "id": self.id,
            "name": self.name,
            "generation": self.generation,
            "api_key": self.encoded.get_secret_value() if reveal else str(self.encoded),
        }


@dataclass
class SecurityReport:
    roles: dict[str, bool] = field(default_factory=dict)  # role -> created (else updated)
    issued: list[IssuedKey] = field(default_factory=list)
    kept: dict[str, list[str]] = field(default_factory=dict)  # service -> valid key ids
    invalidated: list[str] = field(default_factory=list)


async def ensure_roles(es: AsyncElasticsearch, settings: Settings) -> dict[str, bool]:
    """Create or update every service's role (PUT is idempotent). Returns role -> created."""
    out = {}
    for service in SERVICES:
        name = role_name(settings, service)
        resp = await es.security.put_role(name=name, **role_descriptor(settings, service))
        out[name] = bool(resp["role"]["created"])
    return out


async def active_keys(
    es: AsyncElasticsearch, settings: Settings, service: Service
) -> list[dict[str, Any]]:
    """The service's keys that are neither invalidated nor expired, oldest generation first."""
    resp = await es.security.get_api_key(name=key_name(settings, service), active_only=True)
    keys = [
        k
        for k in resp.get("api_keys", [])
        if (k.get("metadata") or {}).get(KEY_METADATA) == service and not k.get("invalidated")
    ]
    return sorted(keys, key=lambda k: (_generation(k), k.get("creation", 0)))


def _generation(key: dict[str, Any]) -> int:
    value = (key.get("metadata") or {}).get("generation", 0)
    return value if isinstance(value, int) else 0


async def issue_key(
    es: AsyncElasticsearch, settings: Settings, service: Service, generation: int
) -> IssuedKey:
    name = key_name(settings, service)
    resp = await es.security.create_api_key(
        name=name,
        role_descriptors={role_name(settings, service): role_descriptor(settings, service)},
        metadata={KEY_METADATA: service, "generation": generation},
    )
    return IssuedKey(service, resp["id"], name, generation, SecretStr(resp["encoded"]))


async def invalidate(es: AsyncElasticsearch, ids: list[str]) -> list[str]:
    if not ids:
        return []
    resp = await es.security.invalidate_api_key(ids=ids)
    return list(resp.get("invalidated_api_keys", []))


async def ensure_security(
    es: AsyncElasticsearch,
    settings: Settings,
    services: tuple[Service, ...] = SERVICES,
    rotate: frozenset[Service] = frozenset(),
    retire: frozenset[Service] = frozenset(),
) -> SecurityReport:
    """Roles for every service; a key for each of `services` that has none; a new
    generation for those in `rotate` (the previous one stays valid, older ones go); for
    those in `retire`, every key but the newest invalidated."""
    report = SecurityReport(roles=await ensure_roles(es, settings))
    for service in services:
        keys = await active_keys(es, settings, service)
        if not keys or service in rotate:
            newest = max((_generation(k) for k in keys), default=0)
            issued = await issue_key(es, settings, service, newest + 1)
            report.issued.append(issued)
            # keep the generation the service runs with now; anything older goes
            stale = [k["id"] for k in keys if _generation(k) < newest]
            report.invalidated += await invalidate(es, stale)
            keys = [k for k in keys if k["id"] not in stale] + [{"id": issued.id}]
        else:
            # a key carries the role it was made with: bring older keys up to today's
            for key in keys:
                await es.security.update_api_key(
                    id=key["id"],
                    role_descriptors={
                        role_name(settings, service): role_descriptor(settings, service)
                    },
                    metadata=key.get("metadata") or {},
                )
        if service in retire and len(keys) > 1:
            report.invalidated += await invalidate(es, [k["id"] for k in keys[:-1]])
            keys = keys[-1:]
        report.kept[service] = [k["id"] for k in keys]
    return report
