"""The language-analyzer plugin for Elasticsearch servers that lack analysis-common.

The integ-test-zip distribution from Maven Central ships without the analysis-common module,
so the `russian`, `english`, ... analyzers the articles template uses do not exist there. Its
lib/ does hold Lucene's analyzers and Elasticsearch's stable plugin API, so a few lines of Java
(deploy/elasticsearch/analysis-plugin) register them under the built-in names, together with
the three components the x-pack `.security` index names (pattern_capture, uax_url_email,
unique), without which no role or API key can be created there (deploy/es_secure.py). The plugin is
compiled with the JDK's javac against those jars and installed into the server's plugins/
directory; a full distribution (docker-compose) has analysis-common and never gets it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from deploy.java import Java
from pipeline.errors import StackError

PLUGIN_NAME = "mediamon-analysis"
_STAMP = ".mediamon-source-sha256"


def _sources() -> dict[str, bytes]:
    root = resources.files("deploy").joinpath("elasticsearch", "analysis-plugin")
    files: dict[str, bytes] = {}

    def walk(node: object, prefix: str) -> None:
        for child in node.iterdir():  # type: ignore[attr-defined]
            name = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, f"{name}/")
            else:
                files[name] = child.read_bytes()

    walk(root, "")
    return files


def _digest(files: dict[str, bytes], es_version: str) -> str:
    h = hashlib.sha256(es_version.encode())
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name])
    return h.hexdigest()


def needs_plugin(home: Path) -> bool:
    return not (home / "modules" / "analysis-common").is_dir()


def ensure_analysis_plugin(home: Path, java: Java, es_version: str) -> Path | None:
    """Build and install the plugin into `home`/plugins unless the server has the analyzers
    already or the installed copy is current. Returns the plugin directory, or None."""
    if not needs_plugin(home):
        return None
    files = _sources()
    digest = _digest(files, es_version)
    target = home / "plugins" / PLUGIN_NAME
    stamp = target / _STAMP
    if stamp.exists() and stamp.read_text().strip() == digest:
        return target
    javac = java.home / "bin" / "javac"
    if not javac.exists():
        found = shutil.which("javac")
        if not found:
            raise StackError(
                f"building the {PLUGIN_NAME} plugin needs javac (a JDK, not a JRE); "
                f"none at {javac} or on PATH"
            )
        javac = Path(found)
    with tempfile.TemporaryDirectory(prefix="mediamon-esplugin-") as tmp:
        work = Path(tmp)
        for name, data in files.items():
            path = work / "src-tree" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        java_files = sorted(str(p) for p in (work / "src-tree" / "src").rglob("*.java"))
        classes = work / "classes"
        result = subprocess.run(
            [
                str(javac),
                "--release",
                "17",
                "-nowarn",
                "-cp",
                str(home / "lib" / "*"),
                "-d",
                str(classes),
                *java_files,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise StackError(f"compiling the {PLUGIN_NAME} plugin failed:\n{result.stderr}")
        staging = work / PLUGIN_NAME
        staging.mkdir()
        with zipfile.ZipFile(staging / f"{PLUGIN_NAME}.jar", "w") as jar:
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
        (staging / "named_components.json").write_bytes(files["named_components.json"])
        descriptor = files["stable-plugin-descriptor.properties.in"].decode()
        (staging / "stable-plugin-descriptor.properties").write_text(
            descriptor.format(es_version=es_version)
        )
        (staging / _STAMP).write_text(digest)
        for path in [staging, *staging.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        # Several stacks share one cached server: swap the directory in whole.
        target.parent.mkdir(parents=True, exist_ok=True)
        incoming = target.parent / f".{PLUGIN_NAME}.{os.getpid()}"
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.copytree(staging, incoming)
        old = target.parent / f".{PLUGIN_NAME}.old.{os.getpid()}"
        if target.exists():
            target.rename(old)
        incoming.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    return target
