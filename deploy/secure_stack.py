"""`mediamon stack up --secure`: Kafka and Elasticsearch with authentication, TLS and least
privilege, and one environment file per service holding its own credentials only.

- Kafka (deploy/kafka_sasl.py): SASL on every listener, clients on SASL_SSL
  (MEDIAMON_KAFKA_TLS_PORT, SCRAM-SHA-512, the broker's certificate as CA), the
  StandardAuthorizer with `admin` as the one super user, and a user per service whose ACLs
  pipeline/access.py defines.
- Elasticsearch (deploy/es_secure.py): TLS on HTTP and transport, the `elastic` superuser,
  and an API key per service with its role from pipeline/access.py.

The passwords are made here on the first start and kept in `<state>/secure/credentials.json`
(0600, never printed); the services' variables go to `<state>/secure/<service>.env` (0600),
for `env $(cat .state/secure/worker.env) mediamon worker` or a container's env_file. An API
key's secret is shown only when it is made: a service whose file has lost its key gets a new
generation (the old one stays valid until the next rotation).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from deploy.es_secure import SUPERUSER, SecureElasticsearchServer
from deploy.kafka_sasl import TLS_LISTENER, SaslKafkaServer, SaslUser
from deploy.stack import ServiceStatus, start_services
from pipeline.access import ES_KEY, KAFKA_SERVICES, SERVICES, default_principal, kafka_acls
from pipeline.adapters.elastic import make_client
from pipeline.adapters.es_security import IssuedKey, ensure_security
from pipeline.adapters.kafka_acls import ensure_acls
from pipeline.envfiles import read_env_file, write_env_file, write_private
from pipeline.settings import Settings

Role = Literal["admin", "connector", "worker", "web", "setup"]
ROLES: tuple[Role, ...] = ("admin", "connector", "worker", "web", "setup")
KAFKA_ADMIN = "admin"


class SecureStack:
    """Both secured servers, their credentials and the services' environment files."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.state_dir / "secure"
        self.credentials_file = self.dir / "credentials.json"
        passwords = self._passwords()
        users = [SaslUser(KAFKA_ADMIN, passwords[KAFKA_ADMIN])] + [
            SaslUser(self.kafka_user(s), passwords[self.kafka_user(s)]) for s in KAFKA_SERVICES
        ]
        self.kafka = SaslKafkaServer(settings, users, tls_port=settings.kafka_tls_port, acls=True)
        self.elasticsearch = SecureElasticsearchServer(settings, passwords[SUPERUSER])
        self.services: list[SaslKafkaServer | SecureElasticsearchServer] = [
            self.kafka,
            self.elasticsearch,
        ]

    @staticmethod
    def kafka_user(service: str) -> str:
        return default_principal(service).removeprefix("User:")  # type: ignore[arg-type]

    def _passwords(self) -> dict[str, SecretStr]:
        """The passwords, made once (letters, digits, - and _ only: they go into JAAS)."""
        names = [SUPERUSER, KAFKA_ADMIN, *(self.kafka_user(s) for s in KAFKA_SERVICES)]
        stored: dict[str, str] = {}
        if self.credentials_file.exists():
            stored = json.loads(self.credentials_file.read_text())
        missing = [n for n in names if n not in stored]
        if missing:
            stored |= {n: secrets.token_urlsafe(24) for n in missing}
            self.dir.mkdir(parents=True, exist_ok=True)
            self.dir.chmod(0o700)
            write_private(self.credentials_file, json.dumps(stored, indent=1) + "\n")
        return {n: SecretStr(stored[n]) for n in names}

    def env_file(self, role: Role) -> Path:
        return self.dir / f"{role}.env"

    def kafka_env(self, user: SaslUser) -> dict[str, str]:
        return {
            "MEDIAMON_KAFKA_BOOTSTRAP": self.kafka.tls_url,
            "MEDIAMON_KAFKA_SECURITY_PROTOCOL": TLS_LISTENER,
            "MEDIAMON_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "MEDIAMON_KAFKA_USERNAME": user.name,
            "MEDIAMON_KAFKA_PASSWORD": user.password.get_secret_value(),
            "MEDIAMON_KAFKA_CA_FILE": str(self.kafka.ca_file.resolve()),
        }

    def es_env(self) -> dict[str, str]:
        return {
            "MEDIAMON_ES_URL": self.elasticsearch.url,
            "MEDIAMON_ES_CA_CERTS": str(self.elasticsearch.ca_file.resolve()),
        }

    def _user(self, name: str) -> SaslUser:
        return next(u for u in self.kafka.users if u.name == name)

    def admin_env(self) -> dict[str, str]:
        assert self.elasticsearch.password is not None
        return {
            **self.kafka_env(self._user(KAFKA_ADMIN)),
            **self.es_env(),
            "MEDIAMON_ES_USERNAME": SUPERUSER,
            "MEDIAMON_ES_PASSWORD": self.elasticsearch.password.get_secret_value(),
        }

    def service_env(self, role: Role) -> dict[str, str]:
        """What the service's file holds (read back: the API key lives only there)."""
        return read_env_file(self.env_file(role))

    def admin_settings(self) -> Settings:
        return self._settings(self.admin_env())

    def _settings(self, env: dict[str, str]) -> Settings:
        values = {k.removeprefix("MEDIAMON_").lower(): v for k, v in env.items()}
        parsed = Settings.model_validate(values)  # these values only, not the environment
        return self.settings.model_copy(update=parsed.model_dump(include=set(values)))

    def up(self, timeout: float = 240.0) -> list[ServiceStatus]:
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        start_services(self.services, timeout)
        asyncio.run(self.provision())
        return self.status()

    def down(self) -> list[str]:
        return [s.name for s in reversed(self.services) if s.stop()]

    def status(self) -> list[ServiceStatus]:
        return [s.status() for s in self.services]

    async def provision(self) -> list[Path]:
        """Roles, API keys and ACLs (idempotent), then every service's file. A service
        whose file has no key yet gets a new one."""
        admin = self.admin_settings()
        missing = frozenset(s for s in SERVICES if ES_KEY not in self.service_env(s))
        es = make_client(admin)
        try:
            report = await ensure_security(es, admin, rotate=missing)
        finally:
            await es.close()
        principals = {s: default_principal(s) for s in KAFKA_SERVICES}
        await ensure_acls(admin, kafka_acls(admin, principals))
        issued: dict[str, IssuedKey] = {k.service: k for k in report.issued}
        written = []
        for role in ROLES:
            env: dict[str, str] = {}
            if role == "admin":
                env = self.admin_env()
            else:
                if role in KAFKA_SERVICES:
                    env |= self.kafka_env(self._user(self.kafka_user(role)))
                if role in SERVICES:
                    key = issued.get(role)
                    old = self.service_env(role).get(ES_KEY)
                    env |= self.es_env() | {
                        ES_KEY: key.encoded.get_secret_value() if key else str(old)
                    }
            path = self.env_file(role)
            if read_env_file(path) != env:
                write_env_file(path, env)
            written.append(path)
        return written
