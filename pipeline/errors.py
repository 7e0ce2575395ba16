"""Exceptions of mediamon, one hierarchy.

MediamonError
├── ConfigError            bad settings or a bad user-editable file (taxonomy, feeds)
├── StackError             the local Kafka / Elasticsearch runner cannot do what was asked
├── PermanentError         retrying will not help: dead-letter the message
│   ├── BadRecordError     not JSON, or not the record schema
│   │   └── SchemaVersionError  a schema newer than this consumer knows
│   └── DeliveryRefusedError    an alert channel refused a notification for good (a 4xx)
│       └── ChannelConfigError  an alert channel cannot work as configured (a missing secret)
├── TransientError         retry with backoff (a server away, a timeout, a 429)
│   ├── DeliveryError      an alert channel did not take a notification (worth retrying)
│   └── UnexpectedError    a batch's handling raised what nobody foresaw (a bug, an answer
│                          of a server no one expected): retried, then dead-lettered
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


class DeliveryRefusedError(PermanentError):
    """An alert channel refused the notification (a 4xx other than 429 from Telegram)."""


class ChannelConfigError(DeliveryRefusedError):
    """The channel cannot work as configured (a missing secret): retrying will not help."""


class DeliveryError(TransientError):
    """A channel did not take the notification (a 5xx, a timeout, a 429): worth retrying,
    after `retry_after` seconds when the channel said how long to wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnexpectedError(TransientError):
    """A batch's handling raised an exception no code path expected. It is retried through
    the stage's retry topic, then dead-lettered: left in the agent, it would crash the agent
    and leave the batch unacknowledged, read again only after a restart or a rebalance."""
