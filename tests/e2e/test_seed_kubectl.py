"""The seed's example end to end with the real kubectl against `idp up`: XRD, Composition, a claim -> an RDSInstance.

The AWS provider runs inside `idp up`; without a ProviderConfig the RDSInstance cannot be Synced, so the
claim stays waiting: what is asserted is the composed object, the binding both ways, the revision,
the Events `kubectl describe` lists, and the XRD schema rejecting a bad claim.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from tests.conftest import Platform

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("kubectl_available")]

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"
XRD = "xpostgresqlinstances.database.platform.io"
RDS = "rdsinstances.rds.aws.crossplane.io"


def _get(platform: Platform, *args: str) -> Any:
    return json.loads(platform.kubectl("get", *args, "-o", "json").stdout)


def _until(what: str, probe: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last saw {last!r}")


def _claim(name: str, size: str) -> str:
    return yaml.safe_dump({"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
                           "metadata": {"name": name}, "spec": {"parameters": {"size": size}}})


@pytest.fixture(scope="module")
def seed(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The seed XRD (a copy offering a claim) and Composition applied; the namespace claims go to."""
    xrd = yaml.safe_load((SEED / "xrd.yaml").read_text())
    xrd["spec"]["claimNames"] = {"kind": "PostgreSQLInstance", "plural": "postgresqlinstances"}
    path = tmp_path_factory.mktemp("seed") / "xrd.yaml"
    path.write_text(yaml.safe_dump(xrd))
    platform.kubectl("apply", "-f", str(path))
    platform.kubectl("apply", "-f", str(SEED / "composition.yaml"))
    platform.kubectl("wait", "--for=condition=Established", "--for=condition=Offered", f"xrd/{XRD}",
                     "--timeout=30s")
    ns = f"seed-{uuid.uuid4().hex[:6]}"
    platform.kubectl("create", "namespace", ns)
    return ns


def test_claim_composes_the_rds_instance(platform: Platform, seed: str) -> None:
    platform.kubectl("-n", seed, "apply", "-f", "-", input=_claim("team-a-db", "medium"))

    def composed() -> dict[str, Any] | None:
        items = _get(platform, RDS, "-l", "crossplane.io/claim-name=team-a-db")["items"]
        return items[0] if len(items) == 1 else None
    rds = _until("the composed RDSInstance", composed)
    assert rds["spec"]["forProvider"]["dbInstanceClass"] == "db.t3.small"
    assert rds["spec"]["forProvider"]["engine"] == "postgres"
    labels = rds["metadata"]["labels"]
    assert labels["crossplane.io/claim-namespace"] == seed
    assert rds["metadata"]["annotations"]["crossplane.io/composition-resource-name"] == "rds-instance"
    out = platform.kubectl("get", RDS).stdout
    assert rds["metadata"]["name"] in out

    # bound both ways
    claim = _until("the claim bound", lambda: (c := _get(platform, "-n", seed, "postgresqlinstance", "team-a-db"))
                   ["spec"].get("resourceRef") and c)
    xr_name = claim["spec"]["resourceRef"]["name"]
    assert labels["crossplane.io/composite"] == xr_name
    xr = _get(platform, "xpostgresqlinstance", xr_name)
    assert xr["spec"]["claimRef"] == {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
                                      "name": "team-a-db", "namespace": seed}
    assert xr["spec"]["compositionRef"] == {"name": "aws-postgresql"}
    assert rds["metadata"]["ownerReferences"][0]["uid"] == xr["metadata"]["uid"]

    # rendered from the Composition's first revision
    revs = _get(platform, "compositionrevisions", "-l", "crossplane.io/composition-name=aws-postgresql")["items"]
    assert [r["spec"]["revision"] for r in revs] == [1]
    xr = _until("the revision reference", lambda: (x := _get(platform, "xpostgresqlinstance", xr_name))
                ["spec"].get("compositionRevisionRef") and x)
    assert xr["spec"]["compositionRevisionRef"] == {"name": revs[0]["metadata"]["name"]}
    wide = platform.kubectl("get", "xpostgresqlinstance", xr_name, "-o", "wide").stdout
    assert "aws-postgresql" in wide and revs[0]["metadata"]["name"] in wide

    # the managed resource cannot sync without a ProviderConfig: the claim waits, and says so
    claim = _until("the claim waiting", lambda: (c := _get(platform, "-n", seed, "postgresqlinstance",
                                                          "team-a-db")).get("status") and c)
    ready = next(c for c in claim["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Waiting")

    def described(*args: str) -> str | None:
        out = platform.kubectl("describe", *args).stdout
        return out if "Successfully bound composite resource" in out or "Selected composition revision" in out \
            else None
    out = _until("the claim's events", lambda: described("-n", seed, "postgresqlinstance", "team-a-db"))
    assert "BindCompositeResource" in out and "Successfully bound composite resource" in out
    assert "offered/xpostgresqlinstances.database.platform.io" in out
    out = _until("the XR's events", lambda: described("xpostgresqlinstance", xr_name))
    assert "SelectComposition" in out and "Successfully selected composition: aws-postgresql" in out
    assert f"Selected composition revision: {revs[0]['metadata']['name']}" in out


def test_claim_violating_the_xrd_schema_is_rejected(platform: Platform, seed: str) -> None:
    result = platform.kubectl("-n", seed, "apply", "-f", "-", input=_claim("bad-size", "huge"), check=False)
    assert result.returncode != 0
    assert 'spec.parameters.size: Unsupported value: "huge": supported values: "small", "medium", "large"' \
        in result.stderr
    assert platform.kubectl("-n", seed, "get", "postgresqlinstance", "bad-size", check=False).returncode != 0


def test_composition_failures_show_in_describe(platform: Platform, seed: str) -> None:
    body = yaml.safe_load(_claim("lost", "small"))
    body["spec"]["compositionRef"] = {"name": "nope"}
    platform.kubectl("-n", seed, "apply", "-f", "-", input=yaml.safe_dump(body))
    words = 'cannot get Composition "nope": compositions.apiextensions.crossplane.io "nope" not found'

    def described() -> str | None:
        out = platform.kubectl("-n", seed, "describe", "postgresqlinstance", "lost").stdout
        return out if words in out.partition("Events:")[2] else None
    out = _until("the failure in the claim's events", described)
    line = next(x for x in out.partition("Events:")[2].splitlines() if words in x)
    assert line.split()[:2] == ["Warning", "SelectComposition"]
    assert "defined/xpostgresqlinstances.database.platform.io" in line
    synced = next(c for c in _get(platform, "-n", seed, "postgresqlinstance", "lost")["status"]["conditions"]
                  if c["type"] == "Synced")
    assert (synced["status"], synced["message"]) == ("False", words)
