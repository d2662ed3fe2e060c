"""Create-only review resources: access reviews, rules reviews, token reviews and whoami."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core import errors
from .rbac import Attributes, RBACAuthorizer, UserInfo


def _user_dict(user: UserInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        out["uid"] = user.uid
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


def _access(authorizer: RBACAuthorizer, user: UserInfo, spec: dict[str, Any],
            namespace_override: str | None = None) -> dict[str, Any]:
    res = spec.get("resourceAttributes")
    nonres = spec.get("nonResourceAttributes")
    if res:
        attrs = Attributes(user, res.get("verb", ""), namespace=namespace_override or res.get("namespace", ""),
                           api_group=res.get("group", ""), resource=res.get("resource", ""),
                           subresource=res.get("subresource", ""), name=res.get("name", ""))
    elif nonres:
        attrs = Attributes(user, nonres.get("verb", ""), resource_request=False, path=nonres.get("path", ""))
    else:
        raise errors.invalid("SelfSubjectAccessReview", "", [errors.Cause(
            "spec.resourceAttributes", "Invalid value: null: exactly one of nonResourceAttributes or "
            "resourceAttributes must be specified")], "authorization.k8s.io")
    decision = authorizer.authorize(attrs)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def review(kind: str, body: dict[str, Any], user: UserInfo, namespace: str, authorizer: RBACAuthorizer,
           token_review: Callable[[str, list[str] | None], dict[str, Any]]) -> dict[str, Any]:
    spec = body.get("spec") or {}
    out = {"kind": kind, "apiVersion": body.get("apiVersion"), "metadata": {"creationTimestamp": None},
           "spec": spec}
    if kind == "SelfSubjectAccessReview":
        out["status"] = _access(authorizer, user, spec)
    elif kind == "SubjectAccessReview":
        subject = UserInfo(spec.get("user", ""), tuple(spec.get("groups") or ()), spec.get("uid", ""),
                           {k: tuple(v) for k, v in (spec.get("extra") or {}).items()})
        out["status"] = _access(authorizer, subject, spec)
    elif kind == "LocalSubjectAccessReview":
        res = spec.get("resourceAttributes") or {}
        if res.get("namespace") and res["namespace"] != namespace:
            raise errors.bad_request(f"spec.resourceAttributes.namespace must match namespace: {namespace}")
        subject = UserInfo(spec.get("user", ""), tuple(spec.get("groups") or ()), spec.get("uid", ""))
        out["status"] = _access(authorizer, subject, spec, namespace_override=namespace)
        out["metadata"]["namespace"] = namespace
    elif kind == "SelfSubjectRulesReview":
        ns = spec.get("namespace", "")
        resource_rules, non_resource_rules = authorizer.rules_for(user, ns)
        out["status"] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                         "incomplete": False}
    elif kind == "TokenReview":
        out["status"] = token_review(spec.get("token", ""), spec.get("audiences"))
    elif kind == "SelfSubjectReview":
        out.pop("spec")
        out["status"] = {"userInfo": _user_dict(user)}
    else:
        raise errors.not_found(kind.lower(), "")
    return out
