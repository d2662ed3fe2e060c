"""Request body decoding and response encoding (JSON, YAML, Kubernetes protobuf requests)."""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from ..core import errors

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlLoader(_Base):  # type: ignore[misc,valid-type]
    """Safe YAML whose timestamps stay strings, as they do when Kubernetes converts YAML to JSON."""


_YamlLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _Base.yaml_implicit_resolvers.items()
}


def load_yaml(text: bytes | str) -> Any:
    return yaml.load(text, Loader=_YamlLoader)

MAX_BODY = 3 * 1024 * 1024
PROTOBUF = "application/vnd.kubernetes.protobuf"


def media_type(content_type: str | None) -> str:
    return (content_type or "application/json").split(";")[0].strip().lower()


def decode_body(body: bytes, content_type: str | None) -> Any:
    mt = media_type(content_type)
    if len(body) > MAX_BODY:
        raise errors.too_large(MAX_BODY)
    if mt == PROTOBUF:
        from .protobuf import decode_k8s_protobuf
        return decode_k8s_protobuf(body)
    if not body.strip():
        raise errors.bad_request("the request body is empty")
    if mt in ("application/yaml", "application/apply-patch+yaml", "text/yaml", "application/x-yaml"):
        try:
            return load_yaml(body)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None
    if mt in ("application/json", "application/json-patch+json", "application/merge-patch+json",
              "application/strategic-merge-patch+json", "*/*"):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
    raise errors.unsupported_media_type(mt)


def wants_yaml(accept: str) -> bool:
    first = accept.split(",")[0].strip().lower()
    return first.startswith("application/yaml")


def wants_table(accept: str) -> bool:
    return "as=table" in accept.replace(" ", "").lower()


def table_include_object(query: dict[str, str]) -> str:
    return query.get("includeObject") or "Metadata"


def dump(obj: Any, accept: str = "") -> tuple[bytes, str]:
    if accept and wants_yaml(accept):
        return yaml.safe_dump(obj, sort_keys=False).encode(), "application/yaml"
    return orjson.dumps(obj), "application/json"
