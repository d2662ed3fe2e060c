"""Services, Endpoints, Ingress, StatefulSets, DaemonSets, storage and bare pods on the simulated node."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from idpbuilder.runtime.simnode.podutil import pod_ready
from idpbuilder.runtime.simnode.refs import (
    CONTROLLER_REVISIONS,
    DAEMONSETS,
    ENDPOINTS,
    INGRESSES,
    NODES,
    PODS,
    PVCS,
    PVS,
    SERVICES,
    STATEFULSETS,
    STORAGE_CLASSES,
)

from .conftest import Cluster, eventually


def pod(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx",
                                     "ports": [{"name": "http", "containerPort": 8080}]}], **spec}}


async def ready_pod(cluster: Cluster, name: str) -> dict[str, Any] | None:
    current = await cluster.get(PODS, name)
    return current if current and pod_ready(current) else None


async def test_service_gets_a_cluster_ip_and_endpoints_of_ready_pods(cluster: Cluster) -> None:
    node = cluster.config.node_name
    await cluster.create(PODS, pod("a", nodeName=node))
    await cluster.create(SERVICES, {"metadata": {"name": "web", "labels": {"team": "x"}}, "spec": {
        "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})

    async def allocated() -> dict[str, Any] | None:
        svc = await cluster.get(SERVICES, "web")
        return svc if svc and svc["spec"].get("clusterIP") else None

    svc = await eventually(allocated, what="a cluster IP")
    ip = svc["spec"]["clusterIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12") and ip != "10.96.0.1"
    assert svc["spec"]["clusterIPs"] == [ip]
    a = await eventually(lambda: ready_pod(cluster, "a"), what="pod a to be ready")

    async def endpoints(count: int) -> dict[str, Any] | None:
        ep = await cluster.get(ENDPOINTS, "web")
        addresses = [x for s in (ep or {}).get("subsets") or () for x in s.get("addresses") or ()]
        return ep if len(addresses) == count else None

    ep = await eventually(lambda: endpoints(1), what="one endpoint")
    assert ep["metadata"]["labels"] == {"team": "x"}
    assert ep["subsets"] == [{"addresses": [{"ip": a["status"]["podIP"], "nodeName": cluster.config.node_name,
                                             "targetRef": {"kind": "Pod", "namespace": "default", "name": "a",
                                                           "uid": a["metadata"]["uid"]}}],
                              "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]
    await cluster.create(PODS, pod("b", nodeName=node))
    await eventually(lambda: endpoints(2), what="a second endpoint")
    await cluster.client.delete(PODS, "a", "default")
    ep = await eventually(lambda: endpoints(1), what="the deleted pod's endpoint to go")
    assert ep["subsets"][0]["addresses"][0]["targetRef"]["name"] == "b"
    await cluster.patch(PODS, "b", {"metadata": {"labels": {"app": "other"}}}, "merge")
    await eventually(lambda: endpoints(0), what="the relabelled pod to leave the endpoints")
    await cluster.client.delete(SERVICES, "web", "default")

    async def gone() -> bool:
        return await cluster.get(ENDPOINTS, "web") is None

    await eventually(gone, what="the endpoints of the deleted service to go")


async def test_load_balancer_and_node_port_services_get_addresses(cluster: Cluster) -> None:
    await cluster.create(SERVICES, {"metadata": {"name": "lb"}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}, {"name": "tls", "port": 443}]}})
    await cluster.create(SERVICES, {"metadata": {"name": "np"}, "spec": {
        "type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    await cluster.create(SERVICES, {"metadata": {"name": "headless"}, "spec": {
        "clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]}})

    async def published() -> dict[str, Any] | None:
        svc = await cluster.get(SERVICES, "lb")
        return svc if svc and (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") else None

    lb = await eventually(published, what="a load balancer address")
    (ingress,) = lb["status"]["loadBalancer"]["ingress"]
    assert ipaddress.ip_address(ingress["ip"]) in ipaddress.ip_network(cluster.config.load_balancer_cidr)
    assert ingress["ipMode"] == "VIP"
    ports = [p["nodePort"] for p in lb["spec"]["ports"]]
    assert len(set(ports)) == 2 and all(30000 <= p <= 32767 for p in ports)

    async def node_port() -> dict[str, Any] | None:
        svc = await cluster.get(SERVICES, "np")
        return svc if svc and svc["spec"]["ports"][0].get("nodePort") and svc["spec"].get("clusterIP") else None

    np = await eventually(node_port, what="a node port")
    assert np["spec"]["ports"][0]["nodePort"] not in ports
    headless = await cluster.get(SERVICES, "headless")
    assert headless is not None and headless["spec"]["clusterIP"] == "None"
    ep = await eventually(lambda: cluster.get(ENDPOINTS, "headless"), what="headless endpoints")
    assert ep["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}


async def test_ingress_gets_the_node_address(cluster: Cluster) -> None:
    await cluster.create(INGRESSES, {"metadata": {"name": "web"}, "spec": {"rules": [{"host": "web.example", "http": {
        "paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {
            "number": 80}}}}]}}]}})

    async def published() -> dict[str, Any] | None:
        ing = await cluster.get(INGRESSES, "web")
        return ing if ing and (ing.get("status") or {}).get("loadBalancer", {}).get("ingress") else None

    ing = await eventually(published, what="an ingress address")
    assert ing["status"]["loadBalancer"]["ingress"] == [{"ip": cluster.config.node_ip}]


def statefulset(replicas: int = 3, image: str = "postgres:15", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "db"}, "spec": {
        "replicas": replicas, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "pg", "image": image}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}], **spec}}


async def test_statefulset_creates_pods_in_order_with_bound_claims(cluster: Cluster) -> None:
    await cluster.create(STATEFULSETS, statefulset())
    creation_order: list[str] = []

    async def all_ready() -> dict[str, Any] | None:
        for p in sorted(await cluster.list(PODS, selector="app=db"), key=lambda p: p["metadata"]["creationTimestamp"]):
            if p["metadata"]["name"] not in creation_order:
                creation_order.append(p["metadata"]["name"])
        sts = await cluster.get(STATEFULSETS, "db")
        return sts if sts and sts["status"].get("readyReplicas") == 3 else None

    sts = await eventually(all_ready, what="three ready replicas")
    assert creation_order == ["db-0", "db-1", "db-2"]
    status = sts["status"]
    assert status["currentRevision"] == status["updateRevision"] and status["currentReplicas"] == 3
    assert status["availableReplicas"] == 3 and status["observedGeneration"] == 1
    pods = {p["metadata"]["name"]: p for p in await cluster.list(PODS, selector="app=db")}
    assert pods["db-1"]["spec"]["hostname"] == "db-1" and pods["db-1"]["spec"]["subdomain"] == "db"
    assert pods["db-1"]["metadata"]["labels"]["controller-revision-hash"] == status["updateRevision"]
    claim = next(v for v in pods["db-1"]["spec"]["volumes"] if v["name"] == "data")
    assert claim["persistentVolumeClaim"]["claimName"] == "data-db-1"

    async def bound() -> list[dict[str, Any]] | None:
        claims = await cluster.list(PVCS)
        return claims if len(claims) == 3 and all(c["status"].get("phase") == "Bound" for c in claims) else None

    claims = await eventually(bound, what="bound claims")
    volumes = {v["metadata"]["name"]: v for v in await cluster.list(PVS, None)}
    for c in claims:
        assert c["spec"]["storageClassName"] == "standard"  # the default class, as admission would set it
        pv = volumes[c["spec"]["volumeName"]]
        assert pv["status"]["phase"] == "Bound" and pv["spec"]["claimRef"]["uid"] == c["metadata"]["uid"]
        assert c["status"]["capacity"] == {"storage": "1Gi"}
    classes = await cluster.list(STORAGE_CLASSES, None)
    assert [c["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] for c in classes] == ["true"]


async def test_statefulset_rolls_from_the_highest_ordinal_and_records_revisions(cluster: Cluster) -> None:
    await cluster.create(STATEFULSETS, statefulset(replicas=2))

    async def settled(image: str) -> dict[str, Any] | None:
        sts = await cluster.get(STATEFULSETS, "db")
        pods = await cluster.list(PODS, selector="app=db")
        done = sts and sts["status"].get("updatedReplicas") == 2 and sts["status"].get("readyReplicas") == 2 and \
            sts["status"]["currentRevision"] == sts["status"]["updateRevision"] and \
            {p["spec"]["containers"][0]["image"] for p in pods} == {image}
        return sts if done else None

    first = await eventually(lambda: settled("postgres:15"), what="the first revision")
    await cluster.patch(STATEFULSETS, "db", {"spec": {"template": {"spec": {"containers": [
        {"name": "pg", "image": "postgres:16"}]}}}})
    updated_order: list[str] = []

    async def rolled() -> dict[str, Any] | None:
        for p in await cluster.list(PODS, selector="app=db"):
            if p["spec"]["containers"][0]["image"] == "postgres:16" and p["metadata"]["name"] not in updated_order:
                updated_order.append(p["metadata"]["name"])
        return await settled("postgres:16")

    second = await eventually(rolled, what="the rolling update")
    assert updated_order == ["db-1", "db-0"]
    assert second["status"]["updateRevision"] != first["status"]["updateRevision"]
    revisions = sorted((r["revision"], r["metadata"]["name"]) for r in await cluster.list(CONTROLLER_REVISIONS))
    assert [n for _, n in revisions] == [first["status"]["updateRevision"], second["status"]["updateRevision"]]
    await cluster.patch(STATEFULSETS, "db", {"spec": {"replicas": 1}}, "merge")

    async def scaled_down() -> bool:
        return [p["metadata"]["name"] for p in await cluster.list(PODS, selector="app=db")] == ["db-0"]

    await eventually(scaled_down, what="the highest ordinal to go")
    assert len(await cluster.list(PVCS)) == 2  # claims are retained by default


async def test_daemonset_runs_one_pod_on_the_node_and_rolls_it(cluster: Cluster) -> None:
    await cluster.create(DAEMONSETS, {"metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "v1"}]}}}})

    async def rolled(image: str) -> dict[str, Any] | None:
        ds = await cluster.get(DAEMONSETS, "agent")
        pods = await cluster.list(PODS, selector="app=agent")
        ok = ds and ds["status"].get("numberAvailable") == 1 and ds["status"].get("updatedNumberScheduled") == 1 and \
            ds["status"]["observedGeneration"] == ds["metadata"]["generation"] and \
            [p["spec"]["containers"][0]["image"] for p in pods] == [image]
        return ds if ok else None

    ds = await eventually(lambda: rolled("v1"), what="the daemon pod")
    assert ds["status"]["desiredNumberScheduled"] == 1 and ds["status"]["numberReady"] == 1
    (p,) = await cluster.list(PODS, selector="app=agent")
    assert p["spec"]["nodeName"] == cluster.config.node_name
    assert p["metadata"]["labels"]["pod-template-generation"] == "1"
    await cluster.patch(DAEMONSETS, "agent", {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "v2"}]}}}})
    await eventually(lambda: rolled("v2"), what="the daemon pod to be replaced")
    await cluster.patch(DAEMONSETS, "agent", {"spec": {"template": {"spec": {"nodeSelector": {"disk": "ssd"}}}}})

    async def unscheduled() -> dict[str, Any] | None:
        ds = await cluster.get(DAEMONSETS, "agent")
        pods = await cluster.list(PODS, selector="app=agent")
        return ds if ds and ds["status"]["desiredNumberScheduled"] == 0 and not pods else None

    await eventually(unscheduled, what="the pod to leave a node it no longer fits")


async def test_bare_pods_run_or_stay_pending_when_nothing_fits(cluster: Cluster) -> None:
    await cluster.create(PODS, pod("fits", restartPolicy="Never"))
    await cluster.create(PODS, pod("picky", nodeSelector={"disk": "ssd"}))
    running = await eventually(lambda: ready_pod(cluster, "fits"), what="the bare pod to run")
    assert running["status"]["phase"] == "Running"

    async def unschedulable() -> dict[str, Any] | None:
        p = await cluster.get(PODS, "picky")
        conds = {c["type"]: c for c in (p or {}).get("status", {}).get("conditions") or ()}
        return p if conds.get("PodScheduled", {}).get("reason") == "Unschedulable" else None

    picky = await eventually(unschedulable, what="the Unschedulable condition")
    assert picky["status"]["phase"] == "Pending" and not picky["spec"].get("nodeName")


async def test_pods_with_finalizers_are_stopped_when_deleted(cluster: Cluster) -> None:
    await cluster.create(PODS, {**pod("held"), "metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    await eventually(lambda: ready_pod(cluster, "held"), what="the pod to run")
    await cluster.client.delete(PODS, "held", "default")

    async def stopped() -> dict[str, Any] | None:
        p = await cluster.get(PODS, "held")
        return p if p and p["status"]["phase"] == "Succeeded" else None

    held = await eventually(stopped, what="the deleted pod's containers to stop")
    assert "terminated" in held["status"]["containerStatuses"][0]["state"]
    await cluster.patch(PODS, "held", {"metadata": {"finalizers": None}}, "merge")

    async def gone() -> bool:
        return await cluster.get(PODS, "held") is None

    await eventually(gone, what="the pod to go once its finalizer is removed")


@pytest.mark.parametrize("cluster", [{"heartbeat_interval": 0.5}], indirect=True)
async def test_the_node_posts_heartbeats(cluster: Cluster) -> None:
    async def registered() -> dict[str, Any] | None:
        return await cluster.get(NODES, cluster.config.node_name)

    node = await eventually(registered, what="the node to register")
    before = {c["type"]: c for c in node["status"]["conditions"]}
    assert before["Simulated"]["message"].startswith("This node is simulated by idpbuilder")
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == "simulated://idpbuilder"
    assert node["spec"]["providerID"] == f"simulated://{cluster.config.node_name}"
    cluster.clock.advance(seconds=61)

    async def beat() -> dict[str, Any] | None:
        current = await registered()
        ready = next(c for c in (current or {})["status"]["conditions"] if c["type"] == "Ready")
        return current if ready["lastHeartbeatTime"] != before["Ready"]["lastHeartbeatTime"] else None

    after = {c["type"]: c for c in (await eventually(beat, what="a heartbeat"))["status"]["conditions"]}
    assert after["Ready"]["lastTransitionTime"] == before["Ready"]["lastTransitionTime"]
