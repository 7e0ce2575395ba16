"""Security settings reach the clients, and secrets stay out of logs and reprs."""

from __future__ import annotations

import logging
import ssl

import pytest

from pipeline.adapters.elastic import client_options
from pipeline.adapters.kafka import client_options as kafka_options
from pipeline.errors import ConfigError
from pipeline.settings import Settings

SECRET = "n0t-in-any-log"


def test_kafka_defaults_to_plaintext_and_sasl_with_a_username() -> None:
    assert kafka_options(Settings())["security_protocol"] == "PLAINTEXT"
    opts = kafka_options(Settings(kafka_username="pipe", kafka_password=SECRET))
    assert opts["security_protocol"] == "SASL_PLAINTEXT" and opts["sasl_mechanism"] == "PLAIN"
    assert opts["sasl_plain_password"] == SECRET and "ssl_context" not in opts


def test_kafka_scram_over_tls_verifies_certificates() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_username="pipe",
        kafka_password=SECRET,
    )
    opts = kafka_options(settings)
    assert opts["sasl_mechanism"] == "SCRAM-SHA-512"
    context = opts["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_sasl_without_credentials_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="MEDIAMON_KAFKA_USERNAME"):
        kafka_options(Settings(kafka_security_protocol="SASL_SSL"))


def test_elasticsearch_api_key_wins_and_tls_opt_out_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    both = Settings(es_api_key=SECRET, es_username="u", es_password="p")
    assert client_options(both) == {"api_key": SECRET}
    with caplog.at_level(logging.DEBUG):
        opts = client_options(
            Settings(
                es_url="https://es.example:9200",
                es_username="mediamon",
                es_password=SECRET,
                es_verify_certs=False,
                es_ca_certs="/etc/ssl/ca.pem",
            )
        )
    assert opts["verify_certs"] is False and opts["ca_certs"] == "/etc/ssl/ca.pem"
    assert "verification for https://es.example:9200 is OFF" in caplog.text
    assert SECRET not in caplog.text


def test_secrets_are_masked_in_reprs_and_dumps() -> None:
    settings = Settings(
        es_password=SECRET,
        es_api_key=SECRET,
        kafka_password=SECRET,
        smtp_password=SECRET,
        kibana_password=SECRET,
    )
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    assert SECRET not in settings.model_dump_json()
