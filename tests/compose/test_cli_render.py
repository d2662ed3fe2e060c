from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from idpbuilder.cli.render import main

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"


def _docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def test_seed_example_renders_the_medium_rds_instance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(SEED / "xr.yaml"), str(SEED / "composition.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("---\n")
    xr, rds = _docs(out)
    assert (xr["kind"], xr["metadata"]["name"]) == ("XPostgreSQLInstance", "team-a-db")
    assert [(c["type"], c["status"], c["reason"], c.get("message")) for c in xr["status"]["conditions"]] == [
        ("Synced", "True", "ReconcileSuccess", None), ("Ready", "False", "Creating", "Unready resources: rds-instance")]
    assert rds["apiVersion"] == "rds.aws.crossplane.io/v1alpha1" and rds["kind"] == "RDSInstance"
    assert rds["spec"]["forProvider"] == {"dbInstanceClass": "db.t3.small", "engine": "postgres"}
    assert rds["metadata"]["generateName"] == "team-a-db-"
    assert rds["metadata"]["annotations"] == {"crossplane.io/composition-resource-name": "rds-instance"}
    assert rds["metadata"]["labels"] == {"crossplane.io/composite": "team-a-db"}
    owner = rds["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("XPostgreSQLInstance", "team-a-db", True)
    assert 'status: "True"' in out


@pytest.mark.parametrize(("size", "cls"), [("small", "db.t3.micro"), ("large", "db.t3.medium")])
def test_seed_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str], size: str, cls: str) -> None:
    xr = yaml.safe_load((SEED / "xr.yaml").read_text())
    xr["spec"]["parameters"]["size"] = size
    (tmp_path / "xr.yaml").write_text(yaml.safe_dump(xr))
    assert main([str(tmp_path / "xr.yaml"), str(SEED / "composition.yaml")]) == 0
    assert _docs(capsys.readouterr().out)[1]["spec"]["forProvider"]["dbInstanceClass"] == cls


def test_observed_resources_make_the_xr_ready(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    observed = {"apiVersion": "rds.aws.crossplane.io/v1alpha1", "kind": "RDSInstance",
                "metadata": {"name": "team-a-db-8xk2p",
                             "annotations": {"crossplane.io/composition-resource-name": "rds-instance"}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    (tmp_path / "observed").mkdir()
    (tmp_path / "observed" / "rds.yaml").write_text(yaml.safe_dump(observed))
    assert main([str(SEED / "xr.yaml"), str(SEED / "composition.yaml"), "-o", str(tmp_path / "observed"),
                 "--include-full-xr"]) == 0
    xr, rds = _docs(capsys.readouterr().out)
    assert xr["status"]["conditions"][1]["reason"] == "Available"
    assert xr["spec"] == {"parameters": {"size": "medium"}}
    assert rds["metadata"]["name"] == "team-a-db-8xk2p" and "generateName" not in rds["metadata"]


def test_errors_use_crossplanes_text_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xr = yaml.safe_load((SEED / "xr.yaml").read_text())
    xr["spec"]["parameters"]["size"] = "huge"
    (tmp_path / "xr.yaml").write_text(yaml.safe_dump(xr))
    assert main([str(tmp_path / "xr.yaml"), str(SEED / "composition.yaml")]) == 1
    err = capsys.readouterr().err
    assert err == ('idp: error: cannot render composite resource: cannot compose resources: cannot render composed '
                   'resource "rds-instance" "FromCompositeFieldPath" patch at index 0: transform at index 0 returned '
                   "error: map transform could not resolve: key huge is not found in map\n")
    assert main([str(tmp_path / "missing.yaml"), str(SEED / "composition.yaml")]) == 1
    assert "cannot load composite resource from" in capsys.readouterr().err


def test_pipeline_with_a_functions_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    comp = yaml.safe_load((SEED / "composition.yaml").read_text())
    resources = comp["spec"].pop("resources")
    comp["spec"].update({"mode": "Pipeline", "pipeline": [
        {"step": "patch-and-transform", "functionRef": {"name": "function-patch-and-transform"},
         "input": {"apiVersion": "pt.fn.crossplane.io/v1beta1", "kind": "Resources", "resources": resources}}]})
    fns = {"apiVersion": "pkg.crossplane.io/v1beta1", "kind": "Function",
           "metadata": {"name": "function-patch-and-transform"},
           "spec": {"package": "xpkg.crossplane.io/crossplane-contrib/function-patch-and-transform:v0.8.2"}}
    (tmp_path / "comp.yaml").write_text(yaml.safe_dump(comp))
    (tmp_path / "fns.yaml").write_text(yaml.safe_dump(fns))
    assert main([str(SEED / "xr.yaml"), str(tmp_path / "comp.yaml"), str(tmp_path / "fns.yaml")]) == 0
    assert _docs(capsys.readouterr().out)[1]["spec"]["forProvider"]["dbInstanceClass"] == "db.t3.small"
