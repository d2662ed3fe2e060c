"""The `apiextensions.crossplane.io` CRDs the compose engine serves.

Named, versioned and printed like Crossplane's own CRDs, with permissive schemas (every field kept) so
real Crossplane YAML is accepted as is; the controllers and `validate_xrd` do the checking.
"""

from __future__ import annotations

from typing import Any

from ..client.base import ResourceRef

GROUP = "apiextensions.crossplane.io"
PKG_GROUP = "pkg.crossplane.io"

XRDS = ResourceRef(GROUP, "v1", "compositeresourcedefinitions", "CompositeResourceDefinition", namespaced=False)
COMPOSITIONS = ResourceRef(GROUP, "v1", "compositions", "Composition", namespaced=False)
COMPOSITION_REVISIONS = ResourceRef(GROUP, "v1", "compositionrevisions", "CompositionRevision", namespaced=False)
ENVIRONMENT_CONFIGS = ResourceRef(GROUP, "v1beta1", "environmentconfigs", "EnvironmentConfig", namespaced=False)
FUNCTIONS = ResourceRef(PKG_GROUP, "v1", "functions", "Function", namespaced=False)
CRDS = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                   namespaced=False)
SECRETS = ResourceRef("", "v1", "secrets", "Secret")

_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_AGE = {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def _condition(name: str, ctype: str) -> dict[str, Any]:
    return {"name": name, "type": "string", "jsonPath": f".status.conditions[?(@.type=='{ctype}')].status"}


def _version(name: str, *, storage: bool, columns: list[dict[str, Any]], status: bool,
             top_level: tuple[str, ...] = ("spec",)) -> dict[str, Any]:
    props: dict[str, Any] = {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                             "metadata": {"type": "object"}, **{k: dict(_OPEN) for k in top_level}}
    if status:
        props["status"] = dict(_OPEN)
    version: dict[str, Any] = {"name": name, "served": True, "storage": storage,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": props}},
                               "additionalPrinterColumns": [*columns, dict(_AGE)]}
    if status:
        version["subresources"] = {"status": {}}
    return version


def _crd(res: ResourceRef, short_names: list[str], versions: list[dict[str, Any]],
         categories: tuple[str, ...] = ("crossplane",)) -> dict[str, Any]:
    kind = res.kind
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{res.plural}.{res.group}",
                     "labels": {"app.kubernetes.io/part-of": "crossplane"}},
        "spec": {"group": res.group, "scope": "Cluster",
                 "names": {"plural": res.plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List",
                           "shortNames": short_names, "categories": list(categories)},
                 "versions": versions},
    }


def xrd_crd() -> dict[str, Any]:
    columns = [_condition("ESTABLISHED", "Established"), _condition("OFFERED", "Offered")]
    return _crd(XRDS, ["xrd", "xrds"], [_version("v1", storage=True, columns=columns, status=True),
                                        _version("v2", storage=False, columns=columns, status=True)])


def composition_crd() -> dict[str, Any]:
    columns = [{"name": "XR-KIND", "type": "string", "jsonPath": ".spec.compositeTypeRef.kind"},
               {"name": "XR-APIVERSION", "type": "string", "jsonPath": ".spec.compositeTypeRef.apiVersion"}]
    return _crd(COMPOSITIONS, ["comp"], [_version("v1", storage=True, columns=columns, status=False)])


def composition_revision_crd() -> dict[str, Any]:
    columns = [{"name": "REVISION", "type": "string", "jsonPath": ".spec.revision"},
               {"name": "XR-KIND", "type": "string", "jsonPath": ".spec.compositeTypeRef.kind"},
               {"name": "XR-APIVERSION", "type": "string", "jsonPath": ".spec.compositeTypeRef.apiVersion"}]
    return _crd(COMPOSITION_REVISIONS, ["comprev"],
                [_version("v1", storage=True, columns=columns, status=True),
                 _version("v1beta1", storage=False, columns=columns, status=True)])


def environment_config_crd() -> dict[str, Any]:
    return _crd(ENVIRONMENT_CONFIGS, ["envcfg"],
                [_version("v1beta1", storage=True, columns=[], status=False, top_level=("data",)),
                 _version("v1alpha1", storage=False, columns=[], status=False, top_level=("data",))])


def function_crd() -> dict[str, Any]:
    """`pkg.crossplane.io` Functions: where a pipeline step's `functionRef.name` runs (see `grpcfn`)."""
    columns = [_condition("INSTALLED", "Installed"), _condition("HEALTHY", "Healthy"),
               {"name": "PACKAGE", "type": "string", "jsonPath": ".spec.package"}]
    return _crd(FUNCTIONS, [], [_version("v1", storage=True, columns=columns, status=True),
                                _version("v1beta1", storage=False, columns=columns, status=True)],
                categories=("crossplane", "pkg"))


def compose_crds() -> list[dict[str, Any]]:
    return [xrd_crd(), composition_crd(), composition_revision_crd(), environment_config_crd(), function_crd()]
