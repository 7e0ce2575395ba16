"""The image as operators run it: the worker and the connector in containers (podman, host
network, the state volume, a read-only root, uid 10001) against real Kafka and Elasticsearch.

The same scenario harness as the fault suite (tests/faults/harness.py): generated feeds that
grow while the test runs plus the sample feeds, a webhook rule, and the end check that every
article is indexed exactly once and every matching one alerted exactly once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import yaml

from deploy import podman
from deploy.stack import Stack
from pipeline.adapters.elastic import make_client
from tests.containers.conftest import CONTAINER_VARS, MEMORY
from tests.faults.harness import (
    Hook,
    Scenario,
    connector_flow,
    scenario_result,
    start_flowing,
    wait_until,
)
from tests.support.feedhost import FeedHost
from tests.support.net import free_port
from tests.support.paths import REPO

IMAGE_UID = 10001
SEED_URL = "http://vestnik.example/politika/oon-astaninskij-process?utm_source=rss&utm_medium=feed"


class ContainerScenario(Scenario):
    """A fault-suite scenario whose worker and connector run as containers of the image."""

    def worker(self, name: str, **extra: str) -> podman.ContainerProcess:
        proc = podman.ContainerProcess(
            name, ["worker"], {**self.vars, **extra}, self.logs / f"{name}.log"
        ).start()
        self.processes.append(proc)
        return proc

    def connector(self, name: str, **extra: str) -> podman.ContainerProcess:
        proc = podman.ContainerProcess(
            name, ["connectors", "run"], {**self.vars, **extra}, self.logs / f"{name}.log"
        ).start()
        self.processes.append(proc)
        return proc

    def containers(self) -> list[podman.ContainerProcess]:
        return [p for p in self.processes if isinstance(p, podman.ContainerProcess)]

    def remove_all(self) -> None:
        for c in self.containers():
            c.kill()
            c.remove()


def compose_healthcheck(service: str, ports: dict[str, str]) -> list[str]:
    """docker-compose.yml's healthcheck command of `service`, its ports replaced."""
    spec = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    kind, *parts = spec["services"][service]["healthcheck"]["test"]
    assert kind == "CMD", kind
    command = [str(part) for part in parts]
    for old, new in ports.items():
        command = [part.replace(old, new) for part in command]
    return command


def _get(port: int, token: str, path: str = "/") -> str:
    try:
        resp = httpx.get(f"http://127.0.0.1:{port}{path}", auth=("", token), timeout=5)
    except httpx.HTTPError:
        return ""
    return resp.text if resp.status_code == 200 else ""


def seed_document(s: Scenario) -> dict[str, object]:
    async def find() -> dict[str, object]:
        es = make_client(s.settings)
        try:
            alias = s.settings.articles_alias
            resp = await es.search(index=alias, query={"term": {"url": SEED_URL}})
            hits = resp["hits"]["hits"]
            return dict(hits[0]["_source"]) if hits else {}
        finally:
            await es.close()

    return asyncio.run(find())


def test_feeds_to_search_in_containers_and_a_killed_worker_loses_nothing(
    image: str, container_stack: Stack, hook: Hook, logs: Path, host: FeedHost
) -> None:
    s = ContainerScenario("containers: worker kill -9", CONTAINER_VARS, logs, hook)
    try:
        with scenario_result(s):
            s.prepare()
            flow = connector_flow(s, host, "ctr", 600, tick=1.0)  # + every sample article
            first = s.worker("worker-1", MEDIAMON_INDEX_BATCH_SIZE="50")
            connector_health = free_port()
            connector = s.connector(
                "connector", MEDIAMON_CONNECTOR_METRICS_PORT=str(connector_health)
            )
            start_flowing(s, flow, 2)
            check = compose_healthcheck("connectors", {"9464": str(connector_health)})
            assert podman.podman("exec", connector.container, *check, check=False).returncode == 0
            # both services run as the image's user, nothing as root
            assert first.process_uids() == {IMAGE_UID}, first.process_uids()
            assert connector.process_uids() == {IMAGE_UID}, connector.process_uids()

            peak_before_kill = first.peak_rss_mb()
            s.kill(first)
            assert first.exit_code() == 137, first.exit_code()  # SIGKILL, not a clean exit
            assert not flow.complete, "the flow ended before the kill: the test proves nothing"
            restarted = time.monotonic()
            health = free_port()
            second = s.worker(
                "worker-2", MEDIAMON_INDEX_BATCH_SIZE="50", MEDIAMON_WORKER_METRICS_PORT=str(health)
            )
            recovery = s.wait_indexed(240, since=restarted)
            # compose's healthcheck, as written there, answers inside the image
            check = compose_healthcheck("worker", {"9465": str(health)})
            assert podman.podman("exec", second.container, *check, check=False).returncode == 0
            flow.stop()
            s.finish(recovery)  # each article indexed once, each match alerted once, no DLQ

            MEMORY["worker (after the kill)"] = second.peak_rss_mb()
            MEMORY["worker (killed)"] = peak_before_kill
            MEMORY["connector"] = connector.peak_rss_mb()
            doc = seed_document(s)
            assert doc.get("lang") == "ru", doc
            assert {"syria", "astana_process", "un"} <= set(doc.get("topics", [])), doc  # type: ignore[call-overload]

            # the live page from the image (its templates and static files are in the wheel)
            port, token = free_port(), "container-test-token"
            web = podman.ContainerProcess(
                "web", ["web", "--port", str(port)],
                {**s.vars, "MEDIAMON_WEB_TOKEN": token}, logs / "web.log",
            ).start()  # fmt: skip
            s.processes.append(web)
            page = wait_until(lambda: _get(port, token), 60, "the live page", s)
            assert 'id="stories"' in page and "count-articles" in page, page[:500]
            assert _get(port, token, "/static/app.js"), "the page's script is not in the image"
            MEMORY["web"] = web.peak_rss_mb()
            assert s.sigterm(web, 30)[0] == 0, web.tail()

            # a clean stop is a clean exit, for the image's processes too
            assert s.sigterm(connector, 30)[0] == 0, connector.tail()
            assert s.sigterm(second, 30)[0] == 0, second.tail()
            # the root filesystem is read-only with no tmpfs, so a write anywhere but the
            # volume would have failed the service; podman agrees nothing else changed
            for c in s.containers():
                assert c.changes() == [], (c.name, c.changes())
            state = Path(s.vars["MEDIAMON_STATE_DIR"])
            assert (state / f"{s.settings.namespace}connector.sqlite").exists()
            assert (state / f"{s.settings.app_id}-data").is_dir()  # Faust's, made on a fresh volume
            assert "alerts: 1 rule(s) enabled" in (logs / "worker-1.log").read_text()
    finally:
        s.remove_all()


def test_a_worker_without_rules_says_alerts_are_off(
    image: str, container_stack: Stack, hook: Hook, logs: Path
) -> None:
    s = ContainerScenario("containers: no rules file", CONTAINER_VARS, logs, hook)
    missing = logs / "not-mounted.yaml"
    try:
        with scenario_result(s):
            s.prepare()
            worker = s.worker("worker", MEDIAMON_RULES_FILE=str(missing))
            wait_until(lambda: "Worker ready" in worker.tail(200), 120, "the worker", s)
            # nothing mounted at the image's rules path: the worker runs, and says so
            warning = "alerts: no rules (/etc/mediamon/rules.yaml does not exist"
            assert warning in worker.tail(200), worker.tail()

            status = podman.ContainerProcess(
                "status", ["status"], {**s.vars, "MEDIAMON_RULES_FILE": str(missing)},
                logs / "status.log",
            ).start()  # fmt: skip
            s.processes.append(status)
            s.ended.append(status)
            status.wait(120)
            assert warning in status.tail(100), status.tail()
    finally:
        s.remove_all()


def test_the_image_holds_runtime_dependencies_only(image: str) -> None:
    probe = (
        "import importlib.util as u, sys; "
        "print(sys.prefix, [m for m in ('pip', 'pytest', 'ruff', 'mypy', 'playwright', 'faust',"
        " 'trafilatura', 'mediamon') if u.find_spec(m)])"
    )
    out = podman.podman("run", "--rm", "--read-only", "--entrypoint", "python", image, "-c", probe)
    assert out.stdout.strip() == "/opt/mediamon ['faust', 'trafilatura', 'mediamon']", out.stdout


def test_the_image_runs_the_native_paths_and_holds_no_compiler(image: str) -> None:
    # the module the build stage compiled (the build fails without it unless NATIVE=0), giving
    # the Python path's answer; MEDIAMON_NATIVE=0 still switches to the Python path there
    probe = (
        "import json; from pipeline.native import native; "
        "from pipeline.stages.tokens import fold, fold_python, split, split_python; "
        "t = 'Генсек ООН об «Астанинском процессе»: Syria’s talks, 2026 — האו\"ם ²½'; "
        "print(json.dumps([native is not None, split(t) == split_python(t), "
        "[fold(w) for w in split(t)] == [fold_python(w) for w in split_python(t)]]))"
    )
    run = ("run", "--rm", "--read-only", "--network", "none", "--entrypoint", "python")
    out = podman.podman(*run, image, "-c", probe)
    assert out.stdout.strip() == "[true, true, true]", out.stdout + out.stderr
    out = podman.podman(*run[:-2], "--env", "MEDIAMON_NATIVE=0", *run[-2:], image, "-c", probe)
    assert out.stdout.strip() == "[false, true, true]", out.stdout + out.stderr
    # Rust and the C linker stay in the build stage
    tools = "for t in cargo rustc gcc cc; do command -v $t; done; true"
    out = podman.podman("run", "--rm", "--read-only", "--entrypoint", "sh", image, "-c", tools)
    assert out.stdout.strip() == "", out.stdout
