"""The Elasticsearch node's rendered configuration: the template, plus extra node settings."""

from __future__ import annotations

from pathlib import Path

import yaml

from deploy.stack import ElasticsearchServer
from pipeline.settings import Settings


def test_extra_node_settings_are_appended(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, es_port=29201, es_transport_port=29301)
    server = ElasticsearchServer(
        settings, extra_config={"thread_pool.write.size": "1", "thread_pool.write.queue_size": "2"}
    )
    config = yaml.safe_load(server.render_config())
    assert config["http.port"] == 29201 and config["transport.port"] == 29301
    assert config["thread_pool.write.size"] == "1"
    assert config["thread_pool.write.queue_size"] == "2"


def test_without_extra_settings_the_template_is_unchanged(tmp_path: Path) -> None:
    server = ElasticsearchServer(Settings(state_dir=tmp_path))
    assert "extra node settings" not in server.render_config()
    assert yaml.safe_load(server.render_config())["discovery.type"] == "single-node"
