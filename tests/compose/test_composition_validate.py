"""Composition validation: its own logic, and its patches against the XRD's schema; `idp ... validate`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from idpbuilder.cli.xrd import main as cli_main
from idpbuilder.compose.composition_validate import parse_field_path, validate_composition

from .test_xrd import SEED_XRD, seed_xrd

# The seed Composition, verbatim (architecture guide).
SEED_COMPOSITION: dict[str, Any] = {
    "apiVersion": "apiextensions.crossplane.io/v1",
    "kind": "Composition",
    "metadata": {"name": "aws-postgresql"},
    "spec": {
        "compositeTypeRef": {"apiVersion": "database.platform.io/v1alpha1", "kind": "XPostgreSQLInstance"},
        "resources": [{
            "name": "rds-instance",
            "base": {"apiVersion": "rds.aws.crossplane.io/v1alpha1", "kind": "RDSInstance",
                     "spec": {"forProvider": {"dbInstanceClass": "db.t3.micro", "engine": "postgres"}}},
            "patches": [{"type": "FromCompositeFieldPath", "fromFieldPath": "spec.parameters.size",
                         "toFieldPath": "spec.forProvider.dbInstanceClass",
                         "transforms": [{"type": "map", "map": {"small": "db.t3.micro", "medium": "db.t3.small",
                                                                "large": "db.t3.medium"}}]}],
        }],
    },
}


def comp() -> dict[str, Any]:
    return copy.deepcopy(SEED_COMPOSITION)


def patches(c: dict[str, Any]) -> list[dict[str, Any]]:
    return c["spec"]["resources"][0]["patches"]


def pipeline(*steps: dict[str, Any]) -> dict[str, Any]:
    c = comp()
    del c["spec"]["resources"]
    c["spec"].update(mode="Pipeline", pipeline=list(steps))
    return c


def pt_step(resources: list[dict[str, Any]], name: str = "patch-and-transform") -> dict[str, Any]:
    return {"step": name, "functionRef": {"name": "function-patch-and-transform"},
            "input": {"apiVersion": "pt.fn.crossplane.io/v1beta1", "kind": "Resources", "resources": resources}}


def test_seed_composition_is_valid_alone_and_against_its_xrd() -> None:
    assert validate_composition(comp()) == []
    assert validate_composition(comp(), seed_xrd()) == []


def test_patches_must_use_fields_the_xr_has() -> None:
    c = comp()
    patches(c).extend([
        {"fromFieldPath": "spec.parameters.sise", "toFieldPath": "spec.forProvider.allocatedStorage"},
        {"type": "ToCompositeFieldPath", "fromFieldPath": "status.atProvider.endpoint",
         "toFieldPath": "status.endpoint"},
        {"fromFieldPath": "metadata.labels[crossplane.io/claim-name]", "toFieldPath": "metadata.labels[claim]"},
        {"fromFieldPath": "spec.compositionRef.name", "toFieldPath": "metadata.annotations[composition]"},
        {"fromFieldPath": "spec.parameters.size.value", "toFieldPath": "spec.x"},
        {"fromFieldPath": "spec.parameters..size", "toFieldPath": "spec.x"},
        {"type": "CombineFromComposite", "toFieldPath": "spec.forProvider.name",
         "combine": {"strategy": "string", "string": {"fmt": "%s-%s"},
                     "variables": [{"fromFieldPath": "metadata.name"}, {"fromFieldPath": "spec.region"}]}},
    ])
    assert validate_composition(c, seed_xrd()) == [
        "spec.resources[0].patches[1].fromFieldPath: Invalid value: \"spec.parameters.sise\": field 'sise' is not "
        "valid according to the schema",
        "spec.resources[0].patches[2].toFieldPath: Invalid value: \"status.endpoint\": field 'endpoint' is not "
        "valid according to the schema",
        "spec.resources[0].patches[5].fromFieldPath: Invalid value: \"spec.parameters.size.value\": trying to "
        "access a field 'value' of object, but schema says parent is of type: 'string'",
        "spec.resources[0].patches[6].fromFieldPath: Invalid value: \"spec.parameters..size\": unexpected '.' at "
        "position 16",
        "spec.resources[0].patches[7].combine.variables[1].fromFieldPath: Invalid value: \"spec.region\": field "
        "'region' is not valid according to the schema",
    ]
    # Without the XRD nothing is known about the XR's fields.
    assert validate_composition(c) == []


def test_transforms_must_accept_the_xr_field_type() -> None:
    xrd = seed_xrd()
    params = xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    params["parameters"]["properties"]["storageGB"] = {"type": "integer"}
    c = comp()
    patches(c).append({"fromFieldPath": "spec.parameters.storageGB", "toFieldPath": "spec.forProvider.x",
                       "transforms": [{"type": "math", "math": {"multiply": 2}},
                                      {"type": "map", "map": {"2": "two"}}]})
    assert validate_composition(c, xrd) == [
        'spec.resources[0].patches[1].transforms[1]: Invalid value: {"map":{"2":"two"},"type":"map"}: map '
        "transform can only be used with string types, got float64"]


def test_composite_type_ref_must_match_the_xrd() -> None:
    c = comp()
    c["spec"]["compositeTypeRef"]["kind"] = "XMySQLInstance"
    assert validate_composition(c, seed_xrd()) == [
        'spec.compositeTypeRef: Invalid value: {"apiVersion":"database.platform.io/v1alpha1",'
        '"kind":"XMySQLInstance"}: does not match the composite resource of CompositeResourceDefinition '
        '"xpostgresqlinstances.database.platform.io" (database.platform.io/v1alpha1, Kind=XPostgreSQLInstance)']
    c = comp()
    c["spec"]["compositeTypeRef"]["apiVersion"] = "database.platform.io/v1beta1"
    assert validate_composition(c, seed_xrd()) == [
        'spec.compositeTypeRef.apiVersion: Invalid value: "database.platform.io/v1beta1": Compositions must '
        'target the referenceable version of CompositeResourceDefinition '
        '"xpostgresqlinstances.database.platform.io": database.platform.io/v1alpha1']


def test_resources_mode_logic() -> None:
    c = comp()
    c["spec"]["patchSets"] = [{"name": "common", "patches": [{"type": "PatchSet", "patchSetName": "x"}]}]
    res = c["spec"]["resources"]
    res.append(copy.deepcopy(res[0]))
    res.append({"base": {"apiVersion": "v1"}})
    res[0]["patches"] += [{"type": "PatchSet", "patchSetName": "missing"},
                          {"type": "ToCompositeFieldPath"},
                          {"type": "CombineToComposite", "combine": {"strategy": "string",
                                                                     "variables": [{"fromFieldPath": "a"}]}},
                          {"type": "Sideways", "fromFieldPath": "a"}]
    res[0]["readinessChecks"] = [{"type": "MatchString", "fieldPath": "status.phase"}, {"type": "Soon"}]
    assert validate_composition(c) == [
        'spec.patchSets[0].patches[0].type: Invalid value: "PatchSet": cannot use patches within patches',
        'spec.resources[1].name: Duplicate value: "rds-instance"',
        "spec.resources[2].name: Required value: cannot mix named and anonymous resources, all resources must "
        "have a name or none must have a name",
        'spec.resources[0].patches[1].patchSetName: Invalid value: "missing": patchSetName must be the name of '
        "a declared patchSet",
        "spec.resources[0].patches[2].fromFieldPath: Required value: fromFieldPath must be set for patch type "
        "ToCompositeFieldPath",
        "spec.resources[0].patches[3].toFieldPath: Required value: toFieldPath must be set for patch type "
        "CombineToComposite",
        'spec.resources[0].patches[4].type: Invalid value: "Sideways": unknown patch type',
        "spec.resources[0].readinessChecks[0].matchString: Required value: cannot be empty for type MatchString",
        'spec.resources[0].readinessChecks[1].type: Invalid value: "Soon": unknown readiness check type',
        "spec.resources[2].base.kind: Required value",
    ]
    empty = comp()
    empty["spec"]["resources"] = []
    assert validate_composition(empty) == [
        "spec.resources: Required value: an array of resources is required in Resources mode (the default if no "
        "mode is specified)"]
    empty["spec"]["mode"] = "Magic"
    assert validate_composition(empty) == [
        'spec.mode: Unsupported value: "Magic": supported values: "Pipeline", "Resources"']


def test_pipeline_steps_are_named_unique_and_complete() -> None:
    c = pipeline({"step": "one", "functionRef": {"name": "function-a"}},
                 {"step": "one", "functionRef": {"name": "function-b"},
                  "credentials": [{"name": "creds", "source": "Secret"}]},
                 {"functionRef": {}})
    assert validate_composition(c) == [
        'spec.pipeline[1].step: Duplicate value: "one"',
        "spec.pipeline[1].credentials[0].secretRef: Required value: must be specified when source is Secret",
        "spec.pipeline[2].step: Required value",
        "spec.pipeline[2].functionRef.name: Required value"]
    assert validate_composition(pipeline()) == [
        "spec.pipeline: Required value: an array of pipeline steps is required in Pipeline mode"]


def test_patch_and_transform_inputs_are_checked_too() -> None:
    resources = copy.deepcopy(SEED_COMPOSITION["spec"]["resources"])
    resources[0]["patches"].append({"fromFieldPath": "spec.parameters.sise", "toFieldPath": "spec.y"})
    resources.append({"patches": []})
    c = pipeline(pt_step(resources))
    assert validate_composition(c, seed_xrd()) == [
        "spec.pipeline[0].input.resources[1].name: Required value: name is required",
        "spec.pipeline[0].input.resources[0].patches[1].fromFieldPath: Invalid value: \"spec.parameters.sise\": "
        "field 'sise' is not valid according to the schema"]
    # a step whose input is not patch-and-transform's is left to its function
    other = pipeline({"step": "go", "functionRef": {"name": "function-go-templating"},
                      "input": {"apiVersion": "gotemplating.fn.crossplane.io/v1beta1", "kind": "GoTemplate"}})
    assert validate_composition(other, seed_xrd()) == []


def test_modern_xr_fields_live_under_spec_crossplane() -> None:
    xrd = seed_xrd()
    xrd["apiVersion"] = "apiextensions.crossplane.io/v2"
    del xrd["spec"]["claimNames"]
    c = pipeline(pt_step([{"name": "db", "patches": [
        {"fromFieldPath": "spec.crossplane.compositionRef.name", "toFieldPath": "metadata.annotations[c]"},
        {"fromFieldPath": "spec.compositionRef.name", "toFieldPath": "metadata.annotations[d]"}]}]))
    assert validate_composition(c, xrd) == [
        "spec.pipeline[0].input.resources[0].patches[1].fromFieldPath: Invalid value: \"spec.compositionRef.name\": "
        "field 'compositionRef' is not valid according to the schema"]


@pytest.mark.parametrize(("path", "segments"), [
    ("spec.parameters.size", ["spec", "parameters", "size"]),
    ("spec.items[0].name", ["spec", "items", 0, "name"]),
    ("metadata.labels[app.kubernetes.io/name]", ["metadata", "labels", "app.kubernetes.io/name"]),
    ("metadata.annotations['a.b']", ["metadata", "annotations", "a.b"]),
    ("a[*].b", ["a", "*", "b"]),
])
def test_field_paths_parse_like_crossplane(path: str, segments: list[Any]) -> None:
    assert parse_field_path(path) == segments


@pytest.mark.parametrize(("path", "error"), [
    (".a", "unexpected '.' at position 0"), ("a.", "unexpected '.' at position 1"),
    ("a[0", "unterminated '[' at position 1"), ("a]", "unexpected ']' at position 1"),
    ("a.[0]", "unexpected '[' at position 2"),
])
def test_malformed_field_paths(path: str, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("[", r"\[")):
        parse_field_path(path)


# ---- the CLI


def write(tmp_path: Path, name: str, *docs: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def test_cli_xrd_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.yaml", seed_xrd())
    assert cli_main(["xrd", "validate", good]) == 0
    assert "valid" in capsys.readouterr().out
    seed = write(tmp_path, "seed.yaml", SEED_XRD)
    assert cli_main(["xrd", "validate", good, seed]) == 1
    err = capsys.readouterr().err
    assert err == (f"{seed}: CompositeResourceDefinition/xpostgresqlinstances.database.platform.io: "
                   "spec.names: Required value\n")
    assert cli_main(["xrd", "validate", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_cli_composition_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xrd = write(tmp_path, "xrd.yaml", seed_xrd())
    bad = comp()
    patches(bad).append({"fromFieldPath": "spec.parameters.sise", "toFieldPath": "spec.x"})
    comps = write(tmp_path, "comps.yaml", comp(), bad | {"metadata": {"name": "typo"}})
    assert cli_main(["composition", "validate", comps, "--xrd", xrd]) == 1
    out = capsys.readouterr()
    assert f"{comps}: Composition/aws-postgresql: valid" in out.out
    assert out.err == (f"{comps}: Composition/typo: spec.resources[0].patches[1].fromFieldPath: Invalid value: "
                       "\"spec.parameters.sise\": field 'sise' is not valid according to the schema\n")
    # an XRD in the same file is used as well; without any XRD only the Composition's logic is checked
    both = write(tmp_path, "both.yaml", seed_xrd(), bad)
    assert cli_main(["composition", "validate", both]) == 1
    capsys.readouterr()
    assert cli_main(["composition", "validate", write(tmp_path, "alone.yaml", bad)]) == 0
    capsys.readouterr()
    other = write(tmp_path, "other.yaml", seed_xrd(group="cache.platform.io"))
    assert cli_main(["composition", "validate", write(tmp_path, "c.yaml", comp()), "--xrd", other]) == 1
    assert "spec.compositeTypeRef: no CompositeResourceDefinition in" in capsys.readouterr().err
