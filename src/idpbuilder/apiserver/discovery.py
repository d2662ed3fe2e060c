"""API discovery documents: legacy (/api, /apis, per group-version) and aggregated (v2, v2beta1)."""

from __future__ import annotations

from typing import Any

from ..core.resources import ResourceRegistry, ResourceType

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
                     "token": ["create"], "finalize": ["update"], "log": ["get"], "binding": ["create"],
                     "eviction": ["create"]}
SUBRESOURCE_KINDS = {"scale": ("autoscaling", "v1", "Scale"), "token": ("authentication.k8s.io", "v1",
                                                                          "TokenRequest"),
                     "eviction": ("policy", "v1", "Eviction"), "binding": ("", "v1", "Binding")}


def negotiate_aggregated(accept: str) -> str | None:
    """The aggregated discovery version the client accepts (v2 preferred), or None for legacy."""
    offered = set()
    for part in accept.split(","):
        params = dict(p.split("=", 1) for p in part.replace(" ", "").split(";")[1:] if "=" in p)
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            offered.add(params.get("v"))
    for version in ("v2", "v2beta1"):
        if version in offered:
            return version
    return None


def _verbs(t: ResourceType) -> list[str]:
    return sorted(t.verbs)


def api_resource_list(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for t in sorted(types, key=lambda t: t.plural):
        r: dict[str, Any] = {"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                             "kind": t.kind, "verbs": _verbs(t)}
        if t.short_names:
            r["shortNames"] = list(t.short_names)
        if t.categories:
            r["categories"] = list(t.categories)
        resources.append(r)
        for sub in t.subresources:
            entry: dict[str, Any] = {"name": f"{t.plural}/{sub}", "singularName": "", "namespaced": t.namespaced,
                                     "kind": t.kind, "verbs": SUBRESOURCE_VERBS.get(sub, ["get"])}
            if sub in SUBRESOURCE_KINDS:
                g, v, k = SUBRESOURCE_KINDS[sub]
                entry.update({"group": g, "version": v, "kind": k})
            resources.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources}


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def api_group_list(registry: ResourceRegistry) -> dict[str, Any]:
    groups = [_group_entry(g, vs) for g, vs in registry.groups() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: ResourceRegistry, group: str) -> dict[str, Any] | None:
    for g, vs in registry.groups():
        if g == group and group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(g, vs)}
    return None


def aggregated(registry: ResourceRegistry, *, legacy: bool, version: str) -> dict[str, Any]:
    items = []
    for group, versions in registry.groups():
        if (group == "") != legacy:
            continue
        vdocs = []
        for v in versions:
            resources = []
            for t in sorted(registry.in_group_version(group, v), key=lambda t: t.plural):
                r: dict[str, Any] = {
                    "resource": t.plural,
                    "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
                    "scope": "Namespaced" if t.namespaced else "Cluster",
                    "singularResource": t.singular, "verbs": _verbs(t)}
                if t.short_names:
                    r["shortNames"] = list(t.short_names)
                if t.categories:
                    r["categories"] = list(t.categories)
                subs = []
                for sub in t.subresources:
                    g, sv, k = SUBRESOURCE_KINDS.get(sub, (t.group, t.version, t.kind))
                    subs.append({"subresource": sub, "responseKind": {"group": g, "version": sv, "kind": k},
                                 "verbs": SUBRESOURCE_VERBS.get(sub, ["get"])})
                if subs:
                    r["subresources"] = subs
                resources.append(r)
            vdocs.append({"version": v, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": vdocs})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {}, "items": items}
