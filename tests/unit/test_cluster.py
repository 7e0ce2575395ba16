"""The local multi-node cluster's configuration (deploy/cluster.py): one KRaft quorum of
every broker, three copies with two in sync, one master and data-only Elasticsearch nodes,
and what the clients are told."""

from __future__ import annotations

from pathlib import Path

from deploy.cluster import Cluster
from pipeline.settings import Settings
from tests.support.ports import CLUSTER
from tests.support.settings import settings_from_env


def _settings(tmp_path: Path) -> Settings:
    """The CLUSTER block of the port registry (the literal ports below check its numbers)."""
    return settings_from_env({**CLUSTER.stack_vars(), "MEDIAMON_STATE_DIR": str(tmp_path)})


def _props(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(ln.split("=", 1) for ln in lines if "=" in ln and not ln.startswith("#"))


def test_kafka_nodes_share_one_quorum_and_keep_three_copies(tmp_path: Path) -> None:
    cluster = Cluster(_settings(tmp_path), brokers=3, es_nodes=2)
    rendered = [_props(node._render()) for node in cluster.kafka]
    voters = "1@127.0.0.1:27093,2@127.0.0.1:27103,3@127.0.0.1:27113"
    for i, props in enumerate(rendered, start=1):
        assert props["node.id"] == str(i)
        assert props["controller.quorum.voters"] == voters
        assert props["listeners"] == (
            f"PLAINTEXT://127.0.0.1:{27092 + 10 * (i - 1)},"
            f"CONTROLLER://127.0.0.1:{27093 + 10 * (i - 1)}"
        )
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["transaction.state.log.min.isr"] == "2"
        assert list(props).count("node.id") == 1  # replaced, not appended twice
    assert len({node.dir for node in cluster.kafka}) == 3
    # one cluster id for all, made once
    ids = {node._cluster_id() for node in cluster.kafka}
    assert len(ids) == 1 and (tmp_path / "kafka-cluster-id").read_text().strip() in ids


def test_elasticsearch_nodes_one_master_and_data_nodes(tmp_path: Path) -> None:
    cluster = Cluster(_settings(tmp_path), brokers=3, es_nodes=2)
    first, second = (node.render_config() for node in cluster.elasticsearch)
    for text in (first, second):
        assert "single-node" not in text
        assert 'discovery.seed_hosts: ["127.0.0.1:27300", "127.0.0.1:27301"]' in text
        assert 'cluster.initial_master_nodes: ["mediamon-local-1"]' in text
    assert 'node.roles: ["master", "data", "ingest"]' in first
    assert 'node.roles: ["data", "ingest"]' in second and "mediamon-local-2" in second
    assert "http.port: 27201" in second and "transport.port: 27301" in second


def test_clients_get_every_node_and_the_replication(tmp_path: Path) -> None:
    cluster = Cluster(_settings(tmp_path), brokers=3, es_nodes=2)
    assert cluster.client_vars() == {
        "MEDIAMON_KAFKA_BOOTSTRAP": "127.0.0.1:27092,127.0.0.1:27102,127.0.0.1:27112",
        "MEDIAMON_ES_URL": "http://127.0.0.1:27200,http://127.0.0.1:27201",
        "MEDIAMON_TOPIC_REPLICATION": "3",
        "MEDIAMON_ES_REPLICAS": "1",
    }
    one = Cluster(_settings(tmp_path), brokers=1, es_nodes=1).client_vars()
    assert one["MEDIAMON_TOPIC_REPLICATION"] == "1" and one["MEDIAMON_ES_REPLICAS"] == "0"
    assert Cluster.recorded(_settings(tmp_path)) is None
    cluster.marker.write_text('{"brokers": 3, "es_nodes": 2}\n')
    again = Cluster.recorded(_settings(tmp_path))
    assert again is not None and [s.name for s in again.services] == [
        "kafka-1", "kafka-2", "kafka-3", "elasticsearch-1", "elasticsearch-2"
    ]  # fmt: skip
