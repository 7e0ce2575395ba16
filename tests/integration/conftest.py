"""Real Kafka and Elasticsearch for the whole test session, started through the same code as
`mediamon stack up`, on ports that do not clash with a running demo."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.stack import Stack
from pipeline.settings import Settings
from tests.support.paths import REPO
from tests.support.ports import INTEGRATION
from tests.support.settings import settings_from_env

TEST_PORTS = {
    **INTEGRATION.stack_vars(),  # 19092/19093, 19200/19300
    "MEDIAMON_STATE_DIR": str(REPO / ".state" / "test-stack"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    stack = Stack(settings_from_env(TEST_PORTS))
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
    return Env(settings_from_env(variables), variables, tmp_path)
