"""Keeps secrets the provider sends to AWS out of botocore's debug logs.

botocore logs whole requests at DEBUG (an RDS `CreateDBInstance` body carries `MasterUserPassword`, a
session token travels in a header). Every secret the provider hands to boto3 is registered here first;
a filter on botocore's loggers replaces it, in any of the encodings a request may carry it in.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from urllib.parse import quote, quote_plus

MASK = "****"
MIN_LENGTH = 4  # shorter values would mask unrelated text
LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.auth", "botocore.hooks", "botocore.retryhandler",
           "botocore.httpsession", "urllib3.connectionpool")


class SecretRedactor(logging.Filter):
    """A logging filter that masks every registered secret in a record's formatted message."""

    def __init__(self, max_secrets: int = 4096) -> None:
        super().__init__()
        self.max_secrets = max_secrets
        self._secrets: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if not value or len(value) < MIN_LENGTH:
            return
        with self._lock:
            for form in {value, quote_plus(value), quote(value, safe=""), json.dumps(value)[1:-1]}:
                self._secrets[form] = None
                self._secrets.move_to_end(form)
            while len(self._secrets) > self.max_secrets:
                self._secrets.popitem(last=False)

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = list(self._secrets)
        for secret in sorted(secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem, not ours
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


REDACTOR = SecretRedactor()
_installed = False


def install() -> None:
    """Attaches the shared redactor to botocore's loggers (once per process)."""
    global _installed
    if _installed:
        return
    for name in LOGGERS:
        logging.getLogger(name).addFilter(REDACTOR)
    _installed = True


def register(*values: str | None) -> None:
    for value in values:
        REDACTOR.add(value)
