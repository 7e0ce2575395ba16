"""The services' roles (pipeline/access.py), the errors an operator reads for refused
credentials and certificates, the secure node's configuration, and the 0600 key files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig, TlsError
from elasticsearch import AuthenticationException, AuthorizationException
from pydantic import SecretStr

from deploy.es_secure import SecureElasticsearchServer
from mediamon.setup_security import write_env_files
from pipeline import topics
from pipeline.access import (
    KAFKA_SERVICES,
    SERVICES,
    KafkaService,
    default_principal,
    index_names,
    kafka_acls,
    role_descriptor,
    roles_table,
)
from pipeline.adapters.elastic import describe_error
from pipeline.adapters.es_security import IssuedKey
from pipeline.errors import StackError
from pipeline.settings import Settings


def _privileges(role: dict[str, object], index: str) -> set[str]:
    grants = role["indices"]
    assert isinstance(grants, list)
    return {p for g in grants if index in g["names"] for p in g["privileges"]}


def test_roles_grant_each_service_its_job_and_nothing_more() -> None:
    settings = Settings(namespace="n1-")
    names = index_names(settings)
    assert names == {"articles": "n1-articles*", "alerts": "n1-alerts", "rules": "n1-alert-rules"}
    worker, web, setup = (role_descriptor(settings, s) for s in ("worker", "web", "setup"))
    dangerous = {"all", "manage", "delete_index"}
    for index in names.values():
        assert not dangerous & _privileges(worker, index), index
        assert _privileges(web, index) <= {"read", "view_index_metadata", "monitor"}, index
        assert "write" not in _privileges(setup, index), index
    assert {"write", "create_index"} <= _privileges(worker, "n1-articles*")
    assert "create_index" not in _privileges(worker, "n1-alerts")
    assert "manage" in _privileges(setup, "n1-articles*")  # the alias and mappings
    assert worker["cluster"] == ["monitor"] and web["cluster"] == ["monitor"]
    assert "manage_index_templates" in setup["cluster"]
    for role in (worker, web, setup):
        assert not {"all", "manage", "manage_security", "manage_api_key"} & set(role["cluster"])
    rows = {row[0]: row for row in roles_table(settings)}
    assert set(rows) == {*SERVICES, "connector"} and rows["connector"][1] == "none"


def _api_error(cls: type[Exception], status: int, reason: str) -> Exception:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.01, NodeConfig("https", "h", 9200))
    body = {"error": {"type": "security_exception", "reason": reason}, "status": status}
    return cls(reason, meta, body)


def test_errors_say_which_variable_to_set() -> None:
    with_key = Settings(es_url="https://h:9200", es_api_key=SecretStr("k3y-secret"))
    with_user = Settings(es_url="https://h:9200", es_username="u", es_password=SecretStr("p4ss"))
    refused = _api_error(AuthenticationException, 401, "unable to authenticate")
    assert "MEDIAMON_ES_API_KEY" in describe_error(refused, with_key)
    assert "--rotate" in describe_error(refused, with_key)
    assert "MEDIAMON_ES_USERNAME" in describe_error(refused, with_user)
    denied = _api_error(AuthorizationException, 403, "action [indices:admin/delete] denied")
    text = describe_error(denied, with_key)
    assert "403" in text and "indices:admin/delete" in text
    tls = TlsError(
        "Cannot connect [SSLCertVerificationError: (1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
        "certificate verify failed: unable to get local issuer certificate')]"
    )
    assert "MEDIAMON_ES_CA_CERTS" in describe_error(tls, with_key)
    for settings in (with_key, with_user):
        for exc in (refused, denied, tls):
            text = describe_error(exc, settings)
            assert "k3y-secret" not in text and "p4ss" not in text


def test_secure_node_config_has_tls_and_no_secret(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, es_port=58200, es_transport_port=58300)
    node = SecureElasticsearchServer(settings, SecretStr("s3cret-pass"))
    text = node.render_config()
    assert "xpack.security.enabled: false" not in text
    for line in (
        "xpack.security.enabled: true",
        "xpack.security.http.ssl.enabled: true",
        "xpack.security.transport.ssl.enabled: true",
    ):
        assert line in text
    assert "s3cret-pass" not in text
    assert node.url == "https://127.0.0.1:58200"
    assert node.superuser_settings().es_ca_certs == node.ca_file
    with pytest.raises(StackError, match="6 characters"):
        SecureElasticsearchServer(settings, SecretStr("short"))
    with pytest.raises(StackError, match="password"):
        SecureElasticsearchServer(settings, None).superuser_settings()


def test_key_files_are_created_0600(tmp_path: Path) -> None:
    keys = [
        IssuedKey("worker", "id1", "mediamon-worker", 1, SecretStr("ZW5jb2RlZA==")),
        IssuedKey("web", "id2", "mediamon-web", 1, SecretStr("b3RoZXI=")),
    ]
    (tmp_path / "worker.env").write_text("old\n")
    (tmp_path / "worker.env").chmod(0o644)
    paths = write_env_files(tmp_path, keys)
    assert [p.name for p in paths] == ["worker.env", "web.env"]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / "worker.env").read_text() == "MEDIAMON_ES_API_KEY=ZW5jb2RlZA==\n"
    assert "ZW5jb2RlZA" not in repr(keys[0]) and "ZW5jb2RlZA" not in str(keys[0].as_dict())


def test_kafka_acls_give_each_service_its_topics_only() -> None:
    settings = Settings(namespace="n1-")
    principals: dict[KafkaService, str] = {s: default_principal(s) for s in KAFKA_SERVICES}
    acls = kafka_acls(settings, principals)
    assert acls == sorted(set(acls))  # no duplicates, stable order

    def of(service: str) -> set[tuple[str, str, str, str]]:
        who = f"User:mediamon-{service}"
        return {(a.resource, a.name, a.pattern, a.operation) for a in acls if a.principal == who}

    assert of("connector") == {
        ("topic", "n1-articles.raw", "literal", "write"),
        ("topic", "n1-articles.raw", "literal", "describe"),
        ("cluster", "kafka-cluster", "literal", "idempotent_write"),
    }
    worker = of("worker")
    assert ("group", "n1-mediamon", "literal", "read") in worker
    assert ("topic", "n1-mediamon-", "prefixed", "read") in worker  # Faust's changelogs
    assert {("topic", n, "literal", "read") for n in topics.names(settings).values()} <= worker
    assert not any(a[0] == "group" and a[1] != "n1-mediamon" for a in worker)
    assert not any(op in ("alter_configs", "describe_configs") for *_, op in worker)
    setup = of("setup")
    assert not any(op in ("read", "write") for *_, op in setup)
    assert {a[1] for a in setup} == set(topics.names(settings).values())
    assert of("web") == set()  # the page has no Kafka access
    # only the services asked for
    assert {a.principal for a in kafka_acls(settings, {"connector": "User:c"})} == {"User:c"}
