"""The local Kafka broker with a SASL_PLAINTEXT client listener, and optionally a SASL_SSL one
whose certificate (made here with the JDK's keytool, valid for 127.0.0.1) clients verify
against `ca_file`: every user may log in with PLAIN and with SCRAM-SHA-512. For tests of the
clients' authentication and TLS against the real broker; the passwords come from the caller
(a test fixture, the environment), never from a file here."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from deploy.java import find_java
from deploy.stack import KAFKA_MIN_JAVA, KafkaServer, override_properties, port_open
from pipeline.adapters.kafka import broker_ready
from pipeline.errors import StackError
from pipeline.settings import Settings

MECHANISMS = ("PLAIN", "SCRAM-SHA-512")
# Kafka refuses fewer than 4096 for SCRAM-SHA-512; 8192 is its tools' example.
SCRAM_ITERATIONS = 8192
# Names and passwords go into a JAAS line between double quotes and into a SCRAM credential
# list: keep them to characters that need no escaping in either.
_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
LISTENER = "SASL_PLAINTEXT"
TLS_LISTENER = "SASL_SSL"


@dataclass(frozen=True)
class SaslUser:
    name: str
    password: SecretStr

    def __post_init__(self) -> None:
        if not _SAFE.match(self.name) or not _SAFE.match(self.password.get_secret_value()):
            raise StackError(
                f"SASL user {self.name!r}: use letters, digits, - and _ only in names and "
                "passwords (they go into JAAS and SCRAM strings unescaped)"
            )


def scram_credential(user: SaslUser, iterations: int = SCRAM_ITERATIONS) -> str:
    """`kafka-storage format --add-scram` value with the salted password (RFC 5802 Hi(), i.e.
    PBKDF2-HMAC-SHA-512) instead of the password, so the password is not on a command line."""
    salt = secrets.token_bytes(32)
    salted = hashlib.pbkdf2_hmac(
        "sha512", user.password.get_secret_value().encode(), salt, iterations
    )
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-512=[name={user.name},iterations={iterations},"
        f'salt="{b64(salt).decode()}",saltedpassword="{b64(salted).decode()}"]'
    )


class SaslKafkaServer(KafkaServer):
    """KafkaServer whose client listener is SASL_PLAINTEXT. `users[0]` is the broker's own
    identity (inter-broker, PLAIN) and the one its health check logs in as. SCRAM users are
    written at format time, so a state directory formatted before keeps its old ones."""

    def __init__(
        self,
        settings: Settings,
        users: Sequence[SaslUser],
        tls_port: int | None = None,
        acls: bool = False,
    ) -> None:
        """`acls`: Kafka's StandardAuthorizer on, `users[0]` the one super user, everyone else
        allowed only what an ACL grants; the controller listener then takes SASL too, so
        the broker's own requests to it carry `users[0]`, not an anonymous principal."""
        if not users:
            raise StackError("a SASL broker needs at least one user")
        super().__init__(settings)
        self.users = list(users)
        self.tls_port = tls_port
        self.acls = acls

    @property
    def tls_url(self) -> str:
        return f"127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        """The broker's (self-signed) certificate: the CA its TLS clients trust."""
        return self.dir / "tls" / "ca.pem"

    def client_settings(
        self, user: SaslUser, mechanism: str = "PLAIN", tls: bool = False
    ) -> Settings:
        """Settings for mediamon's clients logging in as `user` with `mechanism`, over TLS
        (verifying the broker against `ca_file`) with `tls`."""
        update: dict[str, object] = {
            "kafka_bootstrap": self.url,
            "kafka_security_protocol": LISTENER,
            "kafka_sasl_mechanism": mechanism,
            "kafka_username": user.name,
            "kafka_password": user.password,
        }
        if tls:
            update |= {
                "kafka_bootstrap": self.tls_url,
                "kafka_security_protocol": TLS_LISTENER,
                "kafka_ca_file": self.ca_file,
            }
        return self.settings.model_copy(update=update)

    def healthy(self) -> bool:
        if not port_open(self.settings.kafka_port):
            return False
        settings = self.client_settings(self.users[0])
        return asyncio.run(broker_ready(self.url, settings=settings))

    def ports(self) -> list[int]:
        return [*super().ports(), *([self.tls_port] if self.tls_port is not None else [])]

    def _render(self) -> Path:
        props = super()._render()
        admin = self.users[0]
        plain = " ".join(f'user_{u.name}="{u.password.get_secret_value()}"' for u in self.users)
        listeners = {LISTENER: self.url}
        if self.tls_port is not None:
            listeners[TLS_LISTENER] = self.tls_url
        values = {
            "listeners": ",".join(f"{n}://{url}" for n, url in listeners.items())
            + f",CONTROLLER://127.0.0.1:{self.settings.kafka_controller_port}",
            "advertised.listeners": ",".join(f"{n}://{url}" for n, url in listeners.items()),
            "listener.security.protocol.map": ",".join(f"{n}:{n}" for n in listeners)
            + ",CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": LISTENER,
            "sasl.enabled.mechanisms": ",".join(MECHANISMS),
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
        }
        for name in listeners:
            prefix = f"listener.name.{name.lower()}"
            values[f"{prefix}.plain.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                f'username="{admin.name}" password="{admin.password.get_secret_value()}" '
                f"{plain};"
            )
            values[f"{prefix}.scram-sha-512.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
        if self.acls:
            admin_jaas = values[f"listener.name.{LISTENER.lower()}.plain.sasl.jaas.config"]
            values["listener.security.protocol.map"] = values[
                "listener.security.protocol.map"
            ].replace("CONTROLLER:PLAINTEXT", f"CONTROLLER:{LISTENER}")
            values |= {
                "sasl.mechanism.controller.protocol": "PLAIN",
                "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
                "listener.name.controller.plain.sasl.jaas.config": admin_jaas,
                "authorizer.class.name": (
                    "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
                ),
                "super.users": f"User:{admin.name}",
                "allow.everyone.if.no.acl.found": "false",
            }
        if self.tls_port is not None:
            keystore, password = self._make_keystore()
            values |= {
                "ssl.keystore.type": "PKCS12",
                "ssl.keystore.location": str(keystore),
                "ssl.keystore.password": password,
            }
        props.chmod(0o600)  # before the passwords go in
        props.write_text(
            override_properties(props.read_text(), values, "SASL (deploy/kafka_sasl.py)")
        )
        return props

    def _make_keystore(self) -> tuple[Path, str]:
        """A fresh key and self-signed certificate for 127.0.0.1 (PKCS12, readable by the
        owner only) and its certificate as `ca_file`; the store password is new each time
        and reaches keytool through the environment, not its command line."""
        tls = self.ca_file.parent
        tls.mkdir(parents=True, exist_ok=True)
        tls.chmod(0o700)
        keystore = tls / "broker.p12"
        keystore.unlink(missing_ok=True)
        password = secrets.token_urlsafe(24)
        keytool = str(find_java(KAFKA_MIN_JAVA, self.settings.java_home).home / "bin" / "keytool")
        env = {**os.environ, "MEDIAMON_KEYSTORE_PASSWORD": password}
        common = ["-keystore", str(keystore), "-storepass:env", "MEDIAMON_KEYSTORE_PASSWORD"]
        generate = "-genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 30"
        generate += " -dname CN=127.0.0.1 -storetype PKCS12 -ext SAN=ip:127.0.0.1,dns:localhost"
        export = ["-exportcert", "-rfc", "-alias", "broker", "-file", str(self.ca_file)]
        for args in (generate.split(), export):
            proc = subprocess.run(
                [keytool, *args, *common], capture_output=True, text=True, env=env, check=False
            )
            if proc.returncode != 0:
                raise StackError(f"keytool {args[0]} failed: {proc.stdout}{proc.stderr}")
        keystore.chmod(0o600)
        return keystore, password

    def _format_options(self) -> list[str]:
        return [opt for user in self.users for opt in ("--add-scram", scram_credential(user))]


def random_password() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(24))
