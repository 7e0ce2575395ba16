"""Exceptions of mediamon, one hierarchy.

MediamonError
├── ConfigError            bad settings or a bad user-editable file (taxonomy, feeds)
├── StackError             the local Kafka / Elasticsearch runner cannot do what was asked
├── PermanentError         retrying will not help: dead-letter the message
│   ├── BadRecordError     not JSON, or not the record schema
│   └── SchemaVersionError a schema newer than this consumer knows
├── TransientError         retry with backoff (a server away, a timeout, a 429)
└── ShutdownRequested      the worker is stopping or rebalancing while a server is away: leave
                           the batch unacknowledged for the next owner instead of waiting
"""

from __future__ import annotations


class MediamonError(Exception):
    """Base of every error mediamon raises on purpose."""


class ConfigError(MediamonError):
    pass


class StackError(MediamonError):
    pass


class PermanentError(MediamonError):
    pass


class BadRecordError(PermanentError):
    pass


class SchemaVersionError(BadRecordError):
    pass


class TransientError(MediamonError):
    pass


class ShutdownRequested(MediamonError):
    pass
