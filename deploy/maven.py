"""Resolving the servers from Maven Central once into the cache folder (later runs offline)."""

from __future__ import annotations

import fcntl
import logging
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from pipeline.errors import StackError

log = logging.getLogger(__name__)
ES_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
_DONE = ".complete"


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError(
            "Maven (mvn) is needed once to fetch the Kafka and Elasticsearch jars from Maven "
            "Central, and it is not on PATH. Install Maven 3.6+ (e.g. apt-get install maven)."
        )
    return mvn


@contextmanager
def _resolving(cache_dir: Path, name: str) -> Iterator[None]:
    """One process resolves `name` into the cache at a time: two stacks started together on
    a fresh machine (the tests' and a benchmark's) would otherwise unpack into one folder."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_mvn(args: list[str], what: str) -> None:
    cmd = [_mvn(), "-B", "-q", *args]
    log.info("resolving %s: %s", what, " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise StackError(f"Maven could not resolve {what} (exit {proc.returncode}):\n{tail}")


def kafka_lib(cache_dir: Path, version: str) -> Path:
    """Folder of jars forming the broker's classpath for Kafka `version`."""
    home = cache_dir / f"kafka-{version}"
    lib = home / "lib"
    if (home / _DONE).exists():
        return lib
    with _resolving(cache_dir, home.name):
        if not (home / _DONE).exists():
            _fetch_kafka(home, lib, version)
    return lib


def _fetch_kafka(home: Path, lib: Path, version: str) -> None:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    pom = home / "pom.xml"
    pom.write_text(resources.files("deploy").joinpath("maven/kafka/pom.xml").read_text("utf-8"))
    _run_mvn(
        [
            "-f",
            str(pom),
            f"-Dkafka.version={version}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={lib}",
        ],
        f"Kafka {version}",
    )
    (home / _DONE).write_text(version)


def _unzip(archive: Path, dest: Path) -> None:
    """Unzip keeping the executable bits that zipfile drops (bin/elasticsearch needs them)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                target.chmod(mode)


def elasticsearch_home(cache_dir: Path, version: str) -> Path:
    """The unpacked Elasticsearch integration-test distribution for `version`."""
    root = cache_dir / f"elasticsearch-{version}"
    home = root / f"elasticsearch-{version}"
    if (root / _DONE).exists():
        return home
    with _resolving(cache_dir, root.name):
        if not (root / _DONE).exists():
            _fetch_elasticsearch(root, home, version)
    return home


def _fetch_elasticsearch(root: Path, home: Path, version: str) -> None:
    shutil.rmtree(root, ignore_errors=True)
    downloads = root / "download"
    downloads.mkdir(parents=True)
    _run_mvn(
        [
            "dependency:copy",
            f"-Dartifact={ES_ARTIFACT.format(version=version)}",
            f"-DoutputDirectory={downloads}",
        ],
        f"Elasticsearch {version}",
    )
    archive = next(downloads.glob("*.zip"), None)
    if archive is None:
        raise StackError(f"Maven reported success but no Elasticsearch zip is in {downloads}")
    _unzip(archive, root)
    archive.unlink()
    for script in (home / "bin").iterdir():
        script.chmod(0o755)
    (root / _DONE).write_text(version)
