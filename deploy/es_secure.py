"""The local Elasticsearch node with x-pack security on: TLS on HTTP and on the transport
layer, the built-in `elastic` superuser's password from the caller, API keys enabled.

The certificates are made by the distribution's own `elasticsearch-certutil` (as Elastic's
docker-compose example does): one CA per state directory, kept across restarts so clients
keep trusting it, and a node certificate for 127.0.0.1 and localhost signed by it. The
superuser's password reaches the node through its keystore (`bootstrap.password`), written by
`elasticsearch-keystore` from stdin, never on a command line or in elasticsearch.yml. Every
file that holds a key or the keystore is 0600.

The native realm, roles and API keys live in the `.security` index, whose settings name
analysis components of the analysis-common module; the integ-test-zip lacks that module, and
the project's analysis plugin (deploy/esplugin.py) supplies the three it needs, so roles and
API keys are made here exactly as on a full distribution (docs/decisions.md).
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
import zipfile
from base64 import b64encode
from pathlib import Path

from pydantic import SecretStr

from deploy.stack import ElasticsearchServer
from pipeline.errors import StackError
from pipeline.settings import Settings

SUPERUSER = "elastic"
CERT_DAYS = 365
_SECURITY = """\
# x-pack security (deploy/es_secure.py)
xpack.security.enabled: true
xpack.security.authc.api_key.enabled: true
xpack.security.http.ssl.enabled: true
xpack.security.http.ssl.key: certs/node.key
xpack.security.http.ssl.certificate: certs/node.crt
xpack.security.http.ssl.certificate_authorities: ["certs/ca.crt"]
xpack.security.transport.ssl.enabled: true
xpack.security.transport.ssl.verification_mode: certificate
xpack.security.transport.ssl.key: certs/node.key
xpack.security.transport.ssl.certificate: certs/node.crt
xpack.security.transport.ssl.certificate_authorities: ["certs/ca.crt"]
"""


class SecureElasticsearchServer(ElasticsearchServer):
    """ElasticsearchServer over https with authentication; `password` is the `elastic`
    superuser's. Clients verify the node against `ca_file`."""

    def __init__(
        self,
        settings: Settings,
        password: SecretStr | None,
        extra_config: dict[str, str] | None = None,
    ) -> None:
        """`password`: the superuser's; None only to stop the node or ask if it is up."""
        if password is not None and len(password.get_secret_value()) < 6:
            raise StackError("the elastic superuser's password needs 6 characters or more")
        super().__init__(settings, extra_config)
        self.password = password
        self.tls_dir = self.dir / "tls"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.settings.es_port}"

    @property
    def ca_file(self) -> Path:
        """The CA certificate (public): what MEDIAMON_ES_CA_CERTS points at."""
        return self.tls_dir / "ca" / "ca.crt"

    def superuser_settings(self) -> Settings:
        """Settings for a client logging in as `elastic` over https, verifying the CA."""
        if self.password is None:
            raise StackError("the elastic superuser's password is unknown here")
        return self.settings.model_copy(
            update={
                "es_url": self.url,
                "es_username": SUPERUSER,
                "es_password": self.password,
                "es_api_key": None,
                "es_ca_certs": self.ca_file,
                "es_verify_certs": True,
            }
        )

    def client_settings(self, api_key: SecretStr) -> Settings:
        """Settings for a service that logs in with `api_key` (the `encoded` form)."""
        return self.settings.model_copy(
            update={
                "es_url": self.url,
                "es_username": None,
                "es_password": None,
                "es_api_key": api_key,
                "es_ca_certs": self.ca_file,
                "es_verify_certs": True,
            }
        )

    def healthy(self) -> bool:
        if not self.ca_file.exists():
            return False
        context = ssl.create_default_context(cafile=str(self.ca_file))
        headers = {}
        if self.password is not None:
            secret = f"{SUPERUSER}:{self.password.get_secret_value()}"
            headers["Authorization"] = f"Basic {b64encode(secret.encode()).decode()}"
        request = urllib.request.Request(
            f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as resp:
                status = json.loads(resp.read()).get("status")
        except urllib.error.HTTPError as exc:
            # without the password, a TLS handshake and a 401 are all one can know: it is up
            return self.password is None and exc.code == 401
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return status in ("yellow", "green")

    def render_config(self) -> str:
        text = super().render_config().replace("xpack.security.enabled: false\n", "")
        return text + _SECURITY

    def _prepare(self, home: Path, config: Path, env: dict[str, str]) -> None:
        if self.password is None:
            raise StackError("starting a secure node needs the elastic superuser's password")
        self._make_certificates(home, env)
        certs = config / "certs"
        certs.mkdir(mode=0o700)
        for source, name in (
            (self.ca_file, "ca.crt"),
            (self.tls_dir / "node" / "node.crt", "node.crt"),
            (self.tls_dir / "node" / "node.key", "node.key"),
        ):
            shutil.copyfile(source, certs / name)
            (certs / name).chmod(0o600)
        self._make_keystore(home, env)
        self.secure_marker.write_text("xpack.security.enabled: true\n")

    def _tool(self, home: Path, env: dict[str, str], args: list[str], stdin: str = "") -> None:
        proc = subprocess.run(
            [str(home / "bin" / args[0]), *args[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )
        if proc.returncode != 0:
            # the tools never echo stdin, so the password is not in what they print
            raise StackError(f"{args[0]} {args[1]} failed: {proc.stdout}{proc.stderr}")

    def _make_certificates(self, home: Path, env: dict[str, str]) -> None:
        """A CA (once per state directory) and a node certificate signed by it, as PEM."""
        self.tls_dir.mkdir(parents=True, exist_ok=True)
        certutil = "elasticsearch-certutil"
        if not self.ca_file.exists():
            shutil.rmtree(self.tls_dir / "node", ignore_errors=True)
            out = self.tls_dir / "ca.zip"
            self._tool(
                home,
                env,
                [certutil, "ca", "--pem", "--silent", "--days", str(CERT_DAYS), "--out", str(out)],
            )
            _unzip(out, self.tls_dir)
        if not (self.tls_dir / "node" / "node.crt").exists():
            out = self.tls_dir / "node.zip"
            self._tool(
                home,
                env,
                [
                    certutil,
                    "cert",
                    "--pem",
                    "--silent",
                    "--name",
                    "node",
                    "--ip",
                    "127.0.0.1",
                    "--dns",
                    "localhost",
                    "--days",
                    str(CERT_DAYS),
                    "--ca-cert",
                    str(self.ca_file),
                    "--ca-key",
                    str(self.tls_dir / "ca" / "ca.key"),
                    "--out",
                    str(out),
                ],
            )
            _unzip(out, self.tls_dir)
        for path in self.tls_dir.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o600)
        self.tls_dir.chmod(0o755)
        self.ca_file.chmod(0o644)  # public: clients of other users read it; keys stay 0600

    def _make_keystore(self, home: Path, env: dict[str, str]) -> None:
        """config/elasticsearch.keystore with the superuser's bootstrap password."""
        tool = "elasticsearch-keystore"
        self._tool(home, env, [tool, "create"])
        self._tool(
            home,
            env,
            [tool, "add", "--stdin", "--force", "bootstrap.password"],
            stdin=self.password.get_secret_value() if self.password else "",
        )
        (Path(env["ES_PATH_CONF"]) / "elasticsearch.keystore").chmod(0o600)


def _unzip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (dest / info.filename).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise StackError(f"{archive.name}: entry {info.filename!r} leaves {dest}")
        zf.extractall(dest)
    archive.unlink()
