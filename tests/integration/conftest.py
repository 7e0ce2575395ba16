"""Real Kafka and Elasticsearch for the whole test session, started through the same code as
`mediamon stack up`, on ports that do not clash with a running demo."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.stack import Stack
from pipeline.settings import Settings
from tests.support.paths import REPO

TEST_PORTS = {
    "MEDIAMON_KAFKA_PORT": "19092",
    "MEDIAMON_KAFKA_CONTROLLER_PORT": "19093",
    "MEDIAMON_ES_PORT": "19200",
    "MEDIAMON_ES_TRANSPORT_PORT": "19300",
    "MEDIAMON_KAFKA_BOOTSTRAP": "127.0.0.1:19092",
    "MEDIAMON_ES_URL": "http://127.0.0.1:19200",
    "MEDIAMON_STATE_DIR": str(REPO / ".state" / "test-stack"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    settings = Settings(**{k.removeprefix("MEDIAMON_").lower(): v for k, v in TEST_PORTS.items()})
    stack = Stack(settings)
    stack.up()
    yield stack
    stack.down()


@dataclass
class Env:
    """One test's namespace on the shared servers: its own topics, index and consumer group."""

    settings: Settings
    vars: dict[str, str]
    logs: Path


@pytest.fixture
def env(stack: Stack, tmp_path: Path) -> Env:
    namespace = f"t{uuid.uuid4().hex[:10]}-"
    variables = {**TEST_PORTS, "MEDIAMON_NAMESPACE": namespace, "MEDIAMON_POLL_INTERVAL": "2"}
    settings = Settings(**{k.removeprefix("MEDIAMON_").lower(): v for k, v in variables.items()})
    return Env(settings, variables, tmp_path)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)
