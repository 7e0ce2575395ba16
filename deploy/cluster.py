"""A local multi-node cluster: `mediamon stack up --brokers 3 --es-nodes 2`.

Kafka: N combined broker+controller nodes (KRaft, one static quorum of all N, so one node
may fail with three), replication factor min(3, N) for every topic and internal topic,
`min.insync.replicas` 2 (with N >= 3): with acks=all and idempotent producers everywhere, a
broker that dies loses no acknowledged record. Node i listens on the base ports + 10*(i-1).

Elasticsearch: M nodes, the first master-eligible (and data), the others data-only, so a
data node may die without the cluster losing its master; one replica per shard
(MEDIAMON_ES_REPLICAS=M-1). Node i listens on the base HTTP and transport ports + (i-1).

Both run from the same jars and code as the single-node stack (deploy/stack.py); what the
clients need is in `client_vars()`.
"""

from __future__ import annotations

import json
from pathlib import Path

from deploy.stack import (
    ElasticsearchServer,
    KafkaServer,
    ServiceStatus,
    new_cluster_id,
    override_properties,
    start_services,
)
from pipeline.errors import StackError
from pipeline.settings import Settings

KAFKA_PORT_STEP = 10
MARKER = "cluster.json"


class KafkaNode(KafkaServer):
    """Node `node_id` (1-based) of a KRaft cluster of `count` combined nodes."""

    def __init__(self, settings: Settings, node_id: int, count: int) -> None:
        step = KAFKA_PORT_STEP * (node_id - 1)
        self.base = settings
        super().__init__(
            settings.model_copy(
                update={
                    "kafka_port": settings.kafka_port + step,
                    "kafka_controller_port": settings.kafka_controller_port + step,
                }
            )
        )
        self.node_id = node_id
        self.count = count
        self.name = f"kafka-{node_id}"
        self.dir = settings.state_dir.resolve() / f"kafka-{node_id}"
        self.pid_file = self.dir / "kafka.pid"
        self.log_file = self.dir / "logs" / "stdout.log"

    def _render(self) -> Path:
        props = super()._render()
        base = self.base
        voters = ",".join(
            f"{i}@127.0.0.1:{base.kafka_controller_port + KAFKA_PORT_STEP * (i - 1)}"
            for i in range(1, self.count + 1)
        )
        copies = str(min(3, self.count))
        in_sync = str(min(2, self.count))
        values = {
            "node.id": str(self.node_id),
            "controller.quorum.voters": voters,
            "default.replication.factor": copies,
            "min.insync.replicas": in_sync,
            "offsets.topic.replication.factor": copies,
            "transaction.state.log.replication.factor": copies,
            "transaction.state.log.min.isr": in_sync,
            "share.coordinator.state.topic.replication.factor": copies,
            "share.coordinator.state.topic.min.isr": in_sync,
        }
        props.write_text(
            override_properties(props.read_text(), values, "cluster (deploy/cluster.py)")
        )
        return props

    def _cluster_id(self) -> str:
        """One id for every node, made by the first to format."""
        shared = self.base.state_dir.resolve() / "kafka-cluster-id"
        if not shared.exists():
            shared.parent.mkdir(parents=True, exist_ok=True)
            shared.write_text(new_cluster_id())
        return shared.read_text().strip()


class ElasticsearchNode(ElasticsearchServer):
    """Node `index` (1-based) of `count`: the first master-eligible, the rest data-only."""

    def __init__(self, settings: Settings, index: int, count: int) -> None:
        self.base = settings
        super().__init__(
            settings.model_copy(
                update={
                    "es_port": settings.es_port + index - 1,
                    "es_transport_port": settings.es_transport_port + index - 1,
                }
            )
        )
        self.index = index
        self.count = count
        self.name = f"elasticsearch-{index}"
        self.dir = self.dir.parent / f"elasticsearch-{index}"
        self.pid_file = self.dir / "elasticsearch.pid"
        self.launcher_pid_file = self.dir / "launcher.pid"
        self.log_file = self.dir / "logs" / "stdout.log"

    def render_config(self) -> str:
        text = super().render_config()
        if (
            "discovery.type: single-node\n" not in text
            or "node.name: mediamon-local-1\n" not in text
        ):
            raise StackError("elasticsearch.yml changed: deploy/cluster.py no longer fits it")
        text = text.replace("discovery.type: single-node\n", "")
        text = text.replace(
            "node.name: mediamon-local-1\n", f"node.name: mediamon-local-{self.index}\n"
        )
        seeds = [f"127.0.0.1:{self.base.es_transport_port + i}" for i in range(self.count)]
        roles = ["master", "data", "ingest"] if self.index == 1 else ["data", "ingest"]
        text += "# cluster (deploy/cluster.py)\n"
        text += f"discovery.seed_hosts: {json.dumps(seeds)}\n"
        text += 'cluster.initial_master_nodes: ["mediamon-local-1"]\n'
        text += f"node.roles: {json.dumps(roles)}\n"
        return text


class Cluster:
    """`brokers` Kafka nodes and `es_nodes` Elasticsearch nodes on this machine."""

    def __init__(self, settings: Settings, brokers: int, es_nodes: int) -> None:
        if brokers < 1 or es_nodes < 1:
            raise StackError("a cluster needs at least one broker and one Elasticsearch node")
        self.settings = settings
        self.kafka = [KafkaNode(settings, i, brokers) for i in range(1, brokers + 1)]
        self.elasticsearch = [
            ElasticsearchNode(settings, i, es_nodes) for i in range(1, es_nodes + 1)
        ]
        self.services: list[KafkaServer | ElasticsearchServer] = [*self.kafka, *self.elasticsearch]
        self.marker = settings.state_dir.resolve() / MARKER

    @classmethod
    def recorded(cls, settings: Settings) -> Cluster | None:
        """The cluster `stack up` last started in this state directory, if any."""
        marker = settings.state_dir.resolve() / MARKER
        if not marker.exists():
            return None
        shape = json.loads(marker.read_text())
        return cls(settings, int(shape["brokers"]), int(shape["es_nodes"]))

    def client_vars(self) -> dict[str, str]:
        """The MEDIAMON_* variables a service needs to use this cluster."""
        return {
            "MEDIAMON_KAFKA_BOOTSTRAP": ",".join(node.url for node in self.kafka),
            "MEDIAMON_ES_URL": ",".join(node.url for node in self.elasticsearch),
            "MEDIAMON_TOPIC_REPLICATION": str(min(3, len(self.kafka))),
            "MEDIAMON_ES_REPLICAS": str(min(1, len(self.elasticsearch) - 1)),
        }

    def up(self, timeout: float = 300.0) -> list[ServiceStatus]:
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        shape = {"brokers": len(self.kafka), "es_nodes": len(self.elasticsearch)}
        self.marker.write_text(json.dumps(shape) + "\n")
        start_services(self.services, timeout)
        return self.status()

    def down(self) -> list[str]:
        stopped = [s.name for s in reversed(self.services) if s.stop()]
        self.marker.unlink(missing_ok=True)
        return stopped

    def status(self) -> list[ServiceStatus]:
        return [s.status() for s in self.services]
