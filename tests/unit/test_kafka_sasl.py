"""Kafka SASL without a broker: the SASL broker's configuration and SCRAM users
(deploy/kafka_sasl.py), Faust's credentials (pipeline.app.credentials), and aiokafka's DEBUG
lines with the SASL exchange hidden. The same against a real broker: tests/integration."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import stat
from pathlib import Path

import faust
import pytest
from aiokafka.protocol.admin import SaslAuthenticateRequest_v1
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from deploy.kafka_sasl import SCRAM_ITERATIONS, SaslKafkaServer, SaslUser, scram_credential
from pipeline.adapters import kafka
from pipeline.app import credentials as credentials_of
from pipeline.errors import StackError
from pipeline.settings import Settings

PASSWORD = "Pa55-word_for-tests"


def _server(tmp_path: Path) -> SaslKafkaServer:
    settings = Settings(state_dir=tmp_path, kafka_port=59092, kafka_controller_port=59093)
    users = [SaslUser("broker", SecretStr("broker-pw")), SaslUser("alice", SecretStr(PASSWORD))]
    return SaslKafkaServer(settings, users)


def test_scram_credential_is_salted_not_the_password() -> None:
    value = scram_credential(SaslUser("alice", SecretStr(PASSWORD)))
    assert PASSWORD not in value
    found = re.fullmatch(
        r'SCRAM-SHA-512=\[name=alice,iterations=(\d+),salt="([^"]+)",saltedpassword="([^"]+)"\]',
        value,
    )
    assert found, value
    iterations, salt, salted = int(found[1]), base64.b64decode(found[2]), found[3]
    assert iterations == SCRAM_ITERATIONS >= 4096  # Kafka's minimum for SCRAM-SHA-512
    # RFC 5802 SaltedPassword = Hi(password, salt, i) = PBKDF2-HMAC-SHA-512
    expected = hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt, iterations)
    assert base64.b64decode(salted) == expected
    assert scram_credential(SaslUser("alice", SecretStr(PASSWORD))) != value  # fresh salt


@pytest.mark.parametrize(("name", "password"), [("al=ice", "pw"), ("alice", 'p"w'), ("a", "")])
def test_unsafe_names_and_passwords_are_refused(name: str, password: str) -> None:
    with pytest.raises(StackError, match="letters, digits") as info:
        SaslUser(name, SecretStr(password))
    assert not password or password not in str(info.value)


def test_broker_config_has_only_a_sasl_client_listener(tmp_path: Path) -> None:
    server = _server(tmp_path)
    props = server._render()
    assert stat.S_IMODE(props.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in props.read_text().splitlines() if "=" in line[:60])
    assert values["listeners"] == "SASL_PLAINTEXT://127.0.0.1:59092,CONTROLLER://127.0.0.1:59093"
    assert values["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:59092"
    assert values["listener.security.protocol.map"] == (
        "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    assert values["sasl.enabled.mechanisms"] == "PLAIN,SCRAM-SHA-512"
    jaas = values["listener.name.sasl_plaintext.plain.sasl.jaas.config"]
    assert f'user_alice="{PASSWORD}"' in jaas and 'user_broker="broker-pw"' in jaas
    assert props.read_text().count("listeners=") == 2  # replaced, not appended twice
    options = server._format_options()
    assert options[::2] == ["--add-scram", "--add-scram"]
    assert all(PASSWORD not in o and "broker-pw" not in o for o in options)


def test_client_settings_log_in_as_the_user(tmp_path: Path) -> None:
    server = _server(tmp_path)
    opts = kafka.client_options(server.client_settings(server.users[1], "SCRAM-SHA-512"))
    assert opts == {
        "bootstrap_servers": "127.0.0.1:59092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alice",
        "sasl_plain_password": PASSWORD,
    }


@pytest.mark.parametrize(
    ("protocol", "mechanism"),
    [
        ("SASL_PLAINTEXT", "PLAIN"),
        ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
        ("SASL_SSL", "SCRAM-SHA-256"),
    ],
)
def test_faust_gets_the_same_login_as_aiokafka(protocol: str, mechanism: str) -> None:
    settings = Settings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_username="alice",
        kafka_password=SecretStr(PASSWORD),
    )
    credentials = credentials_of(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert PASSWORD not in repr(credentials)
    # what faust's aiokafka driver hands its consumers and producers
    faust_opts = dict(credentials_to_aiokafka_auth(credentials))
    ours = kafka.client_options(settings)
    for key in ("security_protocol", "sasl_mechanism", "sasl_plain_username"):
        assert faust_opts[key] == ours[key], key
    assert faust_opts["sasl_plain_password"] == PASSWORD
    assert (faust_opts["ssl_context"] is None) == (protocol == "SASL_PLAINTEXT")


def test_plaintext_gives_faust_no_credentials() -> None:
    assert credentials_of(Settings(kafka_security_protocol="PLAINTEXT")) is None


def test_aiokafka_debug_lines_hide_the_sasl_exchange(caplog: pytest.LogCaptureFixture) -> None:
    request = SaslAuthenticateRequest_v1(b"alice\x00alice\x00" + PASSWORD.encode())
    assert PASSWORD in str(request)  # what aiokafka would log
    with caplog.at_level(logging.DEBUG, logger="aiokafka.conn"):
        logging.getLogger("aiokafka.conn").debug(
            "Request to %s:%d %d: %s", "127.0.0.1", 59092, 3, request
        )
    assert PASSWORD not in caplog.text
    assert "Request to 127.0.0.1:59092 3: <SaslAuthenticateRequest_v1, content hidden>" in (
        caplog.text
    )


def test_broker_with_acls_has_one_super_user_and_a_sasl_controller(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_port=59092, kafka_controller_port=59093)
    users = [SaslUser("broker", SecretStr("broker-pw")), SaslUser("alice", SecretStr(PASSWORD))]
    props = SaslKafkaServer(settings, users, acls=True)._render()
    values = dict(line.split("=", 1) for line in props.read_text().splitlines() if "=" in line[:60])
    assert values["authorizer.class.name"].endswith("StandardAuthorizer")
    assert values["super.users"] == "User:broker"  # not ANONYMOUS, not alice
    assert values["allow.everyone.if.no.acl.found"] == "false"
    # the broker's own requests to the controller authenticate too
    assert "CONTROLLER:SASL_PLAINTEXT" in values["listener.security.protocol.map"]
    assert values["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert 'username="broker"' in values["listener.name.controller.plain.sasl.jaas.config"]
