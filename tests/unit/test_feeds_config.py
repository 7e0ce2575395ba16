"""feeds.yaml, OPML import, the scheduling policy and `mediamon feeds` commands."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.feeds import FeedConfig, FeedsFile, configured_feeds, import_opml, load_feeds
from connectors.scheduler import Outcome, plan_next
from pipeline.errors import ConfigError
from tests.support.paths import SAMPLES

GOOD = """\
feeds:
  - id: vestnik
    url: https://vestnik.example/rss.xml
    name: Vestnik
    lang: ru
    poll_interval: 120
    tags: [central-asia]
  - id: wire
    url: https://wire.example/atom.xml
    enabled: false
"""

BAD = """\
feeds:
  - id: ok
    url: https://ok.example/rss
  - id: Not OK
    url: ftp://files.example/feed
    poll_interval: 0
  - id: ok
    url: https://other.example/rss
"""


def mediamon(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "mediamon.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_valid_feeds_file(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(GOOD)
    feeds = load_feeds(path).feeds
    assert [f.id for f in feeds] == ["vestnik", "wire"]
    assert feeds[0].interval_bounds == (30.0, 480.0)
    assert not feeds[1].enabled


def test_every_problem_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(BAD)
    with pytest.raises(ConfigError) as err:
        load_feeds(path)
    message = str(err.value)
    assert f"{path}:4: feeds.1.id" in message
    assert f"{path}:5: feeds.1.url" in message and "http" in message
    assert f"{path}:6: feeds.1.poll_interval" in message


def test_duplicate_ids_refused(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(BAD.replace("Not OK", "fine").replace("ftp", "https").replace(": 0", ": 60"))
    with pytest.raises(ConfigError, match="duplicate feed id 'ok'"):
        load_feeds(path)


def test_services_refuse_an_invalid_file(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(BAD)
    validate = mediamon("feeds", "validate", str(path))
    run = mediamon("connectors", "run", "--once", MEDIAMON_FEEDS_FILE=str(path))
    assert validate.returncode == run.returncode == 2
    assert f"{path}:5: feeds.1.url" in validate.stderr
    assert f"{path}:5: feeds.1.url" in run.stderr


def test_no_feeds_at_all_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no feeds"):
        configured_feeds(tmp_path / "absent.yaml", [], 300)


def test_opml_import_merges(tmp_path: Path) -> None:
    opml = tmp_path / "export.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body><outline text="News">'
        '<outline text="Vestnik" type="rss" xmlUrl="https://vestnik.example/rss.xml"/>'
        '<outline title="Le Monde" type="rss" xmlUrl="https://monde.example/rss" language="fr-FR"/>'
        '<outline text="Bad" xmlUrl="javascript:alert(1)"/>'
        "</outline></body></opml>"
    )
    path = tmp_path / "feeds.yaml"
    path.write_text(GOOD)
    proc = mediamon("feeds", "import-opml", str(opml), "--feeds-file", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "1 feeds added" in proc.stdout
    feeds = load_feeds(path).feeds
    assert [f.url for f in feeds][-1] == "https://monde.example/rss"
    assert feeds[-1].lang == "fr" and feeds[-1].name == "Le Monde"
    merged, added = import_opml(opml, FeedsFile(feeds=feeds))
    assert added == [] and len(merged.feeds) == 3


def test_plan_adapts_within_bounds_and_backs_off() -> None:
    rng = random.Random(1)
    feed = FeedConfig(id="f", url="https://a.example/", poll_interval=300)
    quiet = 300.0
    for _ in range(20):
        quiet = plan_next(feed, quiet, Outcome.NOT_MODIFIED, 0, 21600, rng).interval
    assert quiet == 1200.0  # max = 4 x poll_interval
    busy = 300.0
    for _ in range(20):
        busy = plan_next(feed, busy, Outcome.NEW_ITEMS, 0, 21600, rng).interval
    assert busy == 75.0  # min = poll_interval / 4
    delays = [plan_next(feed, 300, Outcome.FAILED, n, 3600, rng).delay for n in (1, 2, 3, 8)]
    assert 270 <= delays[0] <= 330 and 540 <= delays[1] <= 660 and 1080 <= delays[2] <= 1320
    assert delays[3] <= 3600 * 1.1  # capped
    jittered = {
        round(plan_next(feed, 300, Outcome.NO_NEW_ITEMS, 0, 1, rng).delay) for _ in range(20)
    }
    assert len(jittered) > 5


def test_feeds_parse_files_and_folders_as_json_lines(tmp_path: Path) -> None:
    bad = tmp_path / "broken.xml"
    bad.write_bytes(b"\x00\x01 definitely not a feed")
    proc = mediamon("feeds", "parse", str(SAMPLES / "vestnik-ru.xml"), str(tmp_path))
    assert proc.returncode == 1
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    records = [line for line in lines if "schema" in line]
    errors = [line for line in lines if "error" in line]
    assert len(records) == 12 and all(r["lang_hint"] == "ru" for r in records)
    assert errors == [{"file": str(bad), "error": errors[0]["error"]}]
    assert "Traceback" not in proc.stderr
