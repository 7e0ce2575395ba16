"""The worker's view of the taxonomy file: a change, or a request, makes a reload due."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipeline.health import Health, serve
from pipeline.taxonomy.watch import TaxonomyWatch
from tests.support.net import free_port


def test_due_after_a_change_or_a_request(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("version: 3\n")
    watch = TaxonomyWatch(path, every=0.01)
    time.sleep(0.02)
    assert not watch.due()
    path.write_text("version: 3\ntopics: []\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    time.sleep(0.02)
    assert watch.due()
    time.sleep(0.02)
    assert not watch.due()  # once per change
    watch.request()
    assert watch.due()


def test_checks_off_still_reload_on_request(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("a")
    watch = TaxonomyWatch(path, every=0)
    path.write_text("bb")
    assert not watch.due()
    watch.request()
    assert watch.due()


def test_post_reload_calls_the_action() -> None:
    import urllib.request

    health = Health()
    called: list[bool] = []
    health.action("reload", lambda: called.append(True))
    port = free_port()
    server = serve(health, port)
    assert server is not None
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/reload", method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 202
        assert called == [True]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/nothing", method="POST")
        try:
            urllib.request.urlopen(req, timeout=5)
            raise AssertionError("404 expected")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
            exc.close()
    finally:
        server.shutdown()
        server.server_close()
