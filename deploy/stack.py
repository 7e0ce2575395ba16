"""The local stack: a real Kafka broker (KRaft) and a real Elasticsearch node, run with `java`
on 127.0.0.1 from jars resolved from Maven Central. Used by `mediamon stack`, the demo and
the integration tests alike."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from deploy import maven
from deploy.esplugin import ensure_analysis_plugin
from deploy.java import find_java
from pipeline.adapters.kafka import broker_ready
from pipeline.errors import StackError
from pipeline.settings import Settings

log = logging.getLogger(__name__)

KAFKA_MIN_JAVA = 17
ES_MIN_JAVA = 17  # the 8.19 line runs on 17; the 9.x line would need 21
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    running: bool
    healthy: bool
    url: str
    log: Path

    def as_dict(self) -> dict[str, object]:
        return {
            "service": self.name,
            "pid": self.pid,
            "running": self.running,
            "healthy": self.healthy,
            "url": self.url,
            "log": str(self.log),
        }


def _template(path: str) -> str:
    return resources.files("deploy").joinpath(path).read_text("utf-8")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by us) is not running.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# Popen objects of servers started by this process: kept so they are not collected (and
# warned about) while the server runs.
_CHILDREN: list[subprocess.Popen[bytes]] = []


def _spawn(
    cmd: list[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    user: pwd.struct_passwd | None = None,
) -> int:
    """Start a server detached from our session so it outlives the CLI that started it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
    _CHILDREN.append(proc)
    return proc.pid


def _stop_pid(pid: int | None, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM, wait, then SIGKILL. True if a process was stopped."""
    if not pid_alive(pid):
        return False
    assert pid is not None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def override_properties(text: str, values: dict[str, str], why: str) -> str:
    """server.properties `text` with `values` replacing the same keys (or appended)."""
    lines = [ln for ln in text.splitlines() if ln.split("=", 1)[0].strip() not in values]
    return "\n".join([*lines, f"# {why}", *map("=".join, values.items())]) + "\n"


class KafkaServer:
    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.state_dir.resolve() / "kafka"
        self.pid_file = self.dir / "kafka.pid"
        self.log_file = self.dir / "logs" / "stdout.log"

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    def healthy(self) -> bool:
        if not port_open(self.settings.kafka_port):
            return False
        return asyncio.run(broker_ready(self.url))

    def status(self) -> ServiceStatus:
        pid = _read_pid(self.pid_file)
        running = pid_alive(pid)
        return ServiceStatus(
            self.name, pid, running, running and self.healthy(), self.url, self.log_file
        )

    def _render(self) -> Path:
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        (self.dir / "logs").mkdir(exist_ok=True)
        props = self.dir / "server.properties"
        props.write_text(
            _template("kafka/server.properties").format(
                port=self.settings.kafka_port,
                controller_port=self.settings.kafka_controller_port,
                data_dir=data,
            )
        )
        (self.dir / "log4j2.properties").write_text(_template("kafka/log4j2.properties"))
        return props

    def _java_cmd(self, java: Path, lib: Path, main: list[str]) -> list[str]:
        heap = self.settings.kafka_heap
        return [
            str(java),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.dir / 'logs'}",
            "-cp",
            f"{lib}/*",
            *main,
        ]

    def start(self) -> None:
        java = find_java(KAFKA_MIN_JAVA, self.settings.java_home)
        lib = maven.kafka_lib(self.settings.cache_dir, self.settings.kafka_version)
        props = self._render()
        if not (self.dir / "data" / "meta.properties").exists():
            cluster_id = self._cluster_id()
            fmt = self._java_cmd(
                java.executable,
                lib,
                [
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={cluster_id}",
                    "-c",
                    str(props),
                ],
            )
            fmt += ["--ignore-formatted", *self._format_options()]
            proc = subprocess.run(fmt, capture_output=True, text=True)
            if proc.returncode != 0:
                raise StackError(f"Kafka storage format failed:\n{proc.stdout}{proc.stderr}")
        cmd = self._java_cmd(java.executable, lib, ["kafka.Kafka", str(props)])
        self.pid_file.write_text(str(_spawn(cmd, self.log_file)))

    def _format_options(self) -> list[str]:
        """Extra `kafka-storage format` options (deploy.kafka_sasl adds SCRAM users)."""
        return []

    def _cluster_id(self) -> str:
        """A new cluster's id (deploy.cluster's nodes share one)."""
        return new_cluster_id()

    def stop(self) -> bool:
        stopped = _stop_pid(_read_pid(self.pid_file))
        self.pid_file.unlink(missing_ok=True)
        return stopped

    def ports(self) -> list[int]:
        return [self.settings.kafka_port, self.settings.kafka_controller_port]


def _traversable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents] if p.exists())


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Elasticsearch refuses to run as root: as root, run it as `nobody`."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError as exc:
        raise StackError(
            "running as root, and there is no user 'nobody' to run Elasticsearch as"
        ) from exc


class ElasticsearchServer:
    name = "elasticsearch"

    def __init__(self, settings: Settings, extra_config: dict[str, str] | None = None) -> None:
        """`extra_config`: node settings appended to elasticsearch.yml, e.g. a tiny
        `thread_pool.write.queue_size` for a node that answers 429 under load (fault tests)."""
        self.settings = settings
        self.extra_config = dict(extra_config or {})
        self.run_as = _unprivileged_user()
        state = settings.state_dir.resolve()
        self.dir = state / "elasticsearch"
        if self.run_as and not _traversable_by_others(state):
            # e.g. a checkout inside a 0700 temp dir: the unprivileged user could not reach it.
            digest = hashlib.sha256(str(state).encode()).hexdigest()[:12]
            self.dir = Path("/var/tmp/mediamon") / digest / "elasticsearch"
        self.pid_file = self.dir / "elasticsearch.pid"  # written by Elasticsearch (server JVM)
        self.launcher_pid_file = self.dir / "launcher.pid"  # the CLI launcher we started
        self.log_file = self.dir / "logs" / "stdout.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.es_port}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=5
            ) as resp:
                status = json.loads(resp.read()).get("status")
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return status in ("yellow", "green")

    def status(self) -> ServiceStatus:
        pid = _read_pid(self.pid_file) or _read_pid(self.launcher_pid_file)
        running = pid_alive(pid)
        return ServiceStatus(
            self.name, pid, running, running and self.healthy(), self.url, self.log_file
        )

    def start(self) -> None:
        java = find_java(ES_MIN_JAVA, self.settings.java_home)
        home = maven.elasticsearch_home(self.settings.cache_dir, self.settings.es_version)
        ensure_analysis_plugin(home, java, self.settings.es_version)
        config = self.dir / "config"
        if config.exists():
            shutil.rmtree(config)
        shutil.copytree(home / "config", config)
        for sub in ("data", "logs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (config / "elasticsearch.yml").write_text(self.render_config())
        heap = self.settings.es_heap
        (config / "jvm.options.d").mkdir(exist_ok=True)
        (config / "jvm.options.d" / "heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.dir)),
            "ES_JAVA_HOME": str(java.home),
            "ES_PATH_CONF": str(config),
            "LANG": "C.UTF-8",
        }
        self.pid_file.unlink(missing_ok=True)
        self._prepare(home, config, env)
        if self.run_as:
            env["HOME"] = str(self.dir)
            self._give_to(self.run_as)
        cmd = [str(home / "bin" / "elasticsearch"), "-p", str(self.pid_file)]
        pid = _spawn(cmd, self.log_file, env, self.run_as)
        self.launcher_pid_file.write_text(str(pid))

    @property
    def secure_marker(self) -> Path:
        """Present while the node was last started with security on (deploy.es_secure)."""
        return self.dir / "security.enabled"

    def _prepare(self, home: Path, config: Path, env: dict[str, str]) -> None:
        """Last step before the launch, config/ freshly copied (deploy.es_secure adds the
        certificates and the keystore here)."""
        self.secure_marker.unlink(missing_ok=True)

    def render_config(self) -> str:
        text = _template("elasticsearch/elasticsearch.yml").format(
            data_dir=self.dir / "data",
            logs_dir=self.dir / "logs",
            port=self.settings.es_port,
            transport_port=self.settings.es_transport_port,
        )
        if self.extra_config:
            text += "# extra node settings (ElasticsearchServer(extra_config=...))\n"
            text += "".join(f"{k}: {json.dumps(v)}\n" for k, v in self.extra_config.items())
        return text

    def _give_to(self, user: pwd.struct_passwd) -> None:
        for parent in [self.dir, *self.dir.parents]:
            if parent == Path("/var/tmp"):
                break
            if str(parent).startswith("/var/tmp/mediamon"):
                parent.chmod(0o755)
        for path in [self.dir, *self.dir.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)

    def stop(self) -> bool:
        stopped = _stop_pid(_read_pid(self.pid_file))
        stopped = _stop_pid(_read_pid(self.launcher_pid_file)) or stopped
        self.pid_file.unlink(missing_ok=True)
        self.launcher_pid_file.unlink(missing_ok=True)
        return stopped

    def ports(self) -> list[int]:
        return [self.settings.es_port, self.settings.es_transport_port]


class Stack:
    """Both servers. `up` is idempotent; `down` stops only what this stack started."""

    def __init__(
        self, settings: Settings, elasticsearch: ElasticsearchServer | None = None
    ) -> None:
        """`elasticsearch`: another node than the plain one (deploy.es_secure's)."""
        self.settings = settings
        self.kafka = KafkaServer(settings)
        self.elasticsearch = elasticsearch or ElasticsearchServer(settings)
        self.services: list[KafkaServer | ElasticsearchServer] = [self.kafka, self.elasticsearch]

    def up(self, timeout: float = START_TIMEOUT) -> list[ServiceStatus]:
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        start_services(self.services, timeout)
        return self.status()

    def down(self) -> list[str]:
        return [service.name for service in reversed(self.services) if service.stop()]

    def status(self) -> list[ServiceStatus]:
        return [service.status() for service in self.services]


def start_services(
    services: Sequence[KafkaServer | ElasticsearchServer], timeout: float = START_TIMEOUT
) -> None:
    """Start those of `services` not running yet (refusing ports held by someone else), then
    wait until every one is healthy."""
    for service in services:
        current = service.status()
        if current.running:
            log.info("%s already running (pid %s)", service.name, current.pid)
            continue
        for port in service.ports():
            if port_open(port):
                raise StackError(
                    f"port {port} needed by {service.name} is already in use by a process "
                    f"this stack did not start; stop it or choose other ports "
                    f"(MEDIAMON_KAFKA_PORT, MEDIAMON_ES_PORT, ...)"
                )
        service.start()
    deadline = time.monotonic() + timeout
    for service in services:
        while not service.healthy():
            if not service.status().running:
                raise StackError(
                    f"{service.name} exited during start-up; last lines of "
                    f"{service.log_file}:\n{_tail(service.log_file)}"
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{service.name} not healthy after {timeout:.0f}s; see {service.log_file}"
                )
            time.sleep(1)
