"""The mediamon image built and run with podman, where Docker and its registries are absent.

`make test-containers` uses this: a base image made with debootstrap from the Debian mirror
apt uses (when none is present), the image built from deploy/docker/Dockerfile on it, and
services run as containers with the host's network, the state volume and a read-only root.
Podman needs a containers.conf here (docs/decisions.md): this sandbox refuses to change
RLIMIT_NPROC/NOFILE, and crun refuses its cgroup layout, so `default_ulimits = []` and runc.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from deploy.processes import ServiceProcess

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "containers"
BASE_IMAGE = "localhost/mediamon-base:bookworm"
IMAGE = "localhost/mediamon:test"
# what the Dockerfile needs of a base besides Debian itself: Python 3.11 and its venv module
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
STATE = "/var/lib/mediamon"  # the image's one volume
CONFIG = "/etc/mediamon"  # where compose mounts rules.yaml and feeds.yaml, read-only
CONTAINERS_CONF = """\
# written by deploy/podman.py: this sandbox refuses RLIMIT changes, and crun its cgroups
[containers]
default_ulimits = []
[engine]
runtime = "runc"
"""


class PodmanError(RuntimeError):
    pass


def environment() -> dict[str, str]:
    """os.environ with CONTAINERS_CONF pointing at our containers.conf (unless set)."""
    env = dict(os.environ)
    if "CONTAINERS_CONF" not in env:
        CACHE.mkdir(parents=True, exist_ok=True)
        conf = CACHE / "containers.conf"
        if not conf.exists() or conf.read_text() != CONTAINERS_CONF:
            conf.write_text(CONTAINERS_CONF)
        env["CONTAINERS_CONF"] = str(conf)
    return env


Completed = subprocess.CompletedProcess[str]


def podman(*args: str, check: bool = True, timeout: float = 600) -> Completed:
    if shutil.which("podman") is None:
        raise PodmanError("podman is not installed (apt-get install podman runc debootstrap)")
    proc = subprocess.run(
        ["podman", *args], capture_output=True, text=True, env=environment(), timeout=timeout
    )
    if check and proc.returncode != 0:
        raise PodmanError(f"podman {' '.join(args[:3])}: exit {proc.returncode}\n{proc.stderr}")
    return proc


def image_exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


def debian_mirror() -> str:
    """The mirror apt uses here (deb822 or one-line sources), else deb.debian.org."""
    sources = [*Path("/etc/apt/sources.list.d").glob("*.sources"), Path("/etc/apt/sources.list")]
    for path in sources:
        with contextlib.suppress(OSError):
            text = path.read_text()
            found = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or re.search(
                r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)\s+bookworm\b", text, re.M
            )
            if found:
                return found.group(1)
    return "http://deb.debian.org/debian"


def ensure_base(log: Path) -> float:
    """Build BASE_IMAGE with debootstrap unless present; seconds spent (0 when present)."""
    if image_exists(BASE_IMAGE):
        return 0.0
    if shutil.which("debootstrap") is None:
        raise PodmanError("debootstrap is not installed (apt-get install debootstrap)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mediamon-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        with open(log, "ab") as out:
            subprocess.run(
                ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                 "bookworm", str(rootfs), debian_mirror()],
                stdout=out, stderr=subprocess.STDOUT, check=True, timeout=900,
            )  # fmt: skip
        # apt's downloads and lists are half the size and no use in an image
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / junk).glob("*"):
                if item.is_file():
                    item.unlink()
        # `with`: the pipe's read end is closed here too, once podman has it
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            imported = subprocess.run(
                ["podman", "import", "-", BASE_IMAGE],
                stdin=tar.stdout, capture_output=True, text=True, env=environment(), check=False,
            )  # fmt: skip
        if imported.returncode != 0 or tar.returncode != 0:
            raise PodmanError(f"podman import: {imported.stderr}")
    return time.monotonic() - started


def build_image(log: Path, tag: str = IMAGE, base: str = BASE_IMAGE) -> float:
    """Build the Dockerfile on `base`; seconds spent. The host's CA certificates are mounted
    for the build's RUN steps only (a proxy that re-signs TLS, as here, needs them), never
    copied into the image."""
    started = time.monotonic()
    args = ["build", "--network", "host", "--build-arg", f"BASE={base}", "--tag", tag,
            "--file", str(ROOT / "deploy" / "docker" / "Dockerfile")]  # fmt: skip
    if Path("/etc/ssl/certs/ca-certificates.crt").exists():
        args += ["--volume", "/etc/ssl/certs:/etc/ssl/certs:ro"]
    proc = podman(*args, str(ROOT), check=False, timeout=1800)
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise PodmanError(f"podman build failed (see {log}):\n{proc.stderr[-3000:]}")
    return time.monotonic() - started


def remove(name: str) -> None:
    podman("rm", "--force", "--time", "0", name, check=False)


class ContainerProcess(ServiceProcess):
    """`mediamon <args>` in a container of the image, with ServiceProcess's interface.

    The host's network; the state directory (MEDIAMON_STATE_DIR) bind-mounted as the volume;
    the rules and feeds files read-only under /etc/mediamon; only MEDIAMON_* and BROKER_*
    variables passed; a read-only root with no tmpfs, so a write anywhere but the volume
    fails. The container is kept after it exits (for `podman diff`), removed by `remove()`.
    """

    def __init__(
        self,
        name: str,
        args: list[str],
        env: Mapping[str, str],
        log_path: Path,
        image: str = IMAGE,
    ) -> None:
        super().__init__(name, args, dict(env), log_path)
        self.image = image
        self.container = f"mediamon-test-{name}-{os.getpid()}-{time.monotonic_ns() % 10**6}"

    def run_args(self) -> list[str]:
        env = {k: v for k, v in self.env.items() if k.startswith(("MEDIAMON_", "BROKER_"))}
        mounts: list[str] = []
        state = env.pop("MEDIAMON_STATE_DIR", None)
        if state:
            Path(state).mkdir(parents=True, exist_ok=True)
            os.chown(state, 10001, 10001)  # the image's user; CI runs as root
            mounts += ["--volume", f"{state}:{STATE}:rw"]
        config = {"MEDIAMON_RULES_FILE": "rules.yaml", "MEDIAMON_FEEDS_FILE": "feeds.yaml"}
        for var, inside in config.items():
            path = env.pop(var, None)
            if path and Path(path).exists():
                mounts += ["--volume", f"{Path(path).resolve()}:{CONFIG}/{inside}:ro"]
        flags = [f"--env={k}={v}" for k, v in sorted(env.items())]
        return ["run", "--name", self.container, "--network", "host", "--read-only",
                "--read-only-tmpfs=false", "--stop-timeout", "30", *mounts, *flags,
                self.image, *self.args]  # fmt: skip

    def start(self) -> ContainerProcess:
        podman("rm", "--force", self.container, check=False)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            # `podman run` in the foreground: its exit is the container's, SIGTERM is proxied
            self.proc = subprocess.Popen(
                ["podman", *self.run_args()],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment(),
            )
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM to the container's process, SIGKILL after `timeout`; its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            podman("stop", "--time", str(int(timeout)), self.container, check=False)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)
        return self.exit_code()

    def kill(self) -> None:
        """SIGKILL to the container (the service inside gets no chance to flush)."""
        if self.proc is not None and self.proc.poll() is None:
            podman("kill", "--signal", "KILL", self.container, check=False)
            self.proc.wait(30)

    def exit_code(self) -> int | None:
        state = podman("inspect", "--format", "{{.State.ExitCode}}", self.container, check=False)
        return int(state.stdout.strip()) if state.returncode == 0 else None

    def process_uids(self) -> set[int]:
        """The host uids of the container's processes while it runs (podman's own `huser`
        descriptor: the image has no ps(1) for the others)."""
        top = podman("top", self.container, "huser", check=False)
        return {int(u) for u in top.stdout.split()[1:] if u.isdigit()}

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the container's processes so far (VmHWM from /proc on the
        host, summed over the processes: an upper bound for a process pool's peaks)."""
        top = podman("top", self.container, "hpid", check=False)
        total_kb = 0
        for pid in (p for p in top.stdout.split()[1:] if p.isdigit()):
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
                total_kb += int(found.group(1)) if found else 0
        return total_kb / 1024

    def changes(self) -> list[str]:
        """What the container changed outside its volumes (`podman diff`): should be none.
        The mount points podman itself made for the bind mounts, and their parents, are not
        the service's writes."""
        mounts = podman(
            "inspect", "--format", "{{range .Mounts}}{{.Destination}}\n{{end}}", self.container
        ).stdout.split()
        diff = podman("diff", "--format", "json", self.container).stdout
        changed = [p for paths in json.loads(diff or "{}").values() for p in paths or []]
        return [
            p
            for p in changed
            if not any(m == p or m.startswith(p.rstrip("/") + "/") for m in mounts)
        ]

    def remove(self) -> None:
        remove(self.container)


@contextlib.contextmanager
def containers() -> Iterator[list[ContainerProcess]]:
    """A list to put ContainerProcesses in; every one is removed at the end."""
    made: list[ContainerProcess] = []
    try:
        yield made
    finally:
        for c in made:
            c.kill()
            c.remove()
