"""`make test-containers`: the image built with podman (on a debootstrap base when no base
image is present) and run as containers against this suite's own Kafka and Elasticsearch
(the CONTAINERS block of tests/support/ports.py: 49092/49200), over the host's network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import podman
from deploy.stack import Stack
from tests.faults.harness import Hook
from tests.support.feedhost import FeedHost, feed_host
from tests.support.paths import REPO
from tests.support.ports import CONTAINERS
from tests.support.settings import settings_from_env

STATE = REPO / ".state" / "container-stack"
CONTAINER_VARS = {**CONTAINERS.stack_vars(), "MEDIAMON_STATE_DIR": str(STATE)}
TIMINGS: dict[str, float] = {}  # what the build took, reported at the end of the session
MEMORY: dict[str, float] = {}  # peak RSS (MB) per service, for compose's memory limits


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/containers" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        parts = ", ".join(f"{k} {v:.0f}s" for k, v in TIMINGS.items())
        terminalreporter.write_line(f"container image: {parts}")
    if MEMORY:
        parts = ", ".join(f"{k} {v:.0f} MB" for k, v in MEMORY.items())
        terminalreporter.write_line(f"peak RSS in the containers: {parts}")


@pytest.fixture(scope="session")
def image() -> str:
    """The mediamon image, built from this checkout (the base only when missing)."""
    logs = REPO / ".state" / "containers"
    logs.mkdir(parents=True, exist_ok=True)
    TIMINGS["base"] = podman.ensure_base(logs / "debootstrap.log")
    TIMINGS["build"] = podman.build_image(logs / "build.log")
    return podman.IMAGE


@pytest.fixture(scope="session")
def container_stack() -> Iterator[Stack]:
    stack = Stack(settings_from_env(CONTAINER_VARS))
    stack.up()
    yield stack
    stack.down()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def host() -> Iterator[FeedHost]:
    with feed_host() as h:
        yield h


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path
