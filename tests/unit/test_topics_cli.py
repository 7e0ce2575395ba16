"""`mediamon topics list|show|test|explain` on the shipped taxonomy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from mediamon.main import app
from pipeline.errors import ConfigError

runner = CliRunner()


def test_list_json() -> None:
    result = runner.invoke(app, ["topics", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.output)}
    assert set(rows) == {"syria", "astana_process", "un"}
    assert rows["syria"]["languages"] >= 40 and rows["syria"]["territory"] == "SY"


def test_show_one_language() -> None:
    result = runner.invoke(app, ["topics", "show", "un", "--lang", "it", "--json"])
    assert result.exit_code == 0, result.output
    assert "Nazioni Unite" in json.loads(result.output)["it"]["terms"]
    result = runner.invoke(app, ["topics", "show", "nope"])
    # main() turns a MediamonError into a message and exit code 2
    assert isinstance(result.exception, ConfigError) and "no topic 'nope'" in str(result.exception)


def test_test_file_prints_evidence(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text(
        "\n".join(
            json.dumps(i, ensure_ascii=False)
            for i in [
                {"id": "a", "title": "Сирия и ООН", "text": "Переговоры в Женеве."},
                {"id": "b", "title": "Il a acheté un livre", "text": ""},
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["topics", "test", str(items), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert lines[0]["topics"] == ["syria", "un"] and lines[1]["topics"] == []
    assert lines[0]["evidence"]["un"][0]["text"] == "ООН"
    items.write_text("{broken\n")
    result = runner.invoke(app, ["topics", "test", str(items)])
    assert isinstance(result.exception, ConfigError)
    assert "items.jsonl:1: not JSON" in str(result.exception)


def test_explain_json() -> None:
    result = runner.invoke(
        app, ["topics", "explain", "FC Astana won in Astana again.", "--lang", "en", "--json"]
    )
    assert result.exit_code == 0, result.output
    found = {t["topic"]: t for t in json.loads(result.output)["topics"]}
    assert not found["astana_process"]["matched"]
    assert any("context" in n for n in found["astana_process"]["notes"])


def test_lone_surrogates_are_printed_as_replacement_characters(tmp_path: Path) -> None:
    # a JSON escape of invalid UTF-8 in a line, and invalid UTF-8 bytes in an argument: the
    # real process, whose stdout is strict UTF-8 (CliRunner's buffer would not fail)
    items = tmp_path / "items.jsonl"
    items.write_text('{"title": "Syria \\ud800 talks in Astana", "text": "UN envoy"}\n')
    run = [sys.executable, "-m", "mediamon.main", "topics"]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    table = subprocess.run([*run, "test", str(items)], capture_output=True, env=env)
    assert table.returncode == 0, table.stderr.decode()
    assert "Syria \ufffd talks" in table.stdout.decode("utf-8") and b"Traceback" not in table.stderr
    explained = subprocess.run(
        [*run, "explain", b"Syria \xed\xa0\x80 talks"], capture_output=True, env=env
    )
    assert explained.returncode == 0, explained.stderr.decode()
    assert "syria" in explained.stdout.decode("utf-8")
