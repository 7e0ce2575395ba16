"""The fault-injection suite's own Kafka and Elasticsearch (ports 29092/29200: the FAULTS block
of tests/support/ports.py), so stopping a server never touches the shared test stack
(19092/19200) other tests run against; a second Elasticsearch node with a tiny write queue
(29201) for the 429 scenario; the summary table."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.stack import ElasticsearchServer, Stack
from tests.faults.harness import RESULTS, Hook, summary_lines, write_summary
from tests.support.paths import REPO
from tests.support.ports import FAULTS
from tests.support.settings import settings_from_env

STATE = REPO / ".state" / "fault-stack"
SUMMARY = REPO / ".state" / "fault-summary.json"
FAULT_VARS = {**FAULTS.stack_vars(), "MEDIAMON_STATE_DIR": str(STATE)}  # 29092/29200
# One write thread, a queue of two: a bulk request over several shards, next to other
# writers, gets some of its documents refused with 429 (es_rejected_execution_exception).
TINY_QUEUE = {"thread_pool.write.size": "1", "thread_pool.write.queue_size": "2"}
TINY_PORTS = {
    "MEDIAMON_ES_PORT": str(FAULTS.others["es_429"]),  # 29201
    "MEDIAMON_ES_TRANSPORT_PORT": str(FAULTS.others["es_429_transport"]),  # 29301
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


def _tiny_node() -> ElasticsearchServer:
    settings = settings_from_env(
        {**FAULT_VARS, **TINY_PORTS, "MEDIAMON_STATE_DIR": str(STATE / "es429")}
    )
    return ElasticsearchServer(settings, extra_config=TINY_QUEUE)


@pytest.fixture(scope="session")
def fault_stack() -> Iterator[Stack]:
    stack = Stack(settings_from_env(FAULT_VARS))
    stack.up()
    tiny = _tiny_node()
    if not tiny.status().running:
        tiny.start()  # not waited for here: it boots while the first scenarios run
    yield stack
    if not os.environ.get("MEDIAMON_FAULTS_KEEP_STACK"):  # kept: faster re-runs while editing
        tiny.stop()
        stack.down()


@pytest.fixture(scope="session")
def tiny_queue_es(fault_stack: Stack) -> ElasticsearchServer:
    """The 429 scenario's node (started with the fault stack, stopped with it)."""
    server = _tiny_node()
    deadline = time.monotonic() + 180
    while not server.healthy():
        if time.monotonic() > deadline or not server.status().running:
            raise RuntimeError(f"the tiny-queue Elasticsearch did not start; see {server.log_file}")
        time.sleep(1)
    return server


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    write_summary(SUMMARY)
    terminalreporter.section("fault injection")
    for line in summary_lines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"(also in {SUMMARY})")
