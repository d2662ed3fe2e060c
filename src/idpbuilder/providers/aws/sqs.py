"""`sqs.aws.upbound.io/v1beta1 Queue`: a queue named by the external name, its attributes and tags.

Attributes set in `forProvider` are kept as declared (changes made out of band are put back); unset ones
are late-initialised from the queue. `fifoQueue` can only be chosen at creation. The connection
secret gets the queue's `url`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..managed import Creation, Observation, Update, external_name
from .calls import AwsError, default_tags, describe_tag_diff, tag_changes
from .connector import AwsExternal, for_provider
from .crds import QUEUES

NOT_FOUND = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


@dataclass(frozen=True)
class _Attr:
    field: str  # in spec.forProvider
    attribute: str  # the SQS queue attribute
    kind: str  # int | bool | str | json


_ATTRS = (
    _Attr("delaySeconds", "DelaySeconds", "int"),
    _Attr("visibilityTimeoutSeconds", "VisibilityTimeout", "int"),
    _Attr("messageRetentionSeconds", "MessageRetentionPeriod", "int"),
    _Attr("maxMessageSize", "MaximumMessageSize", "int"),
    _Attr("receiveWaitTimeSeconds", "ReceiveMessageWaitTimeSeconds", "int"),
    _Attr("kmsDataKeyReusePeriodSeconds", "KmsDataKeyReusePeriodSeconds", "int"),
    _Attr("kmsMasterKeyId", "KmsMasterKeyId", "str"),
    _Attr("sqsManagedSseEnabled", "SqsManagedSseEnabled", "bool"),
    _Attr("contentBasedDeduplication", "ContentBasedDeduplication", "bool"),
    _Attr("deduplicationScope", "DeduplicationScope", "str"),
    _Attr("fifoThroughputLimit", "FifoThroughputLimit", "str"),
    _Attr("policy", "Policy", "json"),
    _Attr("redrivePolicy", "RedrivePolicy", "json"),
    _Attr("redriveAllowPolicy", "RedriveAllowPolicy", "json"),
)
_LATE_INIT = ("int", "bool")


def _to_attribute(kind: str, value: Any) -> str:
    if kind == "int":
        return str(int(value))
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def _from_attribute(kind: str, raw: str) -> Any:
    if kind == "int":
        return int(raw)
    if kind == "bool":
        return raw.lower() == "true"
    return raw


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


_SAME: dict[str, Callable[[Any, str], bool]] = {
    "int": lambda want, have: have.lstrip("-").isdigit() and int(want) == int(have),
    "bool": lambda want, have: bool(want) == (have.lower() == "true"),
    "str": lambda want, have: str(want) == have,
    "json": lambda want, have: _json_or_text(str(want)) == _json_or_text(have),
}


def _wanted_attributes(spec: dict[str, Any]) -> dict[str, str]:
    return {a.attribute: _to_attribute(a.kind, spec[a.field]) for a in _ATTRS if spec.get(a.field) is not None}


class QueueClient(AwsExternal):
    async def observe(self, mr: dict[str, Any]) -> Observation:
        url = await self._url(external_name(mr))
        if url is None:
            return Observation(exists=False)
        attributes = (await self.call("get_queue_attributes", QueueUrl=url,
                                      AttributeNames=["All"])).get("Attributes") or {}
        have_tags = (await self.call("list_queue_tags", QueueUrl=url)).get("Tags") or {}
        spec = for_provider(mr)
        drift = [a for a in _ATTRS if spec.get(a.field) is not None
                 and not _SAME[a.kind](spec[a.field], attributes.get(a.attribute, ""))]
        want_tags = self._want_tags(mr)
        observed: dict[str, Any] = {}
        late_init: dict[str, Any] = {}
        for a in _ATTRS:
            if a.attribute in attributes:
                observed[a.field] = _from_attribute(a.kind, attributes[a.attribute])
                if a.kind in _LATE_INIT:
                    late_init[a.field] = observed[a.field]
        observed["fifoQueue"] = late_init["fifoQueue"] = attributes.get("FifoQueue", "false").lower() == "true"
        at_provider = {**observed, "arn": attributes.get("QueueArn", ""), "id": url, "url": url,
                       "tags": dict(spec.get("tags") or {}), "tagsAll": have_tags}
        diff = ", ".join([f"{a.field}: want {spec[a.field]!r}, have {attributes.get(a.attribute)!r}" for a in drift]
                         + ([describe_tag_diff(want_tags, have_tags)] if want_tags != have_tags else []))
        return Observation(True, up_to_date=not drift and want_tags == have_tags, connection_details={"url": url},
                           at_provider=at_provider, late_init=late_init, diff=diff)

    async def create(self, mr: dict[str, Any]) -> Creation:
        spec = for_provider(mr)
        attributes = _wanted_attributes(spec)
        if spec.get("fifoQueue"):
            attributes["FifoQueue"] = "true"
        out = await self.call("create_queue", QueueName=external_name(mr), Attributes=attributes,
                              tags=self._want_tags(mr))
        return Creation({"url": out["QueueUrl"]})

    async def update(self, mr: dict[str, Any]) -> Update:
        url = await self._url(external_name(mr))
        if url is None:
            raise AwsError("QueueDoesNotExist", f"queue {external_name(mr)!r} vanished", service="SQS")
        attributes = _wanted_attributes(for_provider(mr))
        if attributes:
            await self.call("set_queue_attributes", QueueUrl=url, Attributes=attributes)
        have = (await self.call("list_queue_tags", QueueUrl=url)).get("Tags") or {}
        add, remove = tag_changes(self._want_tags(mr), have)
        if remove:
            await self.call("untag_queue", QueueUrl=url, TagKeys=remove)
        if add:
            await self.call("tag_queue", QueueUrl=url, Tags=add)
        return Update({"url": url})

    async def delete(self, mr: dict[str, Any]) -> None:
        url = await self._url(external_name(mr))
        if url is None:
            return
        try:
            await self.call("delete_queue", QueueUrl=url)
        except AwsError as exc:
            if exc.code not in NOT_FOUND:
                raise

    # ----

    def _want_tags(self, mr: dict[str, Any]) -> dict[str, str]:
        return {**default_tags(mr, QUEUES.kind, QUEUES.group), **(for_provider(mr).get("tags") or {})}

    async def _url(self, name: str) -> str | None:
        try:
            return (await self.call("get_queue_url", QueueName=name))["QueueUrl"]
        except AwsError as exc:
            if exc.code in NOT_FOUND:
                return None
            raise
