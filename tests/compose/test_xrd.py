"""XRDs: validation, and the XR and claim CRDs generated from them, served by our API server."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.service import RequestContext
from idpbuilder.compose.xrd import (
    claim_crd,
    composite_crd,
    referenceable_version,
    scope_of,
    validate_xrd,
)
from idpbuilder.core.errors import ApiError

GROUP = "database.platform.io"
# The seed example, verbatim (architecture guide): it names no kind or plural.
SEED_XRD: dict[str, Any] = {
    "apiVersion": "apiextensions.crossplane.io/v1",
    "kind": "CompositeResourceDefinition",
    "metadata": {"name": "xpostgresqlinstances.database.platform.io"},
    "spec": {
        "group": GROUP,
        "versions": [{
            "name": "v1alpha1", "served": True, "referenceable": True,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                "type": "object", "properties": {"parameters": {"type": "object", "properties": {
                    "size": {"type": "string", "enum": ["small", "medium", "large"]}}}}}}}},
        }],
    },
}


def seed_xrd(**spec: Any) -> dict[str, Any]:
    """The seed XRD completed with XR names and claim names, plus `spec` overrides."""
    xrd = copy.deepcopy(SEED_XRD)
    xrd["spec"]["names"] = {"kind": "XPostgreSQLInstance", "plural": "xpostgresqlinstances"}
    xrd["spec"]["claimNames"] = {"kind": "PostgreSQLInstance", "plural": "postgresqlinstances"}
    xrd["spec"].update(spec)
    return xrd


def v2_xrd(scope: str | None = None) -> dict[str, Any]:
    xrd = seed_xrd()
    xrd["apiVersion"] = "apiextensions.crossplane.io/v2"
    del xrd["spec"]["claimNames"]
    if scope:
        xrd["spec"]["scope"] = scope
    return xrd


def schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


# ---- validation


def test_seed_example_as_written_lacks_names() -> None:
    assert validate_xrd(SEED_XRD) == ["spec.names: Required value"]
    with pytest.raises(ApiError) as err:
        composite_crd(SEED_XRD)
    assert err.value.code == 422
    assert err.value.message == ('CompositeResourceDefinition.apiextensions.crossplane.io '
                                 '"xpostgresqlinstances.database.platform.io" is invalid: spec.names: Required value')


def test_completed_seed_is_valid() -> None:
    xrd = seed_xrd()
    assert validate_xrd(xrd) == []
    assert scope_of(xrd) == "LegacyCluster"
    assert referenceable_version(xrd) == "v1alpha1"


@pytest.mark.parametrize(("change", "expected"), [
    (lambda x: x["metadata"].update(name="postgres.database.platform.io"),
     'metadata.name: Invalid value: "postgres.database.platform.io": must be spec.names.plural+"."+spec.group'),
    (lambda x: (x["spec"].update(group="platform"), x["metadata"].update(name="xpostgresqlinstances.platform")),
     'spec.group: Invalid value: "platform": should be a domain with at least one dot'),
    (lambda x: x["spec"]["names"].update(listKind="XPostgreSQLInstance"),
     'spec.names.listKind: Invalid value: "XPostgreSQLInstance": kind and listKind may not be the same'),
    (lambda x: x["spec"]["claimNames"].update(kind="XPostgreSQLInstance"),
     'spec.claimNames.kind: invalid resource claim names: "XPostgreSQLInstance" conflicts with composite '
     "resource name"),
    (lambda x: x["spec"].update(scope="Namespaced"),
     'spec: Invalid value: "object": Only LegacyCluster composite resources can offer claims'),
    (lambda x: x["spec"].update(scope="Global"),
     'spec.scope: Unsupported value: "Global": supported values: "LegacyCluster", "Namespaced", "Cluster"'),
    (lambda x: x["spec"].update(defaultCompositionUpdatePolicy="Sometimes"),
     'spec.defaultCompositionUpdatePolicy: Unsupported value: "Sometimes": supported values: "Automatic", '
     '"Manual"'),
    (lambda x: x["spec"]["versions"][0].update(referenceable=False),
     "spec.versions: Invalid value: 0: must have exactly one version marked as referenceable"),
    (lambda x: x["spec"]["versions"][0].update(served=False),
     "spec.versions[0].served: Invalid value: false: the referenceable version must be served"),
    (lambda x: x["spec"]["versions"][0].pop("schema"),
     "spec.versions[0].schema.openAPIV3Schema: Required value: custom resource validation cannot be nil"),
    (lambda x: x["spec"].update(conversion={"strategy": "Webhook"}),
     'spec.conversion.webhook: Required value: webhook configuration is required when conversion strategy '
     'is "Webhook"'),
])
def test_invalid_xrds_are_reported_with_upstream_wording(change: Any, expected: str) -> None:
    xrd = seed_xrd()
    change(xrd)
    assert validate_xrd(xrd) == [expected]


def test_names_must_be_lowercase_dns_labels() -> None:
    xrd = seed_xrd()
    xrd["spec"]["names"]["singular"] = "XPostgres"
    problems = validate_xrd(xrd)
    assert problems[0] == 'spec.names: Invalid value: "object": Singular name must be lowercase'
    assert problems[1].startswith('spec.names.singular: Invalid value: "XPostgres": a DNS-1035 label must consist')
    assert len(problems) == 2


def test_versions_need_unique_names_and_one_referenceable() -> None:
    xrd = seed_xrd()
    xrd["spec"]["versions"].append(copy.deepcopy(xrd["spec"]["versions"][0]))
    assert validate_xrd(xrd) == ['spec.versions[1].name: Duplicate value: "v1alpha1"',
                                 "spec.versions: Invalid value: 2: must have exactly one version marked as "
                                 "referenceable"]


def test_schema_must_be_structural_with_paths_into_the_xrd() -> None:
    xrd = seed_xrd()
    params = xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    params["storageGB"] = {"description": "no type"}
    params["replicas"] = {"type": "integer", "default": "three"}
    problems = validate_xrd(xrd)
    root = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties"
    assert f"{root}[storageGB].type: Required value: must not be empty for specified object fields" in problems
    assert len(problems) == 1
    del params["storageGB"]
    [problem] = validate_xrd(xrd)
    assert problem.startswith(f"{root}[replicas].default: Invalid value: ")
    assert problem.endswith('must be of type integer: "string"')


def test_v2_rejects_claims_connection_secrets_and_legacy_scope() -> None:
    xrd = v2_xrd()
    assert validate_xrd(xrd) == []
    assert scope_of(xrd) == "Namespaced"
    xrd["spec"]["claimNames"] = {"kind": "PostgreSQLInstance", "plural": "postgresqlinstances"}
    xrd["spec"]["connectionSecretKeys"] = ["password"]
    assert validate_xrd(xrd) == [
        "spec: Invalid value: \"object\": Claims aren't supported in apiextensions.crossplane.io/v2",
        "spec: Invalid value: \"object\": XR connection secrets aren't supported in apiextensions.crossplane.io/v2"]
    assert validate_xrd(v2_xrd("LegacyCluster")) == [
        'spec.scope: Unsupported value: "LegacyCluster": supported values: "Namespaced", "Cluster"']


# ---- generated CRDs


def test_legacy_composite_crd() -> None:
    xrd = seed_xrd()
    xrd["metadata"].update(uid="1234", labels={"team": "data"})
    xrd["spec"]["metadata"] = {"labels": {"tier": "db"}, "annotations": {"docs": "https://x"}}
    spec_props = xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_props["properties"]["compositionRef"] = {"type": "string"}  # injected fields win
    spec_props["required"] = ["parameters"]
    crd = composite_crd(xrd)
    assert crd["metadata"] == {
        "name": "xpostgresqlinstances.database.platform.io", "labels": {"team": "data", "tier": "db"},
        "annotations": {"docs": "https://x"},
        "ownerReferences": [{"apiVersion": "apiextensions.crossplane.io/v1", "kind": "CompositeResourceDefinition",
                             "name": "xpostgresqlinstances.database.platform.io", "uid": "1234",
                             "controller": True, "blockOwnerDeletion": True}]}
    assert crd["spec"]["scope"] == "Cluster"
    assert crd["spec"]["names"]["categories"] == ["composite"]
    version = crd["spec"]["versions"][0]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    assert [(c["name"], c["jsonPath"]) for c in version["additionalPrinterColumns"]] == [
        ("SYNCED", ".status.conditions[?(@.type=='Synced')].status"),
        ("READY", ".status.conditions[?(@.type=='Ready')].status"),
        ("COMPOSITION", ".spec.compositionRef.name"),
        ("COMPOSITIONREVISION", ".spec.compositionRevisionRef.name"),
        ("AGE", ".metadata.creationTimestamp")]
    schema = schema_of(crd)
    assert schema["required"] == ["spec"]
    assert schema["properties"]["metadata"]["properties"]["name"]["maxLength"] == 63
    spec = schema["properties"]["spec"]
    assert spec["required"] == ["parameters"]
    assert set(spec["properties"]) == {
        "parameters", "compositionRef", "compositionSelector", "compositionRevisionRef",
        "compositionRevisionSelector", "compositionUpdatePolicy", "resourceRefs", "claimRef",
        "writeConnectionSecretToRef"}
    assert spec["properties"]["compositionRef"]["type"] == "object"
    assert spec["properties"]["compositionUpdatePolicy"]["default"] == "Automatic"
    assert "namespace" in spec["properties"]["resourceRefs"]["items"]["properties"]
    assert set(schema["properties"]["status"]["properties"]) == {"conditions", "connectionDetails",
                                                                 "claimConditionTypes"}


def test_legacy_claim_crd() -> None:
    crd = claim_crd(seed_xrd(defaultCompositeDeletePolicy="Foreground"))
    assert crd is not None
    assert crd["metadata"]["name"] == "postgresqlinstances.database.platform.io"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"] == {"kind": "PostgreSQLInstance", "plural": "postgresqlinstances",
                                    "categories": ["claim"]}
    version = crd["spec"]["versions"][0]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["SYNCED", "READY", "CONNECTION-SECRET",
                                                                        "AGE"]
    spec = schema_of(crd)["properties"]["spec"]["properties"]
    assert spec["compositeDeletePolicy"] == {"type": "string", "enum": ["Background", "Foreground"],
                                             "default": "Foreground"}
    assert spec["resourceRef"]["required"] == ["apiVersion", "kind", "name"]
    assert spec["writeConnectionSecretToRef"]["properties"] == {"name": {"type": "string"}}
    assert "claimRef" not in spec and "compositionUpdatePolicy" in spec
    assert claim_crd(v2_xrd()) is None


def test_modern_xrs_nest_crossplane_fields() -> None:
    crd = composite_crd(v2_xrd())
    assert crd["spec"]["scope"] == "Namespaced"
    spec = schema_of(crd)["properties"]["spec"]["properties"]
    assert set(spec) == {"parameters", "crossplane"}
    machinery = spec["crossplane"]["properties"]
    assert "claimRef" not in machinery and "writeConnectionSecretToRef" not in machinery
    assert set(machinery["resourceRefs"]["items"]["properties"]) == {"apiVersion", "kind", "name"}
    assert set(schema_of(crd)["properties"]["status"]["properties"]) == {"conditions"}
    columns = {c["name"]: c["jsonPath"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert columns["COMPOSITION"] == ".spec.crossplane.compositionRef.name"
    cluster = composite_crd(v2_xrd("Cluster"))
    assert cluster["spec"]["scope"] == "Cluster"
    refs = schema_of(cluster)["properties"]["spec"]["properties"]["crossplane"]["properties"]["resourceRefs"]
    assert "namespace" in refs["items"]["properties"]


def test_claim_names_conflict_stops_generation() -> None:
    xrd = seed_xrd()
    xrd["spec"]["claimNames"]["plural"] = "xpostgresqlinstances"
    with pytest.raises(ApiError) as err:
        claim_crd(xrd)
    assert 'invalid resource claim names: "xpostgresqlinstances" conflicts' in err.value.message


# ---- served by the API server


def _serve(tmp_path: Path, *crds: dict[str, Any] | None) -> APIServer:
    server = APIServer(tmp_path)
    crd_rt = server.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert crd_rt is not None
    for crd in crds:
        assert crd is not None
        server.service.create(crd_rt, "", crd, RequestContext())
    return server


def _obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def test_api_server_serves_the_claim_and_the_xr(tmp_path: Path) -> None:
    xrd = seed_xrd()
    server = _serve(tmp_path, composite_crd(xrd), claim_crd(xrd))
    try:
        ctx = RequestContext()
        claims = server.registry.get(GROUP, "v1alpha1", "postgresqlinstances")
        xrs = server.registry.get(GROUP, "v1alpha1", "xpostgresqlinstances")
        assert claims is not None and xrs is not None
        assert claims.namespaced and not xrs.namespaced
        assert (claims.categories, xrs.categories) == (("claim",), ("composite",))

        claim = server.service.create(claims, "default", _obj("PostgreSQLInstance", "db", {
            "parameters": {"size": "small", "unknown": 1}, "compositionRef": {"name": "aws-postgresql"},
            "writeConnectionSecretToRef": {"name": "db-conn"}}), ctx)
        assert claim["spec"] == {"parameters": {"size": "small"}, "compositionRef": {"name": "aws-postgresql"},
                                 "writeConnectionSecretToRef": {"name": "db-conn"},
                                 "compositeDeletePolicy": "Background"}

        xr = server.service.create(xrs, "", _obj("XPostgreSQLInstance", "db-abcde", {
            "parameters": {"size": "large"},
            "claimRef": {"apiVersion": f"{GROUP}/v1alpha1", "kind": "PostgreSQLInstance", "namespace": "default",
                         "name": "db"},
            "resourceRefs": [{"apiVersion": "rds.aws.crossplane.io/v1alpha1", "kind": "RDSInstance",
                              "name": "db-abcde-x"}]}), ctx)
        assert xr["spec"]["compositionUpdatePolicy"] == "Automatic"
        assert xr["spec"]["claimRef"]["name"] == "db"

        with pytest.raises(ApiError) as err:
            server.service.create(xrs, "", _obj("XPostgreSQLInstance", "db-bad", {"parameters": {"size": "huge"}}),
                                  ctx)
        assert err.value.code == 422
        assert [(c.field, c.message) for c in err.value.causes] == [
            ("spec.parameters.size", 'Unsupported value: "huge": supported values: "small", "medium", "large"')]
        with pytest.raises(ApiError) as err:
            server.service.create(claims, "default", _obj("PostgreSQLInstance", "db2", {
                "compositeDeletePolicy": "Never", "resourceRef": {"kind": "XPostgreSQLInstance"}}), ctx)
        assert {c.field for c in err.value.causes} == {"spec.compositeDeletePolicy", "spec.resourceRef.apiVersion",
                                                       "spec.resourceRef.name"}
        with pytest.raises(ApiError) as err:
            server.service.create(xrs, "", _obj("XPostgreSQLInstance", "x" * 64, {}), ctx)
        assert err.value.causes[0].field == "metadata.name"
    finally:
        server.store.close()


def test_api_server_serves_a_namespaced_v2_xr(tmp_path: Path) -> None:
    server = _serve(tmp_path, composite_crd(v2_xrd()))
    try:
        xrs = server.registry.get(GROUP, "v1alpha1", "xpostgresqlinstances")
        assert xrs is not None and xrs.namespaced
        xr = server.service.create(xrs, "default", _obj("XPostgreSQLInstance", "db", {
            "parameters": {"size": "medium"}, "compositionRef": {"name": "dropped"},
            "crossplane": {"compositionRef": {"name": "aws-postgresql"}}}), RequestContext())
        assert xr["spec"] == {"parameters": {"size": "medium"}, "crossplane": {
            "compositionRef": {"name": "aws-postgresql"}, "compositionUpdatePolicy": "Automatic"}}
    finally:
        server.store.close()
