"""Kibana through its saved-objects API: import the dashboards shipped in dashboards/."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from pipeline.errors import ConfigError, PermanentError, TransientError
from pipeline.settings import Settings

log = logging.getLogger(__name__)

IMPORT_PATH = "/api/saved_objects/_import"
DASHBOARD_ID = "mediamon-articles-overview"
# The shipped data views' titles start with the default (namespace-less) index names; a
# namespaced deployment's data views must match its own indices instead.
DEFAULT_ALIAS = "articles"
DEFAULT_ALERTS_INDEX = "alerts"
# Kibana answers 503 ("Kibana server is not ready yet") while it starts and migrates its own
# index, which takes a minute or two after the container is up; a proxy in front says 502/504.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MAX_DELAY = 10.0


def shipped_objects() -> list[dict[str, Any]]:
    """Every saved object in dashboards/*.ndjson (beside this module), in file order."""
    folder = resources.files("pipeline.adapters").joinpath("dashboards")
    objects: list[dict[str, Any]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".ndjson"):
            objects.extend(parse_ndjson(entry.read_text("utf-8")))
    return objects


def parse_ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def to_ndjson(objects: list[dict[str, Any]]) -> bytes:
    lines = (json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in objects)
    return "".join(lines).encode("utf-8")


def objects_for(settings: Settings, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects with each data view's title pointed at this deployment's indices: the
    articles alias (`articles*` -> `<namespace>articles*`) and the alerts index
    (`alerts` -> `<namespace>alerts`)."""
    names = {DEFAULT_ALIAS: settings.articles_alias, DEFAULT_ALERTS_INDEX: settings.alerts_index}
    adapted: list[dict[str, Any]] = []
    for obj in objects:
        title = str(obj.get("attributes", {}).get("title", ""))
        if obj.get("type") == "index-pattern":
            for default, actual in names.items():
                if title.startswith(default):
                    attributes = {**obj["attributes"], "title": actual + title[len(default) :]}
                    obj = {**obj, "attributes": attributes}
                    break
        adapted.append(obj)
    return adapted


@dataclass(frozen=True, slots=True)
class ObjectError:
    """One object Kibana did not import, and why."""

    type: str
    id: str
    title: str
    reason: str

    def __str__(self) -> str:
        name = f" ({self.title})" if self.title else ""
        return f"{self.type}/{self.id}{name}: {self.reason}"

    @classmethod
    def from_kibana(cls, item: dict[str, Any]) -> ObjectError:
        error = item.get("error") or {}
        reason = str(error.get("type", "unknown"))
        if error.get("message"):
            reason += f": {error['message']}"
        missing = [f"{r.get('type')}/{r.get('id')}" for r in error.get("references") or []]
        if missing:
            reason += f" (missing: {', '.join(missing)})"
        title = item.get("title") or (item.get("meta") or {}).get("title") or ""
        return cls(str(item.get("type", "?")), str(item.get("id", "?")), str(title), reason)


@dataclass
class ImportResult:
    success: bool
    success_count: int
    errors: list[ObjectError] = field(default_factory=list)
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.success and not self.errors


def redact(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))


def make_client(settings: Settings, url: str | None = None) -> httpx.Client:
    base = url or settings.kibana_url
    auth: httpx.BasicAuth | None = None
    if settings.kibana_username and settings.kibana_password:
        auth = httpx.BasicAuth(
            settings.kibana_username, settings.kibana_password.get_secret_value()
        )
    else:
        # Credentials written into the URL become a header here, so that the URL itself,
        # which ends up in messages and httpx's log lines, carries none.
        parts = urlsplit(base)
        if parts.username is not None:
            auth = httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))
    return httpx.Client(
        base_url=redact(base),
        auth=auth,
        # Kibana's CSRF protection refuses any write without this header (its value is free).
        headers={"kbn-xsrf": "mediamon"},
        timeout=httpx.Timeout(60.0, connect=10.0),
    )


def import_saved_objects(
    client: httpx.Client,
    ndjson: bytes,
    *,
    timeout: float = 300.0,
    filename: str = "mediamon.ndjson",
    first_delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportResult:
    """POST the NDJSON to the import API with overwrite=true (importing twice changes nothing),
    waiting while Kibana is unreachable or starting. Refused credentials and other 4xx raise
    at once; object-level failures come back in `errors`."""
    where = str(client.base_url).rstrip("/")
    deadline = time.monotonic() + timeout
    delay = first_delay
    attempts = 0
    while True:
        attempts += 1
        try:
            resp = client.post(
                IMPORT_PATH,
                params={"overwrite": "true"},
                files={"file": (filename, ndjson, "application/ndjson")},
            )
        except httpx.TransportError as exc:  # refused, reset, timed out: not up yet
            problem = type(exc).__name__
        else:
            status = resp.status_code
            if status == 200:
                return _result(resp, where, attempts)
            if status in (401, 403):
                raise ConfigError(
                    f"Kibana at {where} refused the request (HTTP {status}): check "
                    "MEDIAMON_KIBANA_USERNAME and MEDIAMON_KIBANA_PASSWORD"
                )
            if status not in RETRYABLE_STATUSES:
                raise PermanentError(
                    f"Kibana at {where} rejected the import: HTTP {status}: {_message(resp)}"
                )
            problem = f"HTTP {status}"
        if time.monotonic() + delay > deadline:
            raise TransientError(
                f"Kibana at {where} not ready after {timeout:.0f}s "
                f"({attempts} attempts, last: {problem})"
            )
        log.info("kibana not ready at %s (%s), retrying in %.1fs", where, problem, delay)
        sleep(delay)
        delay = min(delay * 2, MAX_DELAY)


def _result(resp: httpx.Response, where: str, attempts: int) -> ImportResult:
    try:
        body = resp.json()
    except ValueError as exc:
        raise PermanentError(f"Kibana at {where} answered the import with non-JSON") from exc
    if not isinstance(body, dict) or "successCount" not in body:
        raise PermanentError(f"Kibana at {where} answered the import with {str(body)[:200]}")
    return ImportResult(
        success=bool(body.get("success")),
        success_count=int(body["successCount"]),
        errors=[ObjectError.from_kibana(e) for e in body.get("errors") or []],
        attempts=attempts,
    )


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:300]
    return str(body)[:300]


SETTINGS_PATH = "/api/kibana/settings"
# The search bar speaks the query-string syntax of rules and `mediamon search` (Lucene, with
# proximity and wildcards; KQL has neither) with the same default operator.
ADVANCED_SETTINGS = {
    "search:queryLanguage": "lucene",
    "query:queryString:options": json.dumps({"analyze_wildcard": True, "default_operator": "AND"}),
}


def apply_advanced_settings(client: httpx.Client) -> None:
    """Set Kibana's advanced settings that make its search bar agree with mediamon's."""
    where = str(client.base_url).rstrip("/")
    try:
        resp = client.post(SETTINGS_PATH, json={"changes": ADVANCED_SETTINGS})
    except httpx.TransportError as exc:
        raise TransientError(f"Kibana at {where}: {type(exc).__name__}") from None
    if resp.status_code != 200:
        raise PermanentError(
            f"Kibana at {where} refused the advanced settings: HTTP {resp.status_code}: "
            f"{_message(resp)}"
        )
