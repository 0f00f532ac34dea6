"""Keep secret material out of botocore's DEBUG logging.

With the root logger at DEBUG, ``botocore.parsers`` logs whole response bodies and
``botocore.endpoint`` whole request bodies: GetSecretValue answers, PutSecretValue
requests and GetRandomPassword answers included. A filter on those two loggers rewrites
the secret fields of such records and leaves every other record alone.
"""

from __future__ import annotations

import json
import logging
from typing import Any

__all__ = ["REDACTED", "SecretRedactingFilter", "install_log_redaction", "redact"]

REDACTED = "***redacted by secretcache***"
SENSITIVE_KEYS = frozenset({"SecretString", "SecretBinary", "RandomPassword"})
_LOGGERS = ("botocore.parsers", "botocore.endpoint")


def _mentions_secret(value: str | bytes) -> bool:
    if isinstance(value, bytes):
        return any(m.encode() in value for m in SENSITIVE_KEYS)
    return any(m in value for m in SENSITIVE_KEYS)


def _scrub(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: REDACTED if k in SENSITIVE_KEYS else _scrub(v) for k, v in document.items()}
    if isinstance(document, list):
        return [_scrub(v) for v in document]
    return document


def redact(value: Any) -> Any:
    """A copy of a log argument with secret fields replaced; untouched if it has none."""
    if isinstance(value, (str, bytes)):
        if not _mentions_secret(value):
            return value
        try:
            scrubbed = json.dumps(_scrub(json.loads(value)))
        except ValueError:
            return REDACTED  # not JSON, yet it names a secret field: drop it whole
        return scrubbed.encode() if isinstance(value, bytes) else scrubbed
    if isinstance(value, dict):
        return {k: REDACTED if k in SENSITIVE_KEYS else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


class SecretRedactingFilter(logging.Filter):
    """Rewrites a record's arguments so that no secret field reaches any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = redact(record.args)
        if isinstance(record.msg, (str, bytes)) and _mentions_secret(record.msg):
            record.msg = redact(record.msg)
        return True


_FILTER = SecretRedactingFilter()


def install_log_redaction() -> None:
    """Attach the filter to botocore's body-logging loggers (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
