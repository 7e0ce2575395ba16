"""The pure parts behind the image and `make test-containers`: the runtime lock, the rules
summary a container prints at start, and how a service's settings become `podman run`."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy import podman, runtime_lock
from pipeline.alerts.rules import rules_summary


def test_the_runtime_lock_is_the_closure_of_the_runtime_dependencies() -> None:
    assert runtime_lock.problems() == []
    runtime = runtime_lock.pins(runtime_lock.RUNTIME_LOCK)
    assert {"faust-streaming", "elasticsearch", "trafilatura", "uvicorn"} <= runtime.keys()
    # test and lint tools stay out of the image
    assert not {"pytest", "ruff", "mypy", "playwright", "import-linter"} & runtime.keys()
    locked = runtime_lock.pins()
    assert all(locked[name] == version for name, version in runtime.items())


def test_every_runtime_pin_carries_hashes() -> None:
    text = runtime_lock.RUNTIME_LOCK.read_text()
    entries = text.split("==")[1:]
    assert entries and all("--hash=sha256:" in e for e in entries)


@pytest.mark.parametrize(
    ("filename", "wanted"),
    [
        ("numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", True),
        ("numpy-2.4.6-cp312-cp312-manylinux_2_27_x86_64.whl", False),
        ("numpy-2.4.6-cp311-cp311-win_amd64.whl", False),
        ("numpy-2.4.6-cp311-cp311-macosx_14_0_arm64.whl", False),
        ("rich-15.0.0-py3-none-any.whl", True),
        ("pydantic_core-2.50.5-cp39-abi3-musllinux_1_1_aarch64.whl", True),
        ("pycld2-0.42.tar.gz", True),
    ],
)
def test_hashes_are_kept_for_files_pip_could_install_here(filename: str, wanted: bool) -> None:
    assert runtime_lock.wanted_file(filename) is wanted


def test_a_missing_rules_file_is_said_not_silent(tmp_path: Path) -> None:
    on, line = rules_summary(tmp_path / "rules.yaml")
    assert not on and "alerts: no rules" in line and "MEDIAMON_RULES_FILE" in line


def test_rules_summary_counts_enabled_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules: []\n")
    assert rules_summary(path) == (False, f"alerts: no rules ({path} has no enabled rule)")
    path.write_text(
        "channels:\n  log:\n    type: webhook\n    url: https://hooks.example.org/x\n"
        "rules:\n  - {id: a, query: Astana, channels: [log]}\n"
        "  - {id: b, query: Syria, channels: [log], enabled: false}\n"
    )
    assert rules_summary(path) == (True, f"alerts: 1 rule(s) enabled from {path}")


def test_a_container_gets_the_volume_the_config_files_and_only_mediamon_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.chown", lambda *args: None)
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\n")
    env = {
        "PATH": "/host/bin",
        "HOME": "/root",
        "MEDIAMON_STATE_DIR": str(tmp_path / "state"),
        "MEDIAMON_RULES_FILE": str(rules),
        "MEDIAMON_FEEDS_FILE": str(tmp_path / "absent.yaml"),
        "MEDIAMON_KAFKA_BOOTSTRAP": "127.0.0.1:49092",
        "BROKER_SESSION_TIMEOUT": "10",
    }
    proc = podman.ContainerProcess("worker", ["worker"], env, tmp_path / "w.log")
    proc.env = env  # not os.environ's: the host's PATH and HOME must not reach the image
    args = proc.run_args()
    assert args[-2:] == [podman.IMAGE, "worker"]
    assert f"{tmp_path / 'state'}:/var/lib/mediamon:rw" in args
    assert f"{rules}:/etc/mediamon/rules.yaml:ro" in args
    assert not any("absent.yaml" in a for a in args)  # the image's default path says "missing"
    flags = [a for a in args if a.startswith("--env=")]
    assert flags == [
        "--env=BROKER_SESSION_TIMEOUT=10",
        "--env=MEDIAMON_KAFKA_BOOTSTRAP=127.0.0.1:49092",
    ]
    assert "--read-only" in args and "--read-only-tmpfs=false" in args
    assert (tmp_path / "state").is_dir()


def test_the_debian_mirror_comes_from_apt_sources() -> None:
    mirror = podman.debian_mirror()
    assert mirror.startswith(("http://", "https://")) and mirror.endswith("/debian")
