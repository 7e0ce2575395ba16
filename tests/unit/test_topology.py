"""The declared topology (pipeline.topics) drives the app, and importing the app does nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline import topics
from pipeline.agents import register_all
from pipeline.app import create_app
from pipeline.settings import Settings
from tests.support.paths import REPO


def test_importing_the_app_and_its_agents_has_no_side_effects() -> None:
    # A settings value that cannot be parsed proves the environment is not read at import,
    # and the faust classes the fix replaces are untouched until create_app runs.
    probe = (
        "import faust, pipeline.app, pipeline.agents, pipeline.worker\n"
        "from faust.tables.recovery import Recovery\n"
        "from pipeline import faust_fixes\n"
        "assert Recovery.on_recovery_completed is not faust_fixes.on_recovery_completed\n"
        "import gc\n"
        "assert not [o for o in gc.get_objects() if isinstance(o, faust.App)]\n"
        "print('clean')\n"
    )
    env = {"MEDIAMON_TOPIC_PARTITIONS": "not-a-number", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


def test_every_stage_gets_its_agent_and_every_topic_exists(tmp_path: Path) -> None:
    settings = Settings(namespace="topo-", state_dir=tmp_path)
    wiring = create_app(settings)
    register_all(wiring)
    consumed = {a.channel.get_topic_name() for a in wiring.app.agents.values()}
    assert consumed == {settings.topic(s.input) for s in topics.STAGES}
    assert set(wiring.topics) == set(topics.ALL)
    # the topic names are a contract: none added or lost (12 since the group stage)
    assert len(topics.ALL) == 12
    # story grouping sees every fingerprint in one place: one partition, and its table too
    assert wiring.topic(topics.TAGGED).partitions == 1
    assert wiring.stories.partitions == 1
    assert wiring.topic(topics.RAW).partitions == settings.topic_partitions


def test_only_the_group_stage_input_has_one_partition() -> None:
    settings = Settings(topic_partitions=6)
    assert {
        n: topics.partitions(n, settings) for n in topics.ALL if n != topics.TAGGED
    } == dict.fromkeys(set(topics.ALL) - {topics.TAGGED}, 6)
    assert topics.partitions(topics.TAGGED, settings) == 1


def test_retry_and_dead_letter_topics_follow_the_convention() -> None:
    for stage in topics.STAGES:
        if stage.retry:
            assert stage.retry == f"{stage.input}.retry"
        if stage.dead_letter:
            assert stage.dead_letter.endswith(".dlq")


def test_the_readme_architecture_table_is_the_declared_topology() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- topology: begin -->", "<!-- topology: end -->"
    assert begin in readme and end in readme, "README.md lost its topology markers"
    table = readme.split(begin, 1)[1].split(end, 1)[0].strip()
    assert table == topics.markdown_table(), (
        "README.md's stage table differs from pipeline/topics.py; paste the output of "
        "`python -m pipeline.topics` between the markers"
    )
