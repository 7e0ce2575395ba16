"""The local Kafka broker with a SASL_PLAINTEXT client listener: every user may log in with
PLAIN and with SCRAM-SHA-512. For tests of the clients' authentication against the real broker;
the passwords come from the caller (a test fixture, the environment), never from a file here."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from deploy.stack import KafkaServer, port_open
from pipeline.errors import StackError
from pipeline.settings import Settings

MECHANISMS = ("PLAIN", "SCRAM-SHA-512")
# Kafka refuses fewer than 4096 for SCRAM-SHA-512; 8192 is its tools' example.
SCRAM_ITERATIONS = 8192
# Names and passwords go into a JAAS line between double quotes and into a SCRAM credential
# list: keep them to characters that need no escaping in either.
_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
LISTENER = "SASL_PLAINTEXT"


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


def _override(text: str, values: dict[str, str]) -> str:
    """server.properties with `values` replacing the same keys (or appended)."""
    lines = [ln for ln in text.splitlines() if ln.split("=", 1)[0].strip() not in values]
    return "\n".join([*lines, "# SASL (deploy/kafka_sasl.py)", *map("=".join, values.items())])


class SaslKafkaServer(KafkaServer):
    """KafkaServer whose client listener is SASL_PLAINTEXT. `users[0]` is the broker's own
    identity (inter-broker, PLAIN) and the one its health check logs in as. SCRAM users are
    written at format time, so a state directory formatted before keeps its old ones."""

    def __init__(self, settings: Settings, users: Sequence[SaslUser]) -> None:
        if not users:
            raise StackError("a SASL broker needs at least one user")
        super().__init__(settings)
        self.users = list(users)

    def client_settings(self, user: SaslUser, mechanism: str = "PLAIN") -> Settings:
        """Settings for mediamon's clients logging in as `user` with `mechanism`."""
        return self.settings.model_copy(
            update={
                "kafka_bootstrap": self.url,
                "kafka_security_protocol": LISTENER,
                "kafka_sasl_mechanism": mechanism,
                "kafka_username": user.name,
                "kafka_password": user.password,
            }
        )

    def healthy(self) -> bool:
        if not port_open(self.settings.kafka_port):
            return False
        from pipeline.adapters.kafka import broker_ready

        settings = self.client_settings(self.users[0])
        return asyncio.run(broker_ready(self.url, settings=settings))

    def _render(self) -> Path:
        props = super()._render()
        admin = self.users[0]
        plain = " ".join(f'user_{u.name}="{u.password.get_secret_value()}"' for u in self.users)
        text = _override(
            props.read_text(),
            {
                "listeners": f"{LISTENER}://{self.url},CONTROLLER://127.0.0.1:"
                f"{self.settings.kafka_controller_port}",
                "advertised.listeners": f"{LISTENER}://{self.url}",
                "listener.security.protocol.map": f"{LISTENER}:{LISTENER},CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name": LISTENER,
                "sasl.enabled.mechanisms": ",".join(MECHANISMS),
                "sasl.mechanism.inter.broker.protocol": "PLAIN",
                "listener.name.sasl_plaintext.plain.sasl.jaas.config": (
                    "org.apache.kafka.common.security.plain.PlainLoginModule required "
                    f'username="{admin.name}" password="{admin.password.get_secret_value()}" '
                    f"{plain};"
                ),
                "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                ),
            },
        )
        props.chmod(0o600)  # before the passwords go in
        props.write_text(text + "\n")
        return props

    def _format_options(self) -> list[str]:
        return [opt for user in self.users for opt in ("--add-scram", scram_credential(user))]


def random_password() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(24))
