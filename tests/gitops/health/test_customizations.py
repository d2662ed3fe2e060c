"""Reading health scripts from an argocd-cm ConfigMap, and how they take precedence."""

from __future__ import annotations

import pytest

from idpbuilder.core.errors import ApiError
from idpbuilder.gitops.health import HealthCustomizations, HealthOverride, HealthStatus, assess
from idpbuilder.gitops.health.customizations import glob_match

HEALTHY_SCRIPT = 'return {status = "Healthy", message = "from %s"}'


def script(tag: str) -> str:
    return HEALTHY_SCRIPT % tag


def cm(data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": "argocd"},
            "data": data}


CERT = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "tls"}}
PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
       "status": {"phase": "Pending"}}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"paused": True}}


def test_split_key_with_group():
    c = HealthCustomizations.from_configmap(cm({"resource.customizations.health.cert-manager.io_Certificate":
                                                script("split")}))
    assert c.lookup("cert-manager.io", "Certificate") == HealthOverride(script("split"), False)
    assert assess(CERT, customizations=c) == HealthStatus("Healthy", "from split")


def test_split_key_for_a_core_kind_overrides_the_builtin_rule():
    c = HealthCustomizations.from_configmap(cm({"resource.customizations.health.PersistentVolumeClaim":
                                                script("pvc")}))
    assert assess(PVC) == HealthStatus("Progressing")
    assert assess(PVC, customizations=c) == HealthStatus("Healthy", "from pvc")


def test_configured_script_wins_over_builtin_go_rule():
    c = HealthCustomizations.from_configmap(cm({"resource.customizations.health.apps_Deployment": script("lua")}))
    assert assess(DEPLOYMENT) == HealthStatus("Suspended", "Deployment is paused")
    assert assess(DEPLOYMENT, customizations=c) == HealthStatus("Healthy", "from lua")


def test_deletion_wins_over_scripts():
    c = HealthCustomizations.from_configmap(cm({"resource.customizations.health.cert-manager.io_Certificate":
                                                script("split")}))
    deleting = {**CERT, "metadata": {"name": "tls", "deletionTimestamp": "2024-05-01T10:00:00Z"}}
    assert assess(deleting, customizations=c) == HealthStatus("Progressing", "Pending deletion")


def test_use_open_libs_split_key():
    data = {"resource.customizations.health.cert-manager.io_Certificate":
            'return {status = "Healthy", message = os.date("!%Y", 0)}',
            "resource.customizations.useOpenLibs.cert-manager.io_Certificate": "true"}
    c = HealthCustomizations.from_configmap(cm(data))
    assert c.lookup("cert-manager.io", "Certificate").use_open_libs is True
    assert assess(CERT, customizations=c) == HealthStatus("Healthy", "1970")
    data["resource.customizations.useOpenLibs.cert-manager.io_Certificate"] = "false"
    closed = assess(CERT, customizations=HealthCustomizations.from_configmap(cm(data)))
    assert closed.status == "Unknown" and "global 'os'" in closed.message


def test_yaml_blob_with_wildcards_and_open_libs():
    blob = f"""
"*.aws.crossplane.io/*":
  health.lua: |
    {script("aws wildcard")}
ec2.aws.crossplane.io/Instance:
  health.lua: |
    {script("ec2 exact")}
  health.lua.useOpenLibs: true
cert-manager.io/Certificate:
  ignoreDifferences: |
    jsonPointers: [/spec]
"""
    c = HealthCustomizations.from_configmap(cm({"resource.customizations": blob}))
    assert c.lookup("ec2.aws.crossplane.io", "Instance").use_open_libs is True
    assert "ec2 exact" in c.lookup("ec2.aws.crossplane.io", "Instance").health_lua
    assert "aws wildcard" in c.lookup("rds.aws.crossplane.io", "DBInstance").health_lua
    assert c.lookup("gcp.crossplane.io", "Bucket") is None
    # An entry without a health script does not shadow anything and gives no health.
    assert c.lookup("cert-manager.io", "Certificate") is None
    assert assess(CERT, customizations=c) is None
    bucket = {"apiVersion": "s3.aws.crossplane.io/v1beta1", "kind": "Bucket", "metadata": {"name": "b"}}
    assert assess(bucket, customizations=c) == HealthStatus("Healthy", "from aws wildcard")


def test_split_keys_override_the_blob():
    data = {"resource.customizations": f"cert-manager.io/Certificate:\n  health.lua: '{script('blob')}'\n",
            "resource.customizations.health.cert-manager.io_Certificate": script("split")}
    c = HealthCustomizations.from_configmap(cm(data))
    assert assess(CERT, customizations=c) == HealthStatus("Healthy", "from split")


def test_all_key_applies_to_every_grouped_kind():
    c = HealthCustomizations.from_configmap(cm({"resource.customizations.health.all": script("all")}))
    assert c.lookup("anything.example.com", "Thing").health_lua == script("all")
    assert assess(DEPLOYMENT, customizations=c) == HealthStatus("Healthy", "from all")
    # Core kinds are keyed by the bare kind, which "*/*" does not match (as upstream).
    assert assess(PVC, customizations=c) == HealthStatus("Progressing")


def test_other_customization_types_and_keys_are_ignored():
    data = {"resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers: [/spec/replicas]",
            "resource.customizations.actions.apps_Deployment": "discovery.lua: ''",
            "resource.customizations.knownTypeFields.apps_Deployment": "[]",
            "resource.customizations.ignoreResourceUpdates.all": "jsonPointers: [/status]",
            "resource.compareoptions": "ignoreAggregatedRoles: true",
            "url": "https://argocd.example.com"}
    c = HealthCustomizations.from_configmap(cm(data))
    assert c.lookup("apps", "Deployment") is None
    assert assess(DEPLOYMENT, customizations=c) == HealthStatus("Suspended", "Deployment is paused")


def test_empty_configmap():
    c = HealthCustomizations.from_configmap({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert c.overrides == {}


@pytest.mark.parametrize(("data", "field", "fragment"), [
    ({"resource.customizations.useOpenLibs.apps_Deployment": "maybe"},
     "data[resource.customizations.useOpenLibs.apps_Deployment]", 'strconv.ParseBool: parsing "maybe"'),
    ({"resource.customizations.health.a_b_c": "x"}, "data[resource.customizations.health.a_b_c]",
     "got group kind: 'a_b_c'"),
    ({"resource.customizations.colour.apps_Deployment": "red"}, "data[resource.customizations.colour.apps_Deployment]",
     "resource customization type colour not supported"),
    ({"resource.customizations": "a: [unclosed"}, "data[resource.customizations]", "expected"),
    ({"resource.customizations": "- a\n- b"}, "data[resource.customizations]", "expected a map"),
])
def test_malformed_configmap_is_a_422(data, field, fragment):
    with pytest.raises(ApiError) as info:
        HealthCustomizations.from_configmap(cm(data))
    err = info.value
    assert err.code == 422 and err.reason == "Invalid"
    assert err.message.startswith('ConfigMap "argocd-cm" is invalid: ')
    assert err.causes[0].field == field and fragment in err.causes[0].message


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("*.aws.crossplane.io/*", "ec2.aws.crossplane.io/Instance", True),
    ("*.aws.crossplane.io/*", "aws.crossplane.io/Instance", False),
    ("*/*", "apps/Deployment", True),
    ("*", "apps/Deployment", True),  # no separators: * crosses "/"
    ("apps/Deploy?ent", "apps/Deployment", True),
    ("apps/[DS]*", "apps/StatefulSet", True),
    ("apps/[!DS]*", "apps/StatefulSet", False),
    ("{apps,batch}/*", "batch/Job", True),
    ("{apps,batch}/*", "policy/PodDisruptionBudget", False),
    ("cert-manager.io/Certificate", "cert-manager.io/Certificate", True),
    ("cert-manager.io/Certificate", "cert-manager.io/CertificateRequest", False),
    ("a.b/K", "aXb/K", False),
    ("{unclosed", "{unclosed", False),
])
def test_glob(pattern, text, matches):
    assert glob_match(pattern, text) is matches


def test_script_with_constructor_options():
    c = HealthCustomizations({"cert-manager.io/Certificate": HealthOverride("while true do end")}, timeout=0.05)
    assert assess(CERT, customizations=c).message == ("Lua health script for cert-manager.io/Certificate timed out "
                                                      "after 0.05s")
