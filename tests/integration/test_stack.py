"""`mediamon stack`: real servers, idempotent up, clear errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.stack import Stack
from pipeline.errors import StackError
from pipeline.settings import Settings
from tests.integration.conftest import TEST_PORTS


def test_both_servers_healthy(stack: Stack) -> None:
    statuses = {s.name: s for s in stack.status()}
    assert statuses["kafka"].healthy and statuses["elasticsearch"].healthy
    assert statuses["kafka"].log.exists()


def test_up_twice_is_harmless(stack: Stack) -> None:
    before = {s.name: s.pid for s in stack.status()}
    after = {s.name: s.pid for s in stack.up()}
    assert before == after


def test_status_cli_json(stack: Stack) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mediamon.main", "stack", "status", "--json"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **TEST_PORTS},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["service"]: r["healthy"] for r in rows} == {"kafka": True, "elasticsearch": True}


def test_port_taken_gives_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        settings = Settings(state_dir=tmp_path / "state", kafka_port=port)
        with pytest.raises(StackError, match=f"port {port} needed by kafka is already in use"):
            Stack(settings).up()
