"""Kafka ACLs: create and list the ALLOW entries of pipeline/access.py.

aiokafka's admin client has no ACL methods, but its protocol module carries the requests
(CreateAcls and DescribeAcls, v1: with pattern types); they are sent through the admin
client's connection, so authentication and TLS are the ones every other client uses.
Creating an ACL that exists already is a no-op in Kafka, so `ensure_acls` is idempotent.
Needs a principal allowed to ALTER the cluster (a super user, or an admin's ACL).
"""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest, DescribeAclsRequest

from pipeline.access import KafkaAcl
from pipeline.adapters.kafka import client_options, start_client
from pipeline.errors import ConfigError
from pipeline.settings import Settings

# the wire codes of Kafka's enums (org.apache.kafka.common.acl / resource)
RESOURCE_TYPES = {"any": 1, "topic": 2, "group": 3, "cluster": 4}
PATTERN_TYPES = {"any": 1, "literal": 3, "prefixed": 4}
OPERATIONS = {
    "any": 1,
    "read": 3,
    "write": 4,
    "create": 5,
    "describe": 8,
    "describe_configs": 10,
    "alter_configs": 11,
    "idempotent_write": 12,
}
ALLOW, ANY_PERMISSION = 3, 1
_NAMES = {
    "resource": {v: k for k, v in RESOURCE_TYPES.items()},
    "pattern": {v: k for k, v in PATTERN_TYPES.items()},
    "operation": {v: k for k, v in OPERATIONS.items()},
}


def _raise_for(code: int, message: str | None, what: str) -> None:
    if code:
        error = for_code(code)
        raise ConfigError(f"Kafka refused to {what}: {error.__name__} ({message or 'no message'})")


async def _admin(settings: Settings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await start_client(admin, settings)
    return admin


async def ensure_acls(settings: Settings, acls: list[KafkaAcl]) -> int:
    """Create every ACL in `acls` (existing ones are left as they are). Returns how many
    were sent."""
    admin = await _admin(settings)
    try:
        for acl in acls:
            request = CreateAclsRequest(
                RESOURCE_TYPES[acl.resource],
                acl.name,
                PATTERN_TYPES[acl.pattern],
                acl.principal,
                "*",
                OPERATIONS[acl.operation],
                ALLOW,
            )
            response: Any = await admin._send_request(request)
            for code, message in response.creation_responses:
                _raise_for(code, message, f"create {acl}")
        return len(acls)
    finally:
        await admin.close()


async def list_acls(settings: Settings, principal: str | None = None) -> list[KafkaAcl]:
    """The ALLOW ACLs on topics, groups and the cluster (of `principal` only, if given)."""
    admin = await _admin(settings)
    try:
        request = DescribeAclsRequest(
            RESOURCE_TYPES["any"], None, PATTERN_TYPES["any"], principal, None,
            OPERATIONS["any"], ANY_PERMISSION,
        )  # fmt: skip
        response: Any = await admin._send_request(request)
        _raise_for(response.error_code, response.error_message, "list ACLs")
    finally:
        await admin.close()
    out = []
    for resource_type, name, pattern_type, entries in response.resources:
        for who, _host, operation, permission in entries:
            resource = _NAMES["resource"].get(resource_type)
            op = _NAMES["operation"].get(operation)
            pattern = _NAMES["pattern"].get(pattern_type)
            if permission == ALLOW and resource and op and pattern in ("literal", "prefixed"):
                out.append(KafkaAcl(who, resource, name, pattern, op))  # type: ignore[arg-type]
    return sorted(out)
