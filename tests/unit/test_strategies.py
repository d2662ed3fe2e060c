"""Defaulting, validation and create/update preparation of built-in kinds.

Expected defaults are what a real 1.32 cluster shows in `kubectl get -o yaml`; expected errors are
upstream's field paths, messages and reasons.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from idpbuilder.apiserver import strategies
from idpbuilder.core.errors import ApiError, Cause, invalid

APPS, BATCH, NET, RBAC = "apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"
UID = "6f1b0c6e-6a51-4d36-9d1a-2b0a1c7d8e9f"


def create(group: str, kind: str, obj: dict[str, Any]) -> tuple[dict[str, Any], list[Cause]]:
    """What the server does on create: prepare, default, validate."""
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {}).setdefault("uid", UID)
    strategies.prepare_for_create(group, kind, obj)
    strategies.default(group, kind, obj)
    return obj, strategies.validate(group, kind, obj)


def update(
    group: str, kind: str, old: dict[str, Any], new: dict[str, Any], subresource: str | None = ""
) -> tuple[dict[str, Any], list[Cause]]:
    new = copy.deepcopy(new)
    strategies.prepare_for_update(group, kind, new, old, subresource=subresource)
    strategies.default(group, kind, new)
    return new, strategies.validate(group, kind, new, old)


def created(group: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    out, causes = create(group, kind, obj)
    assert causes == [], causes
    return out


def dig(obj: Any, path: str) -> Any:
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        obj = obj[int(part[1:-1])] if part.startswith("[") else obj[part]
    return obj


def errors(causes: list[Cause]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in causes]


def meta(name: str, namespace: str | None = "default", **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, **extra}
    if namespace:
        m["namespace"] = namespace
    return m


def pod_spec(**extra: Any) -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": "nginx:1.25"}], **extra}


def deployment(labels: dict[str, str] | None = None, selector: Any = "same", **spec: Any) -> dict[str, Any]:
    labels = {"app": "web"} if labels is None else labels
    body: dict[str, Any] = {"template": {"metadata": {"labels": labels}, "spec": pod_spec()}, **spec}
    if selector == "same":
        body["selector"] = {"matchLabels": dict(labels)}
    elif selector is not None:
        body["selector"] = selector
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"), "spec": body}


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("web"),
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }


def job(template_spec: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    template_spec = template_spec if template_spec is not None else pod_spec(restartPolicy="Never")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta("pi"),
        "spec": {"template": {"spec": template_spec}, **spec},
    }


# --- defaults ------------------------------------------------------------------------------------

DEFAULTS = [
    # Deployment as `kubectl create deployment web --image=nginx` shows it.
    (
        APPS,
        "Deployment",
        deployment(),
        {
            "spec.replicas": 1,
            "spec.revisionHistoryLimit": 10,
            "spec.progressDeadlineSeconds": 600,
            "spec.strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "spec.template.metadata.creationTimestamp": None,
            "spec.template.spec.restartPolicy": "Always",
            "spec.template.spec.dnsPolicy": "ClusterFirst",
            "spec.template.spec.schedulerName": "default-scheduler",
            "spec.template.spec.securityContext": {},
            "spec.template.spec.terminationGracePeriodSeconds": 30,
            "spec.template.spec.containers[0].imagePullPolicy": "IfNotPresent",
            "spec.template.spec.containers[0].terminationMessagePath": "/dev/termination-log",
            "spec.template.spec.containers[0].terminationMessagePolicy": "File",
            "spec.template.spec.containers[0].resources": {},
            "status": {},
        },
    ),
    (
        APPS,
        "Deployment",
        deployment(strategy={"type": "Recreate"}, replicas=0),
        {"spec.strategy": {"type": "Recreate"}, "spec.replicas": 0},
    ),
    (
        APPS,
        "ReplicaSet",
        {**deployment(), "kind": "ReplicaSet"},
        {"spec.replicas": 1, "status": {"replicas": 0}},
    ),
    (
        APPS,
        "StatefulSet",
        {
            "metadata": meta("db"),
            "spec": {
                "selector": {"matchLabels": {"app": "db"}},
                "serviceName": "db",
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": pod_spec()},
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1024Mi"}},
                        },
                    }
                ],
            },
        },
        {
            "spec.replicas": 1,
            "spec.podManagementPolicy": "OrderedReady",
            "spec.revisionHistoryLimit": 10,
            "spec.updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "spec.persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "spec.volumeClaimTemplates[0].spec.volumeMode": "Filesystem",
            "spec.volumeClaimTemplates[0].spec.resources.requests.storage": "1Gi",
            "spec.volumeClaimTemplates[0].status": {"phase": "Pending"},
            "spec.volumeClaimTemplates[0].metadata.creationTimestamp": None,
            "status": {"replicas": 0, "availableReplicas": 0},
        },
    ),
    (
        APPS,
        "DaemonSet",
        {**deployment(), "kind": "DaemonSet"},
        {
            "spec.updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "spec.revisionHistoryLimit": 10,
            "metadata.annotations": {"deprecated.daemonset.template.generation": "1"},
            "status": {
                "currentNumberScheduled": 0,
                "numberMisscheduled": 0,
                "desiredNumberScheduled": 0,
                "numberReady": 0,
            },
        },
    ),
    (
        BATCH,
        "Job",
        job(),
        {
            "spec.completions": 1,
            "spec.parallelism": 1,
            "spec.backoffLimit": 6,
            "spec.completionMode": "NonIndexed",
            "spec.suspend": False,
            "spec.manualSelector": False,
            "spec.podReplacementPolicy": "TerminatingOrFailed",
            "spec.selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}},
            "spec.template.metadata.labels": {
                "batch.kubernetes.io/controller-uid": UID,
                "batch.kubernetes.io/job-name": "pi",
                "controller-uid": UID,
                "job-name": "pi",
            },
            "metadata.labels": {
                "batch.kubernetes.io/controller-uid": UID,
                "batch.kubernetes.io/job-name": "pi",
                "controller-uid": UID,
                "job-name": "pi",
            },
            "spec.template.spec.restartPolicy": "Never",
            "status": {},
        },
    ),
    (BATCH, "Job", job(parallelism=3), {"spec.parallelism": 3, "spec.backoffLimit": 6}),
    (
        BATCH,
        "CronJob",
        {
            "metadata": meta("tick"),
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {"spec": {"template": {"spec": pod_spec(restartPolicy="OnFailure")}}},
            },
        },
        {
            "spec.concurrencyPolicy": "Allow",
            "spec.suspend": False,
            "spec.successfulJobsHistoryLimit": 3,
            "spec.failedJobsHistoryLimit": 1,
            "spec.jobTemplate.metadata.creationTimestamp": None,
            "spec.jobTemplate.spec.template.metadata.creationTimestamp": None,
            "spec.jobTemplate.spec.template.spec.restartPolicy": "OnFailure",
            "status": {},
        },
    ),
    (
        "",
        "Service",
        service(),
        {
            "spec.type": "ClusterIP",
            "spec.sessionAffinity": "None",
            "spec.ports[0].protocol": "TCP",
            "spec.ports[0].targetPort": 80,
            "spec.ipFamilyPolicy": "SingleStack",
            "spec.ipFamilies": ["IPv4"],
            "spec.internalTrafficPolicy": "Cluster",
            "status": {"loadBalancer": {}},
        },
    ),
    (
        "",
        "Service",
        service(ports=[{"port": 80, "targetPort": "http", "protocol": "UDP"}]),
        {"spec.ports[0].targetPort": "http", "spec.ports[0].protocol": "UDP"},
    ),
    ("", "Service", service(type="NodePort"), {"spec.externalTrafficPolicy": "Cluster"}),
    (
        "",
        "Service",
        service(type="LoadBalancer"),
        {"spec.externalTrafficPolicy": "Cluster", "spec.allocateLoadBalancerNodePorts": True},
    ),
    (
        "",
        "Service",
        service(sessionAffinity="ClientIP"),
        {"spec.sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}},
    ),
    (
        "",
        "Service",
        service(clusterIP="None"),
        {"spec.clusterIPs": ["None"], "spec.ipFamilyPolicy": "SingleStack", "spec.ipFamilies": ["IPv4"]},
    ),
    # Headless without a selector defaults to dual stack, even on a single-stack cluster.
    (
        "",
        "Service",
        {"metadata": meta("ext"), "spec": {"clusterIP": "None", "ports": [{"port": 5432}]}},
        {"spec.ipFamilyPolicy": "RequireDualStack", "spec.ipFamilies": ["IPv4", "IPv6"]},
    ),
    (
        "",
        "Service",
        {"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "db.example.com"}},
        {
            "spec.sessionAffinity": "None",
            "spec": lambda s: "ipFamilies" not in s and "internalTrafficPolicy" not in s,
        },
    ),
    (
        "",
        "Secret",
        {"metadata": meta("s"), "stringData": {"password": "hunter2"}, "data": {"user": "YWRtaW4="}},
        {
            "type": "Opaque",
            "data": {"user": "YWRtaW4=", "password": "aHVudGVyMg=="},
            "": lambda o: "stringData" not in o,
        },
    ),
    ("", "ConfigMap", {"metadata": meta("c")}, {"": lambda o: "data" not in o}),
    (
        "",
        "Namespace",
        {"metadata": meta("team-a", None)},
        {
            "metadata.labels": {"kubernetes.io/metadata.name": "team-a"},
            "spec.finalizers": ["kubernetes"],
            "status": {"phase": "Active"},
        },
    ),
    (
        "",
        "Pod",
        {"metadata": meta("p"), "spec": pod_spec()},
        {
            "spec.enableServiceLinks": True,
            "spec.priority": 0,
            "spec.preemptionPolicy": "PreemptLowerPriority",
            "spec.serviceAccountName": "default",
            "spec.serviceAccount": "default",
            "spec.tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        },
    ),
    (
        "",
        "Pod",
        {
            "metadata": meta("p"),
            "spec": {
                "containers": [
                    {"name": "a", "image": "x", "resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}}}
                ]
            },
        },
        {
            "spec.containers[0].resources": {
                "limits": {"cpu": "500m", "memory": "1Gi"},
                "requests": {"cpu": "500m", "memory": "1Gi"},
            },
            "status.qosClass": "Guaranteed",
        },
    ),
    (
        "",
        "Pod",
        {
            "metadata": meta("p"),
            "spec": {"containers": [{"name": "a", "image": "x", "resources": {"requests": {"cpu": "100m"}}}]},
        },
        {"status.qosClass": "Burstable"},
    ),
    (
        "",
        "Pod",
        {"metadata": meta("p"), "spec": pod_spec(schedulingGates=[{"name": "example.com/gate"}])},
        {
            "status.conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": None,
                    "reason": "SchedulingGated",
                    "message": "Scheduling is blocked due to non-empty scheduling gates",
                }
            ]
        },
    ),
    (
        "",
        "Pod",
        {
            "metadata": meta("p"),
            "spec": pod_spec(
                hostNetwork=True, containers=[{"name": "a", "image": "x", "ports": [{"containerPort": 8080}]}]
            ),
        },
        {"spec.containers[0].ports[0].hostPort": 8080},
    ),
    (
        RBAC,
        "RoleBinding",
        {
            "metadata": meta("rb"),
            "roleRef": {"kind": "Role", "name": "reader"},
            "subjects": [
                {"kind": "User", "name": "alice"},
                {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "default"},
            ],
        },
        {
            "roleRef.apiGroup": RBAC,
            "subjects[0].apiGroup": RBAC,
            "subjects[1].apiGroup": RBAC,
            "subjects[2]": {"kind": "ServiceAccount", "name": "default"},
        },
    ),
    (
        RBAC,
        "ClusterRole",
        {
            "metadata": meta("agg", None),
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate": "true"}}]},
        },
        {"rules": None},
    ),
    (
        NET,
        "NetworkPolicy",
        {"metadata": meta("np"), "spec": {"egress": [{"ports": [{"port": 53}]}]}},
        {
            "spec.podSelector": {},
            "spec.policyTypes": ["Ingress", "Egress"],
            "spec.egress[0].ports[0].protocol": "TCP",
        },
    ),
    (
        NET,
        "NetworkPolicy",
        {"metadata": meta("np"), "spec": {"podSelector": {}}},
        {"spec.policyTypes": ["Ingress"]},
    ),
    (
        NET,
        "IngressClass",
        {
            "metadata": meta("nginx", None),
            "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"kind": "Config", "name": "c"}},
        },
        {"spec.parameters.scope": "Cluster"},
    ),
    (
        NET,
        "Ingress",
        {
            "metadata": meta("ing"),
            "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
        },
        {"status": {"loadBalancer": {}}},
    ),
    (
        "",
        "LimitRange",
        {
            "metadata": meta("lr"),
            "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "100Mi"}}]},
        },
        {
            "spec.limits[0].default": {"cpu": "2"},
            "spec.limits[0].defaultRequest": {"cpu": "2", "memory": "100Mi"},
        },
    ),
    (
        "",
        "ResourceQuota",
        {"metadata": meta("q"), "spec": {"hard": {"requests.cpu": "1000m", "requests.memory": "1.5Gi"}}},
        {"spec.hard": {"requests.cpu": "1", "requests.memory": "1536Mi"}, "status": {}},
    ),
    (
        "",
        "Event",
        {
            "metadata": meta("p.1"),
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Scheduled",
        },
        {
            "source": {},
            "eventTime": None,
            "firstTimestamp": None,
            "reportingComponent": "",
            "reportingInstance": "",
        },
    ),
    (
        "",
        "PersistentVolumeClaim",
        {
            "metadata": meta("data"),
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "0.5Gi"}}},
        },
        {
            "spec.volumeMode": "Filesystem",
            "spec.resources.requests.storage": "512Mi",
            "status": {"phase": "Pending"},
        },
    ),
    (
        "",
        "Endpoints",
        {"metadata": meta("web"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
        {"subsets[0].ports[0].protocol": "TCP"},
    ),
    (
        "policy",
        "PodDisruptionBudget",
        {"metadata": meta("pdb"), "spec": {"minAvailable": 1, "selector": {}}},
        {"status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}},
    ),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        {
            "metadata": meta("hpa"),
            "spec": {
                "maxReplicas": 5,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            },
        },
        {
            "spec.minReplicas": 1,
            "spec.metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        },
    ),
    (
        "scheduling.k8s.io",
        "PriorityClass",
        {"metadata": meta("high", None), "value": 1000},
        {"preemptionPolicy": "PreemptLowerPriority"},
    ),
    (
        "storage.k8s.io",
        "StorageClass",
        {"metadata": meta("fast", None), "provisioner": "example.com/disk"},
        {"reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"},
    ),
]


@pytest.mark.parametrize(
    ("group", "kind", "obj", "expected"),
    DEFAULTS,
    ids=[f"{k}-{i}" for i, (_, k, _, _) in enumerate(DEFAULTS)],
)
def test_defaults_on_create(group: str, kind: str, obj: dict[str, Any], expected: dict[str, Any]) -> None:
    out = created(group, kind, obj)
    for path, value in expected.items():
        actual = dig(out, path) if path else out
        if callable(value):
            assert value(actual), (path, actual)
        else:
            assert actual == value, (path, actual)


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:v2", "IfNotPresent"),
        ("ghcr.io/org/tool@sha256:" + "a" * 64, "IfNotPresent"),
        ("ghcr.io/org/tool:latest@sha256:" + "b" * 64, "Always"),
        ("Invalid/Image", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    out = created("", "Pod", {"metadata": meta("p"), "spec": {"containers": [{"name": "a", "image": image}]}})
    assert out["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_explicit_values_are_kept() -> None:
    dep = deployment(
        replicas=3,
        revisionHistoryLimit=2,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
    )
    dep["spec"]["template"]["spec"].update(
        restartPolicy="Always", dnsPolicy="Default", terminationGracePeriodSeconds=5
    )
    dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    out = created(APPS, "Deployment", dep)
    assert out["spec"]["replicas"] == 3 and out["spec"]["revisionHistoryLimit"] == 2
    assert out["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": "25%"}
    assert dig(out, "spec.template.spec.dnsPolicy") == "Default"
    assert dig(out, "spec.template.spec.terminationGracePeriodSeconds") == 5
    assert dig(out, "spec.template.spec.containers[0].imagePullPolicy") == "Never"


def test_pod_spec_nested_defaults() -> None:
    spec = {
        "serviceAccount": "builder",
        "containers": [
            {
                "name": "app",
                "image": "app:1",
                "ports": [{"containerPort": 8080, "name": "http"}],
                "livenessProbe": {"httpGet": {"port": "http"}},
                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 3},
                "lifecycle": {"preStop": {"httpGet": {"port": 8080, "path": "/stop"}}},
                "env": [
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
                ],
                "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}],
            }
        ],
        "volumes": [
            {"name": "cfg", "configMap": {"name": "app"}},
            {"name": "creds", "secret": {"secretName": "app"}},
            {"name": "scratch"},
            {"name": "host", "hostPath": {"path": "/var/log"}},
            {
                "name": "info",
                "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]},
            },
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
        ],
    }
    out = created(
        APPS,
        "Deployment",
        {
            **deployment(),
            "spec": {
                **deployment()["spec"],
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec},
            },
        },
    )
    s = out["spec"]["template"]["spec"]
    assert s["serviceAccountName"] == "builder" and s["serviceAccount"] == "builder"
    c = s["containers"][0]
    assert c["ports"][0]["protocol"] == "TCP"
    assert c["livenessProbe"] == {
        "httpGet": {"port": "http", "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["readinessProbe"]["periodSeconds"] == 3
    assert c["lifecycle"]["preStop"]["httpGet"] == {"port": 8080, "path": "/stop", "scheme": "HTTP"}
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "spec.nodeName", "apiVersion": "v1"}
    assert c["env"][1]["valueFrom"]["resourceFieldRef"] == {"resource": "limits.memory", "divisor": "0"}
    vols = {v["name"]: v for v in s["volumes"]}
    assert vols["cfg"]["configMap"]["defaultMode"] == 420
    assert vols["creds"]["secret"]["defaultMode"] == 420
    assert vols["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert vols["host"]["hostPath"] == {"path": "/var/log", "type": ""}
    assert vols["info"]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert vols["token"]["projected"] == {
        "defaultMode": 420,
        "sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}],
    }
    # Templates get no Pod-only defaults.
    assert "enableServiceLinks" not in s and "priority" not in s


def test_defaulting_is_idempotent() -> None:
    for group, kind, obj, _ in DEFAULTS:
        out = created(group, kind, obj)
        again = copy.deepcopy(out)
        strategies.default(group, kind, again)
        assert again == out, kind


def test_undecodable_bodies_are_bad_requests() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("p"),
        "spec": {"containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "one"}}}]},
    }
    with pytest.raises(ApiError) as exc:
        strategies.default("", "Pod", pod)
    assert exc.value.code == 400
    assert exc.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta("s"), "data": {"k": "not base64!"}}
    with pytest.raises(ApiError) as exc:
        strategies.default("", "Secret", secret)
    assert exc.value.message == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    )


# --- validation ----------------------------------------------------------------------------------

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
QNAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
    "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def with_pod(containers: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": meta("p"),
        "spec": {
            "containers": containers if containers is not None else [{"name": "app", "image": "nginx"}],
            **spec,
        },
    }


INVALID = [
    # ObjectMeta
    (
        "",
        "ConfigMap",
        {"metadata": meta("c", labels={"-bad": "x"})},
        ("metadata.labels", f'Invalid value: "-bad": {QNAME_MSG}'),
    ),
    (
        "",
        "ConfigMap",
        {"metadata": meta("c", labels={"app": "bad value!"})},
        ("metadata.labels", f'Invalid value: "bad value!": {LABEL_VALUE_MSG}'),
    ),
    (
        "",
        "ConfigMap",
        {"metadata": meta("c", annotations={"a": "x" * 262144})},
        ("metadata.annotations", "Too long: may not be more than 262144 bytes"),
    ),
    (
        "",
        "ConfigMap",
        {"metadata": meta("c", finalizers=["cleanup"])},
        (
            "metadata.finalizers[0]",
            'Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified',
        ),
    ),
    (
        "",
        "ConfigMap",
        {"metadata": meta("c", finalizers=["orphan", "foregroundDeletion"])},
        (
            "metadata.finalizers",
            'Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and '
            "foregroundDeletion cannot be both set",
        ),
    ),
    (
        "",
        "ConfigMap",
        {"metadata": meta("c", ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "o"}])},
        ("metadata.ownerReferences.uid", 'Invalid value: "": uid must not be empty'),
    ),
    (
        "",
        "ConfigMap",
        {
            "metadata": meta(
                "c",
                ownerReferences=[
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "a",
                        "uid": "1",
                        "controller": True,
                    },
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "b",
                        "uid": "2",
                        "controller": True,
                    },
                ],
            )
        },
        (
            "metadata.ownerReferences",
            re.compile(
                r"^Invalid value: \[\]v1\.OwnerReference\{.*\}: Only one reference can "
                r'have Controller set to true\. Found "true" in references for '
                r"ReplicaSet/a and ReplicaSet/b$"
            ),
        ),
    ),
    (
        "",
        "Namespace",
        {"metadata": meta("my.team", None)},
        ("metadata.name", 'Invalid value: "my.team": must not contain dots'),
    ),
    (
        "",
        "Service",
        {"metadata": meta("1web"), "spec": {"ports": [{"port": 80}]}},
        ("metadata.name", f'Invalid value: "1web": {DNS1035_MSG}'),
    ),
    # PodSpec
    ("", "Pod", with_pod([]), ("spec.containers", "Required value")),
    ("", "Pod", with_pod([{"name": "app"}]), ("spec.containers[0].image", "Required value")),
    (
        "",
        "Pod",
        with_pod([{"name": "Web_1", "image": "x"}]),
        ("spec.containers[0].name", f'Invalid value: "Web_1": {LABEL_MSG}'),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
        ("spec.containers[1].name", 'Duplicate value: "a"'),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x"}], initContainers=[{"name": "a", "image": "y"}]),
        ("spec.initContainers[0].name", 'Duplicate value: "a"'),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]),
        (
            "spec.containers[0].ports[0].containerPort",
            "Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]),
        (
            "spec.containers[0].ports[0].protocol",
            'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        ),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x", "env": [{"value": "1"}]}]),
        ("spec.containers[0].env[0].name", "Required value"),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x", "env": [{"name": "A=B"}]}]),
        (
            "spec.containers[0].env[0].name",
            'Invalid value: "A=B": a valid environment variable name must consist only '
            "of printable ASCII characters other than '='",
        ),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]),
        ("spec.containers[0].volumeMounts[0].name", 'Not found: "data"'),
    ),
    (
        "",
        "Pod",
        with_pod(volumes=[{"name": "data"}, {"name": "data"}]),
        ("spec.volumes[1].name", 'Duplicate value: "data"'),
    ),
    (
        "",
        "Pod",
        with_pod(volumes=[{"name": "v", "configMap": {"name": "a"}, "secret": {"secretName": "b"}}]),
        ("spec.volumes[0].configMap", "Forbidden: may not specify more than 1 volume type"),
    ),
    (
        "",
        "Pod",
        with_pod(restartPolicy="Sometimes"),
        (
            "spec.restartPolicy",
            'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        ),
    ),
    (
        "",
        "Pod",
        with_pod(dnsPolicy="Custom"),
        (
            "spec.dnsPolicy",
            'Unsupported value: "Custom": supported values: "ClusterFirstWithHostNet", "ClusterFirst", '
            '"Default", "None"',
        ),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x", "imagePullPolicy": "Sometimes"}]),
        (
            "spec.containers[0].imagePullPolicy",
            'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
        ),
    ),
    (
        "",
        "Pod",
        with_pod(
            [{"name": "a", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]
        ),
        (
            "spec.containers[0].resources.requests",
            'Invalid value: "2": must be less than or equal to cpu limit of 1',
        ),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x", "resources": {"limits": {"cpu": "-1"}}}]),
        (
            "spec.containers[0].resources.limits[cpu]",
            'Invalid value: "-1": must be greater than or equal to 0',
        ),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x", "resources": {"limits": {"gpu": "1"}}}]),
        (
            "spec.containers[0].resources.limits[gpu]",
            'Invalid value: "gpu": must be a standard resource for containers',
        ),
    ),
    (
        "",
        "Pod",
        with_pod(
            [
                {
                    "name": "a",
                    "image": "x",
                    "livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2},
                }
            ]
        ),
        ("spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1"),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": "x", "readinessProbe": {}}]),
        ("spec.containers[0].readinessProbe", "Required value: must specify a handler type"),
    ),
    (
        "",
        "Pod",
        with_pod(tolerations=[{"operator": "Equal", "value": "x"}]),
        (
            "spec.tolerations[0].operator",
            'Invalid value: "Equal": operator must be Exists when `key` is empty, which '
            'means "match all values and all keys"',
        ),
    ),
    (
        "",
        "Pod",
        with_pod([{"name": "a", "image": " x"}]),
        ("spec.containers[0].image", 'Invalid value: " x": must not have leading or trailing whitespace'),
    ),
    # Workloads
    (APPS, "Deployment", deployment(selector=None), ("spec.selector", "Required value")),
    (
        APPS,
        "Deployment",
        deployment(selector=None),
        (
            "spec.template.metadata.labels",
            'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
        ),
    ),
    (
        APPS,
        "Deployment",
        deployment(selector={"matchLabels": {"app": "other"}}),
        (
            "spec.template.metadata.labels",
            'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
        ),
    ),
    (
        APPS,
        "Deployment",
        deployment(selector={}),
        (
            "spec.selector",
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
        ),
    ),
    (
        APPS,
        "Deployment",
        deployment(replicas=-1),
        ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0"),
    ),
    (
        APPS,
        "Deployment",
        deployment(selector={"matchExpressions": [{"key": "app", "operator": "Has"}]}),
        ("spec.selector.matchExpressions[0].operator", 'Invalid value: "Has": not a valid selector operator'),
    ),
    (
        APPS,
        "Deployment",
        deployment(strategy={"type": "Recreate", "rollingUpdate": {}}),
        ("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'"),
    ),
    (
        APPS,
        "Deployment",
        deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
        (
            "spec.strategy.rollingUpdate.maxUnavailable",
            "Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: "
            "may not be 0 when `maxSurge` is 0",
        ),
    ),
    (
        APPS,
        "Deployment",
        deployment(strategy={"type": "Canary"}),
        (
            "spec.strategy",
            'Unsupported value: apps.DeploymentStrategy{Type:"Canary", '
            'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", '
            '"RollingUpdate"',
        ),
    ),
    (
        APPS,
        "Deployment",
        deployment(progressDeadlineSeconds=10, minReadySeconds=10),
        ("spec.progressDeadlineSeconds", "Invalid value: 10: must be greater than minReadySeconds"),
    ),
    (
        APPS,
        "DaemonSet",
        {
            **deployment(),
            "spec": {
                **deployment()["spec"],
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": pod_spec(restartPolicy="OnFailure"),
                },
            },
        },
        ("spec.template.spec.restartPolicy", 'Unsupported value: "OnFailure": supported values: "Always"'),
    ),
    (
        APPS,
        "StatefulSet",
        {
            "metadata": meta("db"),
            "spec": {
                "selector": {"matchLabels": {"app": "db"}},
                "podManagementPolicy": "Random",
                "template": {"metadata": {"labels": {"app": "db"}}},
            },
        },
        ("spec.podManagementPolicy", "Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"),
    ),
    (
        BATCH,
        "Job",
        job(pod_spec()),
        ("spec.template.spec.restartPolicy", 'Required value: valid values: "OnFailure", "Never"'),
    ),
    (
        BATCH,
        "Job",
        job(pod_spec(restartPolicy="Sometimes")),
        (
            "spec.template.spec.restartPolicy",
            'Unsupported value: "Sometimes": supported values: "OnFailure", "Never"',
        ),
    ),
    (
        BATCH,
        "Job",
        job(completionMode="Indexed", completions=None, parallelism=2),
        ("spec.completions", "Required value: when completion mode is Indexed"),
    ),
    (
        BATCH,
        "Job",
        job(backoffLimit=-1),
        ("spec.backoffLimit", "Invalid value: -1: must be greater than or equal to 0"),
    ),
    (
        BATCH,
        "Job",
        job(manualSelector=True, selector={"matchLabels": {"app": "x"}}),
        (
            "spec.template.metadata.labels",
            "Invalid value: map[string]string(nil): `selector` does not match template `labels`",
        ),
    ),
    (
        BATCH,
        "CronJob",
        {
            "metadata": meta("tick"),
            "spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec(restartPolicy="Never")}}}},
        },
        ("spec.schedule", "Required value"),
    ),
    (
        BATCH,
        "CronJob",
        {
            "metadata": meta("tick"),
            "spec": {
                "schedule": "*/5 * * *",
                "jobTemplate": {"spec": {"template": {"spec": pod_spec(restartPolicy="Never")}}},
            },
        },
        ("spec.schedule", 'Invalid value: "*/5 * * *": expected exactly 5 fields, found 4: [*/5 * * *]'),
    ),
    (
        BATCH,
        "CronJob",
        {
            "metadata": meta("tick"),
            "spec": {
                "schedule": "@hourly",
                "concurrencyPolicy": "Sometimes",
                "jobTemplate": {"spec": {"template": {"spec": pod_spec(restartPolicy="Never")}}},
            },
        },
        (
            "spec.concurrencyPolicy",
            'Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
        ),
    ),
    (
        BATCH,
        "CronJob",
        {
            "metadata": meta("tick"),
            "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": pod_spec()}}}},
        },
        (
            "spec.jobTemplate.spec.template.spec.restartPolicy",
            'Required value: valid values: "OnFailure", "Never"',
        ),
    ),
    (
        BATCH,
        "CronJob",
        {
            "metadata": meta("c" * 53),
            "spec": {
                "schedule": "@daily",
                "jobTemplate": {"spec": {"template": {"spec": pod_spec(restartPolicy="Never")}}},
            },
        },
        ("metadata.name", f'Invalid value: "{"c" * 53}": must be no more than 52 characters'),
    ),
    (
        BATCH,
        "CronJob",
        {
            "metadata": meta("tick"),
            "spec": {
                "schedule": "0 0 * * *",
                "timeZone": "Mars/Olympus",
                "jobTemplate": {"spec": {"template": {"spec": pod_spec(restartPolicy="Never")}}},
            },
        },
        ("spec.timeZone", 'Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'),
    ),
    # Service
    (
        "",
        "Service",
        {"metadata": meta("web"), "spec": {"selector": {"app": "web"}}},
        ("spec.ports", "Required value"),
    ),
    (
        "",
        "Service",
        service(ports=[{"port": 0}]),
        ("spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive"),
    ),
    ("", "Service", service(ports=[{"port": 80}, {"port": 443}]), ("spec.ports[1].name", "Required value")),
    (
        "",
        "Service",
        service(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 80}]),
        (
            "spec.ports[1]",
            'Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
            'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
        ),
    ),
    (
        "",
        "Service",
        service(ports=[{"name": "a", "port": 80}, {"name": "a", "port": 81}]),
        ("spec.ports[1].name", 'Duplicate value: "a"'),
    ),
    (
        "",
        "Service",
        service(type="Internal"),
        (
            "spec.type",
            'Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
            '"NodePort"',
        ),
    ),
    (
        "",
        "Service",
        service(ports=[{"port": 80, "nodePort": 30080}]),
        ("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'"),
    ),
    (
        "",
        "Service",
        service(type="LoadBalancer", clusterIP="None"),
        ("spec.clusterIPs[0]", "Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"),
    ),
    (
        "",
        "Service",
        service(clusterIP="10.96.0.300"),
        (
            "spec.clusterIPs[0]",
            'Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        ),
    ),
    (
        "",
        "Service",
        service(ipFamilyPolicy="RequireDualStack"),
        (
            "spec.ipFamilyPolicy",
            'Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services',
        ),
    ),
    (
        "",
        "Service",
        service(ipFamilies=["IPv6"]),
        ("spec.ipFamilies[0]", 'Invalid value: "IPv6": not configured on this cluster'),
    ),
    (
        "",
        "Service",
        {"metadata": meta("ext"), "spec": {"type": "ExternalName"}},
        ("spec.externalName", "Required value"),
    ),
    (
        "",
        "Service",
        service(sessionAffinity="Sticky"),
        ("spec.sessionAffinity", 'Unsupported value: "Sticky": supported values: "ClientIP", "None"'),
    ),
    (
        "",
        "Service",
        service(externalTrafficPolicy="Local"),
        (
            "spec.externalTrafficPolicy",
            'Invalid value: "Local": may only be set for externally-accessible services',
        ),
    ),
    # ConfigMap and Secret
    (
        "",
        "ConfigMap",
        {"metadata": meta("c"), "data": {"bad key": "v"}},
        ("data[bad key]", f'Invalid value: "bad key": {CONFIG_KEY_MSG}'),
    ),
    (
        "",
        "ConfigMap",
        {"metadata": meta("c"), "data": {"..": "v"}},
        ("data[..]", "Invalid value: \"..\": must not be '..'"),
    ),
    (
        "",
        "ConfigMap",
        {"metadata": meta("c"), "data": {"a": "x" * (1024 * 1024 + 1)}},
        ("", "Too long: may not be more than 1048576 bytes"),
    ),
    (
        "",
        "Secret",
        {"metadata": meta("s"), "type": "kubernetes.io/tls", "data": {}},
        ("data[tls.crt]", "Required value"),
    ),
    (
        "",
        "Secret",
        {"metadata": meta("s"), "type": "kubernetes.io/dockerconfigjson", "data": {}},
        ("data[.dockerconfigjson]", "Required value"),
    ),
    (
        "",
        "Secret",
        {"metadata": meta("s"), "stringData": {"a/b": "x"}},
        ("data[a/b]", f'Invalid value: "a/b": {CONFIG_KEY_MSG}'),
    ),
    # RBAC
    (
        RBAC,
        "Role",
        {"metadata": meta("r"), "rules": [{"apiGroups": [""], "resources": ["pods"]}]},
        ("rules[0].verbs", "Required value: verbs must contain at least one value"),
    ),
    (
        RBAC,
        "Role",
        {"metadata": meta("r"), "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]},
        (
            "rules[0].nonResourceURLs",
            'Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs',
        ),
    ),
    (
        RBAC,
        "ClusterRole",
        {"metadata": meta("r", None), "rules": [{"verbs": ["get"], "resources": ["pods"]}]},
        ("rules[0].apiGroups", "Required value: resource rules must supply at least one api group"),
    ),
    (
        RBAC,
        "RoleBinding",
        {"metadata": meta("rb"), "roleRef": {"kind": "Admin", "name": "x"}},
        ("roleRef.kind", 'Unsupported value: "Admin": supported values: "Role", "ClusterRole"'),
    ),
    (RBAC, "RoleBinding", {"metadata": meta("rb")}, ("roleRef.name", "Required value")),
    (
        RBAC,
        "ClusterRoleBinding",
        {"metadata": meta("crb", None), "roleRef": {"kind": "Role", "name": "x"}},
        ("roleRef.kind", 'Unsupported value: "Role": supported values: "ClusterRole"'),
    ),
    (
        RBAC,
        "ClusterRoleBinding",
        {
            "metadata": meta("crb", None),
            "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}],
        },
        ("subjects[0].namespace", "Required value"),
    ),
    (
        RBAC,
        "RoleBinding",
        {
            "metadata": meta("rb"),
            "roleRef": {"kind": "Role", "name": "x"},
            "subjects": [{"kind": "Robot", "name": "r2"}],
        },
        (
            "subjects[0].kind",
            'Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
        ),
    ),
    (
        RBAC,
        "RoleBinding",
        {
            "metadata": meta("rb"),
            "roleRef": {"kind": "Role", "name": "x"},
            "subjects": [{"kind": "User", "name": "u", "apiGroup": "example.com"}],
        },
        (
            "subjects[0].apiGroup",
            'Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"',
        ),
    ),
    (
        RBAC,
        "Role",
        {"metadata": meta("a/b")},
        ("metadata.name", "Invalid value: \"a/b\": may not contain '/'"),
    ),
    # Networking
    (
        NET,
        "Ingress",
        {
            "metadata": meta("ing"),
            "spec": {
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
                            ]
                        }
                    }
                ]
            },
        },
        ("spec.rules[0].http.paths[0].pathType", "Required value: pathType must be specified"),
    ),
    (
        NET,
        "Ingress",
        {
            "metadata": meta("ing"),
            "spec": {
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Regex",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        }
                    }
                ]
            },
        },
        (
            "spec.rules[0].http.paths[0].pathType",
            'Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"',
        ),
    ),
    (
        NET,
        "Ingress",
        {
            "metadata": meta("ing"),
            "spec": {
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {
                                    "path": "api",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        }
                    }
                ]
            },
        },
        ("spec.rules[0].http.paths[0].path", 'Invalid value: "api": must be an absolute path'),
    ),
    (
        NET,
        "Ingress",
        {
            "metadata": meta("ing"),
            "spec": {
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web"}}}
                            ]
                        }
                    }
                ]
            },
        },
        ("spec.rules[0].http.paths[0].backend", "Required value: port name or number is required"),
    ),
    (
        NET,
        "Ingress",
        {"metadata": meta("ing"), "spec": {"rules": [{"host": "10.0.0.1"}]}},
        ("spec.rules[0].host", 'Invalid value: "10.0.0.1": must be a DNS name, not an IP address'),
    ),
    (
        NET,
        "Ingress",
        {"metadata": meta("ing"), "spec": {}},
        (
            "spec",
            "Invalid value: []networking.IngressRule(nil): "
            "either `defaultBackend` or `rules` must be specified",
        ),
    ),
    (
        NET,
        "NetworkPolicy",
        {"metadata": meta("np"), "spec": {"ingress": [{"from": [{}]}]}},
        ("spec.ingress[0].from[0]", "Required value: must specify a peer"),
    ),
    (
        NET,
        "NetworkPolicy",
        {
            "metadata": meta("np"),
            "spec": {
                "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["192.168.0.0/24"]}}]}]
            },
        },
        (
            "spec.egress[0].to[0].ipBlock.except[0]",
            'Invalid value: "192.168.0.0/24": must be a strict subset of `cidr`',
        ),
    ),
    (
        NET,
        "NetworkPolicy",
        {"metadata": meta("np"), "spec": {"policyTypes": ["Inbound"]}},
        ("spec.policyTypes[0]", 'Unsupported value: "Inbound": supported values: "Ingress", "Egress"'),
    ),
    # Other kinds
    (
        "coordination.k8s.io",
        "Lease",
        {"metadata": meta("l"), "spec": {"leaseDurationSeconds": 0}},
        ("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0"),
    ),
    (
        "",
        "Event",
        {
            "metadata": meta("e", "team-a"),
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        },
        ("involvedObject.namespace", 'Invalid value: "default": does not match event.namespace'),
    ),
    (
        "",
        "ResourceQuota",
        {"metadata": meta("q"), "spec": {"hard": {"widgets": "1"}}},
        ("spec.hard[widgets]", 'Invalid value: "widgets": must be a standard resource for quota'),
    ),
    (
        "",
        "ResourceQuota",
        {"metadata": meta("q"), "spec": {"hard": {"pods": "1.5"}}},
        # Upstream prints the Quantity struct here; only the detail is compared.
        ("spec.hard[pods]", re.compile(r"^Invalid value: .*: must be an integer$")),
    ),
    (
        "",
        "ResourceQuota",
        {"metadata": meta("q"), "spec": {"hard": {"cpu": "-1"}}},
        ("spec.hard[cpu]", 'Invalid value: "-1": must be greater than or equal to 0'),
    ),
    (
        "",
        "ResourceQuota",
        {"metadata": meta("q"), "spec": {"scopes": ["BestEffort", "NotBestEffort"]}},
        (
            "spec.scopes",
            'Invalid value: []core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}: conflicting scopes',
        ),
    ),
    (
        "",
        "LimitRange",
        {
            "metadata": meta("lr"),
            "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]},
        },
        ("spec.limits[0].min[cpu]", re.compile(r"^Invalid value: .*: min value 2 is greater than max value 1$")),
    ),
    (
        "",
        "LimitRange",
        {"metadata": meta("lr"), "spec": {"limits": [{"type": "Pod", "default": {"cpu": "1"}}]}},
        ("spec.limits[0].default", "Forbidden: may not be specified when `type` is 'Pod'"),
    ),
    (
        "",
        "PersistentVolumeClaim",
        {"metadata": meta("data"), "spec": {"resources": {"requests": {"storage": "1Gi"}}}},
        ("spec.accessModes", "Required value"),
    ),
    (
        "policy",
        "PodDisruptionBudget",
        {"metadata": meta("pdb"), "spec": {"minAvailable": "150%"}},
        (
            "spec.minAvailable",
            'Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater '
            "than 100%",
        ),
    ),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        {
            "metadata": meta("h"),
            "spec": {"maxReplicas": 0, "scaleTargetRef": {"kind": "Deployment", "name": "web"}},
        },
        ("spec.maxReplicas", "Invalid value: 0: must be greater than 0"),
    ),
    (
        "scheduling.k8s.io",
        "PriorityClass",
        {"metadata": meta("system-custom", None), "value": 1},
        (
            "metadata.name",
            "Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
            "error: system-custom is not a known system priority class",
        ),
    ),
    ("storage.k8s.io", "StorageClass", {"metadata": meta("sc", None)}, ("provisioner", "Required value")),
    (
        "",
        "Namespace",
        {"metadata": meta("ns", None), "spec": {"finalizers": ["cleanup"]}},
        (
            "spec.finalizers",
            'Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified',
        ),
    ),
    (
        APPS,
        "DaemonSet",
        {"metadata": meta("ds"), "spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec()}}},
        (
            "spec.template.metadata.labels",
            'Invalid value: map[string]string{"app":"a"}: `selector` does not match template `labels`',
        ),
    ),
    (
        "",
        "Service",
        service(ports=[{"port": 80, "targetPort": "HTTP"}]),
        ("spec.ports[0].targetPort", 'Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, '
                                     '0-9), and hyphens (-)'),
    ),
    (
        "",
        "Service",
        service(ipFamilies=["IPv4", "IPv4"]),
        ("spec.ipFamilies[1]", 'Duplicate value: "IPv4"'),
    ),
]

REASONS = {
    "Required value": "FieldValueRequired",
    "Invalid value": "FieldValueInvalid",
    "Unsupported value": "FieldValueNotSupported",
    "Forbidden": "FieldValueForbidden",
    "Duplicate value": "FieldValueDuplicate",
    "Not found": "FieldValueNotFound",
    "Too long": "FieldValueTooLong",
}


@pytest.mark.parametrize(
    ("group", "kind", "obj", "expected"), INVALID, ids=[f"{k}-{i}" for i, (_, k, _, _) in enumerate(INVALID)]
)
def test_invalid_objects(group: str, kind: str, obj: dict[str, Any], expected: tuple[str, Any]) -> None:
    _, causes = create(group, kind, obj)
    field, message = expected
    matching = [
        c
        for c in causes
        if c.field == field
        and (message.match(c.message) if isinstance(message, re.Pattern) else c.message == message)
    ]
    assert matching, errors(causes)
    cause = matching[0]
    assert cause.reason == REASONS[cause.message.split(":")[0]]


@pytest.mark.parametrize(
    ("group", "kind", "obj"),
    [(g, k, o) for g, k, o, _ in DEFAULTS]
    + [
        (
            "",
            "Pod",
            with_pod(
                [{"name": "a", "image": "x", "volumeMounts": [{"name": "d", "mountPath": "/d"}]}],
                volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
            ),
        ),
        (
            "",
            "ConfigMap",
            {
                "metadata": meta("c", finalizers=["example.com/cleanup", "kubernetes"]),
                "data": {"app.properties": "a=b", "KEY_1": "v"},
            },
        ),
        (
            NET,
            "Ingress",
            {
                "metadata": meta("ing"),
                "spec": {
                    "ingressClassName": "nginx",
                    "tls": [{"hosts": ["*.example.com"], "secretName": "tls"}],
                    "rules": [
                        {
                            "host": "*.example.com",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/api",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "api", "port": {"name": "http"}}},
                                    }
                                ]
                            },
                        }
                    ],
                },
            },
        ),
    ],
)
def test_valid_objects_have_no_errors(group: str, kind: str, obj: dict[str, Any]) -> None:
    out, causes = create(group, kind, obj)
    assert causes == [], errors(causes)


def test_cron_job_with_tz_in_schedule_is_rejected_on_create() -> None:
    cron = {
        "metadata": meta("t"),
        "spec": {
            "schedule": "CRON_TZ=UTC 0 0 * * *",
            "jobTemplate": {"spec": {"template": {"spec": pod_spec(restartPolicy="Never")}}},
        },
    }
    # A TZ prefix is tolerated only on objects that already had one (updates of old CronJobs).
    _, causes = create(BATCH, "CronJob", cron)
    assert errors(causes) == [
        (
            "spec.schedule",
            'Invalid value: "CRON_TZ=UTC 0 0 * * *": cannot use TZ or CRON_TZ in '
            "schedule, use timeZone field instead",
        )
    ]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("@hourly", None),
        ("@every 1h30m", None),
        ("0 9 * * MON-FRI", None),
        ("*/15 0-6 1,15 JAN-jun ?", None),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ],
)
def test_cron_schedules(schedule: str, message: str | None) -> None:
    cron = {
        "metadata": meta("t"),
        "spec": {
            "schedule": schedule,
            "jobTemplate": {"spec": {"template": {"spec": pod_spec(restartPolicy="Never")}}},
        },
    }
    _, causes = create(BATCH, "CronJob", cron)
    if message is None:
        assert causes == []
    else:
        assert errors(causes) == [("spec.schedule", f'Invalid value: "{schedule}": {message}')]


def test_invalid_summary_reads_like_kubectl() -> None:
    _, causes = create(APPS, "Deployment", deployment(selector={"matchLabels": {"app": "other"}}))
    err = invalid("Deployment", "web", causes, "apps")
    assert err.message == (
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"web"}: `selector` does not match template `labels`'
    )
    assert err.status()["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.template.metadata.labels",
            "message": 'Invalid value: map[string]string{"app":"web"}: '
            "`selector` does not match template `labels`",
        }
    ]


# --- updates -------------------------------------------------------------------------------------


def test_deployment_selector_is_immutable() -> None:
    old = created(APPS, "Deployment", deployment())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "front"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    _, causes = update(APPS, "Deployment", old, new)
    assert errors(causes) == [
        (
            "spec.selector",
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string"
            '{"app":"web", "tier":"front"}, MatchExpressions:[]v1.'
            "LabelSelectorRequirement(nil)}: field is immutable",
        )
    ]
    new["spec"]["selector"] = copy.deepcopy(old["spec"]["selector"])
    new["spec"]["replicas"] = 5
    assert update(APPS, "Deployment", old, new)[1] == []


def test_stateful_set_spec_updates_are_limited() -> None:
    sts = {
        "metadata": meta("db"),
        "spec": {
            "selector": {"matchLabels": {"app": "db"}},
            "serviceName": "db",
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": pod_spec()},
        },
    }
    old = created(APPS, "StatefulSet", sts)
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    assert update(APPS, "StatefulSet", old, new)[1] == []
    new["spec"]["serviceName"] = "other"
    assert errors(update(APPS, "StatefulSet", old, new)[1]) == [
        (
            "spec",
            "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
            "'template', "
            "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        )
    ]


def test_daemon_set_template_generation_counts_template_changes() -> None:
    old = created(APPS, "DaemonSet", {**deployment(), "kind": "DaemonSet"})
    new = copy.deepcopy(old)
    del new["metadata"]["annotations"]
    new["spec"]["minReadySeconds"] = 5
    same, _ = update(APPS, "DaemonSet", old, new)
    assert same["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "1"
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    changed, causes = update(APPS, "DaemonSet", old, new)
    assert causes == []
    assert changed["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"


def test_job_template_and_selector_are_immutable() -> None:
    old = created(BATCH, "Job", job())
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.40"
    fields = [c.field for c in update(BATCH, "Job", old, new)[1]]
    assert fields == ["spec.template"]
    assert update(BATCH, "Job", old, new)[1][0].message.endswith(": field is immutable")
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": UID, "x": "y"}}
    assert "spec.selector" in [c.field for c in update(BATCH, "Job", old, new)[1]]
    new = copy.deepcopy(old)
    new["spec"]["suspend"] = True
    new["spec"]["ttlSecondsAfterFinished"] = 100
    assert update(BATCH, "Job", old, new)[1] == []


def test_suspended_job_may_change_scheduling_directives() -> None:
    old = created(BATCH, "Job", job(suspend=True))
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert update(BATCH, "Job", old, new)[1] == []
    started = copy.deepcopy(old)
    started["status"] = {"startTime": "2025-01-01T00:00:00Z"}
    assert [c.field for c in update(BATCH, "Job", started, new)[1]] == ["spec.template"]


def test_service_update_keeps_allocated_values() -> None:
    old = created("", "Service", service(type="NodePort"))
    # What the server allocates after create.
    old["spec"].update(clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"])
    old["spec"]["ports"][0]["nodePort"] = 30080
    # `kubectl apply` of the original manifest omits all of it.
    new, causes = update(
        "", "Service", old, service(type="NodePort", ports=[{"port": 80, "targetPort": 8080}])
    )
    assert causes == []
    assert new["spec"]["clusterIP"] == "10.96.0.20" and new["spec"]["clusterIPs"] == ["10.96.0.20"]
    assert new["spec"]["ports"][0]["nodePort"] == 30080 and new["spec"]["ports"][0]["targetPort"] == 8080
    assert new["spec"]["ipFamilies"] == ["IPv4"] and new["spec"]["ipFamilyPolicy"] == "SingleStack"


def test_service_cluster_ip_may_not_change() -> None:
    old = created("", "Service", service())
    old["spec"].update(clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"])
    _, causes = update("", "Service", old, service(clusterIP="10.96.0.21"))
    assert errors(causes) == [
        ("spec.clusterIPs[0]", 'Invalid value: []string{"10.96.0.21"}: may not change once set')
    ]


def test_service_switching_to_external_name_drops_cluster_fields() -> None:
    old = created("", "Service", service(type="NodePort"))
    old["spec"].update(clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"])
    old["spec"]["ports"][0]["nodePort"] = 30080
    new = copy.deepcopy(old)
    new["spec"].update(type="ExternalName", externalName="db.example.com")
    out, causes = update("", "Service", old, new)
    assert causes == []
    for name in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "externalTrafficPolicy"):
        assert name not in out["spec"], name
    assert "nodePort" not in out["spec"]["ports"][0]


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("ConfigMap", {"data": {"k": "v"}}),
        ("Secret", {"data": {"k": "dg=="}}),
    ],
)
def test_immutable_config_maps_and_secrets(kind: str, body: dict[str, Any]) -> None:
    old = created("", kind, {"metadata": meta("c"), "immutable": True, **body})
    new = copy.deepcopy(old)
    new["data"] = {"k": "d2=="} if kind == "Secret" else {"k": "w"}
    new["immutable"] = False
    assert errors(update("", kind, old, new)[1]) == [
        ("immutable", "Forbidden: field is immutable when `immutable` is set"),
        ("data", "Forbidden: field is immutable when `immutable` is set"),
    ]
    assert update("", kind, old, copy.deepcopy(old))[1] == []


def test_secret_type_is_immutable() -> None:
    old = created("", "Secret", {"metadata": meta("s"), "data": {"tls.crt": "", "tls.key": ""}})
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/tls"
    assert errors(update("", "Secret", old, new)[1]) == [
        ("type", 'Invalid value: "kubernetes.io/tls": field is immutable')
    ]


def test_role_ref_cannot_change() -> None:
    old = created(RBAC, "RoleBinding", {"metadata": meta("rb"), "roleRef": {"kind": "Role", "name": "a"}})
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "b"
    assert errors(update(RBAC, "RoleBinding", old, new)[1]) == [
        (
            "roleRef",
            'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"b"}: '
            "cannot change roleRef",
        )
    ]


def test_pod_updates_are_limited() -> None:
    old = created("", "Pod", {"metadata": meta("p"), "spec": pod_spec()})
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.26"
    new["spec"]["activeDeadlineSeconds"] = 60
    new["spec"]["tolerations"].append({"key": "gpu", "operator": "Exists"})
    assert update("", "Pod", old, new)[1] == []
    new["spec"]["restartPolicy"] = "Never"
    causes = update("", "Pod", old, new)[1]
    assert [c.field for c in causes] == ["spec"]
    assert causes[0].message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
        "(only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` "
        "(allow it to be set to 1 if it was previously negative)"
    )
    new = copy.deepcopy(old)
    new["spec"]["containers"].append({"name": "b", "image": "x"})
    assert errors(update("", "Pod", old, new)[1]) == [
        ("spec.containers", "Forbidden: pod updates may not add or remove containers")
    ]


def test_namespace_finalizers_and_status_on_update() -> None:
    old = created("", "Namespace", {"metadata": meta("team-a", None)})
    new = copy.deepcopy(old)
    new["spec"]["finalizers"] = []
    new["status"] = {"phase": "Terminating"}
    kept, _ = update("", "Namespace", old, new)
    assert kept["spec"]["finalizers"] == ["kubernetes"]
    assert kept["status"] == {"phase": "Active"}
    finalized, _ = update("", "Namespace", old, new, subresource="finalize")
    assert finalized["spec"]["finalizers"] == []
    # A caller that does not say which subresource it updates is not second-guessed.
    assert update("", "Namespace", old, new, subresource=None)[0]["spec"]["finalizers"] == []


def test_resource_quota_scopes_are_immutable() -> None:
    old = created(
        "",
        "ResourceQuota",
        {"metadata": meta("q"), "spec": {"hard": {"pods": "5"}, "scopes": ["BestEffort"]}},
    )
    new = copy.deepcopy(old)
    new["spec"]["scopes"] = ["NotBestEffort"]
    assert errors(update("", "ResourceQuota", old, new)[1]) == [
        ("spec.scopes", 'Invalid value: []core.ResourceQuotaScope{"NotBestEffort"}: field is immutable')
    ]


def test_update_does_not_recheck_names_but_checks_labels() -> None:
    old = created(APPS, "Deployment", deployment())
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"ok": "yes"}
    assert update(APPS, "Deployment", old, new)[1] == []
    new["metadata"]["labels"] = {"ok": "no way"}
    assert [c.field for c in update(APPS, "Deployment", old, new)[1]] == ["metadata.labels"]


# --- kinds without a strategy --------------------------------------------------------------------


def test_unknown_kinds_get_object_meta_checks_only() -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": meta("w", finalizers=["cleanup"]),
        "spec": {"replicas": -5},
    }
    before = copy.deepcopy(widget)
    strategies.prepare_for_create("example.com", "Widget", widget)
    strategies.default("example.com", "Widget", widget)
    assert widget == before
    # Custom resources may use unqualified finalizer names; built-in kinds may not.
    assert strategies.validate("example.com", "Widget", widget) == []
    widget["metadata"]["labels"] = {"bad key!": "v"}
    widget["metadata"]["finalizers"] = ["bad finalizer!"]
    assert [c.field for c in strategies.validate("example.com", "Widget", widget)] == [
        "metadata.labels",
        "metadata.finalizers",
    ]
    assert [c.field for c in strategies.validate("", "", {"metadata": {"name": "Bad_Name"}})] == [
        "metadata.name"
    ]


def test_wrongly_typed_fields_do_not_crash() -> None:
    weird = {
        "metadata": meta("x", labels="nope"),
        "spec": {"template": [], "selector": "app=web", "replicas": "3", "strategy": 7},
    }
    for group, kind in (
        (APPS, "Deployment"),
        (APPS, "StatefulSet"),
        (BATCH, "Job"),
        ("", "Service"),
        ("", "Pod"),
        (NET, "Ingress"),
        (NET, "NetworkPolicy"),
        (RBAC, "RoleBinding"),
        ("", "LimitRange"),
    ):
        obj = copy.deepcopy(weird)
        strategies.prepare_for_create(group, kind, obj)
        strategies.default(group, kind, obj)
        assert isinstance(strategies.validate(group, kind, obj), list)


def test_headless_and_external_name_services_need_no_ports() -> None:
    for spec in ({"clusterIP": "None", "selector": {"app": "db"}}, {"type": "ExternalName", "externalName": "a.b"}):
        assert create("", "Service", {"metadata": meta("s"), "spec": spec})[1] == []
