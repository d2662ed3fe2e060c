"""Calling boto3 from the event loop, AWS errors as short messages, and resource tags.

boto3 blocks, so each call runs in a worker thread. Its failures become `AwsError`, whose text
(`<Service> <Operation>: <Code>: <Message>`) is what a `Synced=False` condition shows.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# Upstream's tagger: every tagged resource records the MR that manages it.
TAG_KIND = "crossplane-kind"
TAG_NAME = "crossplane-name"
TAG_PROVIDER_CONFIG = "crossplane-providerconfig"

_XML_CODE = re.compile(r"<Code>([^<]*)</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


class AwsError(Exception):
    """A failed AWS call: the AWS error code (or the botocore exception's name) and its message."""

    def __init__(self, code: str, message: str, *, status: int | None = None, operation: str = "",
                 service: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.operation = operation
        self.service = service

    def __str__(self) -> str:
        where = " ".join(p for p in (self.service, self.operation) if p)
        text = f"{self.code}: {self.message}" if self.code else self.message
        return f"{where}: {text}" if where else text


def from_client_error(exc: ClientError, service: str = "") -> AwsError:
    error = exc.response.get("Error") or {}
    meta = exc.response.get("ResponseMetadata") or {}
    code, message = str(error.get("Code") or ""), str(error.get("Message") or "")
    status = meta.get("HTTPStatusCode")
    if message.lstrip().startswith("<"):
        # An XML error body where botocore expected JSON (some endpoints answer auth failures in XML).
        found_code, found_message = _XML_CODE.search(message), _XML_MESSAGE.search(message)
        code = found_code.group(1) if found_code else code
        message = found_message.group(1) if found_message else message
    if not message and status:
        message = f"HTTP status {status}"
    return AwsError(code or str(status or "Unknown"), message, status=status,
                    operation=exc.operation_name or "", service=service)


async def call(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """`client.<operation>(**params)` in a thread; AWS and transport failures raise `AwsError`."""
    method = getattr(client, operation)
    service = client.meta.service_model.service_id
    try:
        return await asyncio.to_thread(method, **params)
    except ClientError as exc:
        raise from_client_error(exc, service) from None
    except BotoCoreError as exc:
        op = client.meta.method_to_api_mapping.get(operation, operation)
        raise AwsError(type(exc).__name__, str(exc), operation=op, service=service) from None


# ---- tags

def default_tags(mr: dict[str, Any], kind: str, group: str) -> dict[str, str]:
    """The tags upstream providers add to every external resource they manage."""
    config = ((mr.get("spec") or {}).get("providerConfigRef") or {}).get("name") or "default"
    return {TAG_KIND: f"{kind.lower()}.{group}", TAG_NAME: mr["metadata"]["name"], TAG_PROVIDER_CONFIG: config}


def tag_changes(want: dict[str, str], have: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(tags to add or change, keys to remove) that turn `have` into `want`."""
    add = {k: v for k, v in want.items() if have.get(k) != v}
    remove = sorted(k for k in have if k not in want)
    return add, remove


def describe_tag_diff(want: dict[str, str], have: dict[str, str]) -> str:
    add, remove = tag_changes(want, have)
    parts = [f"tag {k}={v!r}" for k, v in sorted(add.items())] + [f"untag {k}" for k in remove]
    return ", ".join(parts)
