"""Faults on a multi-node cluster (issue 18): 3 Kafka nodes (replication factor 3,
min.insync.replicas 2, acks=all idempotent producers) and 2 Elasticsearch nodes (one
replica per shard), started by deploy/cluster.py as `mediamon stack up --brokers 3
--es-nodes 2` does, on the CLUSTER ports. A broker, then an Elasticsearch data node, is
killed with SIGKILL while articles flow through the real worker; each scenario ends with
`Scenario.finish` (every article indexed exactly once, every alert delivered once) and the
node is started again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.cluster import Cluster
from deploy.stack import ElasticsearchServer, KafkaServer, start_services
from tests.faults.harness import (
    Hook,
    Scenario,
    in_background,
    make_items,
    raw_article,
    scenario_result,
    wait_until,
)
from tests.support.paths import REPO
from tests.support.ports import CLUSTER
from tests.support.settings import settings_from_env

STATE = REPO / ".state" / "cluster-stack"
STACK_VARS = {**CLUSTER.stack_vars(), "MEDIAMON_STATE_DIR": str(STATE)}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    cluster = Cluster(settings_from_env(STACK_VARS), brokers=3, es_nodes=2)
    cluster.up()
    yield cluster
    if not os.environ.get("MEDIAMON_FAULTS_KEEP_STACK"):
        cluster.down()


def cluster_vars(cluster: Cluster) -> dict[str, str]:
    return {**STACK_VARS, **cluster.client_vars()}


def kill9(server: KafkaServer | ElasticsearchServer) -> None:
    """SIGKILL the node's JVM: no flush, no goodbye to the cluster."""
    pid = server.status().pid
    assert pid, f"{server.name} is not running"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while server.status().running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not server.status().running, f"{server.name} survived SIGKILL"


def restart(server: KafkaServer | ElasticsearchServer) -> float:
    server.stop()  # clears pid files (and an Elasticsearch launcher left behind)
    started = time.monotonic()
    start_services([server], timeout=240)
    return time.monotonic() - started


def node_killed_mid_stream(
    name: str, victim: KafkaServer | ElasticsearchServer, cluster: Cluster, hook: Hook, logs: Path
) -> None:
    """900 articles through one worker; `victim` SIGKILLed once 150 are searchable, started
    again after the rest is; then the usual checks."""
    s = Scenario(name, cluster_vars(cluster), logs, hook)
    with scenario_result(s):
        s.prepare()
        items = make_items(f"c{victim.name[0]}", 0, 900)  # ck..., ce...
        s.expect(items)
        s.worker("worker", MEDIAMON_INDEX_BATCH_SIZE="100")
        producing = in_background(s.produce, [raw_article(i) for i in items], 1.5)
        try:
            wait_until(lambda: len(s.indexed()) >= 150, 180, "the flow", s)
            kill9(victim)
            killed = time.monotonic()
            assert len(s.indexed()) < len(items), "all indexed before the kill: proves nothing"
            producing.join()
            recovery = s.wait_indexed(240, since=killed)
        finally:
            back = restart(victim)
        s.result.note = f"{victim.name} back in {back:.0f}s"
        s.finish(recovery)


def test_broker_killed_mid_stream(cluster: Cluster, hook: Hook, logs: Path) -> None:
    node_killed_mid_stream("cluster: 1 of 3 brokers kill -9", cluster.kafka[1], cluster, hook, logs)


def test_elasticsearch_data_node_killed_mid_stream(
    cluster: Cluster, hook: Hook, logs: Path
) -> None:
    data_only = cluster.elasticsearch[1]  # the master stays
    node_killed_mid_stream("cluster: ES data node kill -9", data_only, cluster, hook, logs)
