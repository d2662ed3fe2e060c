"""Services on the simulated cluster: cluster IPs and node ports (the API server's allocators), Endpoints
from the ready pods a Service selects (the endpoints controller), and LoadBalancer addresses (a cloud
controller such as MetalLB would hand them out)."""

from __future__ import annotations

import ipaddress
from typing import Any

from ...client.base import ResourceClient
from ..api import ObjectKey, Result
from .base import SimController
from .config import SimulatedNodeConfig
from .podutil import pod_ready, pod_terminal
from .refs import ENDPOINTS, PODS, SERVICES
from .util import Obj, fnv32a, labels_of, meta, name_of, spec_of, status_of

NODE_PORT_RANGE = (30000, 32767)
HEADLESS_LABEL = "service.kubernetes.io/headless"


def needs_cluster_ip(svc: Obj) -> bool:
    spec = spec_of(svc)
    return spec.get("type") != "ExternalName" and not spec.get("clusterIP")


def needs_node_ports(svc: Obj) -> bool:
    spec = spec_of(svc)
    kind = spec.get("type")
    return kind == "NodePort" or (kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False)


def is_headless(svc: Obj) -> bool:
    return spec_of(svc).get("clusterIP") == "None"


def _probe(cidr: str, seed: str, used: set[str], skip: int = 0) -> str:
    """A free address of the range, starting from a point derived from `seed` (stable per object)."""
    net = ipaddress.ip_network(cidr, strict=False)
    usable = net.num_addresses - 2 - skip
    if usable <= 0:
        raise RuntimeError(f"the range {cidr} is too small")
    start = fnv32a(seed.encode()) % usable
    for i in range(usable):
        ip = str(net.network_address + 1 + skip + (start + i) % usable)
        if ip not in used:
            return ip
    raise RuntimeError(f"the range {cidr} is full")


def allocate_cluster_ip(cidr: str, seed: str, used: set[str]) -> str:
    # The first address of the range belongs to the `kubernetes` Service.
    return _probe(cidr, seed, used, skip=1)


def allocate_node_port(seed: str, used: set[int]) -> int:
    low, high = NODE_PORT_RANGE
    size = high - low + 1
    start = fnv32a(seed.encode()) % size
    for i in range(size):
        port = low + (start + i) % size
        if port not in used:
            return port
    raise RuntimeError("no free node port")


def _target_port(pod: Obj, port: Obj) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = port.get("protocol") or "TCP"
    for container in spec_of(pod).get("containers") or ():
        for cport in container.get("ports") or ():
            if cport.get("name") == target and (cport.get("protocol") or "TCP") == protocol:
                return cport.get("containerPort")
    return None


def endpoint_subsets(svc: Obj, pods: list[Obj]) -> list[Obj]:
    """The Endpoints subsets for a Service's selected pods (ready ones as addresses, others as
    notReadyAddresses), grouped by identical port sets as upstream's RepackSubsets does."""
    spec = spec_of(svc)
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    ports = [p for p in spec.get("ports") or () if isinstance(p, dict)]
    groups: dict[tuple[Any, ...], dict[str, list[Obj]]] = {}
    for pod in pods:
        ip = status_of(pod).get("podIP")
        if not ip or pod_terminal(pod) or (meta(pod).get("deletionTimestamp") and not tolerate_unready):
            continue
        address: Obj = {"ip": ip}
        pspec = spec_of(pod)
        if pspec.get("nodeName"):
            address["nodeName"] = pspec["nodeName"]
        if pspec.get("hostname") and pspec.get("subdomain") == name_of(svc):
            address["hostname"] = pspec["hostname"]
        address["targetRef"] = {"kind": "Pod", "namespace": meta(pod).get("namespace"), "name": name_of(pod),
                                "uid": meta(pod).get("uid")}
        endpoint_ports = []
        for port in ports:
            number = _target_port(pod, port)
            if number is None:
                continue
            ep: Obj = {"port": number, "protocol": port.get("protocol") or "TCP"}
            if port.get("name"):
                ep["name"] = port["name"]
            if port.get("appProtocol"):
                ep["appProtocol"] = port["appProtocol"]
            endpoint_ports.append(ep)
        if ports and not endpoint_ports:
            continue
        key = tuple(sorted((p.get("name", ""), p["port"], p["protocol"]) for p in endpoint_ports))
        group = groups.setdefault(key, {"ports": endpoint_ports, "addresses": [], "notReadyAddresses": []})
        ready = tolerate_unready or pod_ready(pod)
        group["addresses" if ready else "notReadyAddresses"].append(address)
    subsets = []
    for key in sorted(groups):
        group = groups[key]
        subset: Obj = {}
        for kind in ("addresses", "notReadyAddresses"):
            if group[kind]:
                subset[kind] = sorted(group[kind], key=lambda a: (a["ip"], a["targetRef"]["uid"] or ""))
        if group["ports"]:
            subset["ports"] = sorted(group["ports"], key=lambda p: (p.get("name", ""), p["port"], p["protocol"]))
        subsets.append(subset)
    return subsets


def endpoints_for(svc: Obj, pods: list[Obj]) -> Obj:
    labels = labels_of(svc)
    if is_headless(svc):
        labels[HEADLESS_LABEL] = ""
    ep_meta: Obj = {"name": name_of(svc), "namespace": meta(svc).get("namespace")}
    if labels:
        ep_meta["labels"] = labels
    ep: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": ep_meta}
    subsets = endpoint_subsets(svc, pods)
    if subsets:
        ep["subsets"] = subsets
    return ep


class ServiceController(SimController):
    """Allocates a Service's addresses, publishes its Endpoints and its load balancer status."""

    component = "service-controller"

    def __init__(self, client: ResourceClient, config: SimulatedNodeConfig) -> None:
        super().__init__(client, config)
        self._selectors: dict[ObjectKey, dict[str, str]] = {}
        self._members: dict[ObjectKey, set[str]] = {}
        self._pending_ips: set[str] = set()
        # The cluster IPs and node ports each Service holds, kept from every sync (after one list of all
        # Services), so that an allocation does not read every Service of the cluster again.
        self._held: dict[ObjectKey, tuple[frozenset[str], frozenset[int]]] = {}
        self._held_loaded = False

    def keys_for_pod(self, pod: Obj) -> list[ObjectKey]:
        """The Services a pod event concerns: those selecting it now, and those it was an endpoint of."""
        namespace, name, labels = meta(pod).get("namespace") or "", name_of(pod), labels_of(pod)
        keys = [k for k, sel in self._selectors.items()
                if k.namespace == namespace and all(labels.get(a) == b for a, b in sel.items())]
        keys += [k for k, members in self._members.items()
                 if k.namespace == namespace and name in members and k not in keys]
        return keys

    async def sync(self, key: ObjectKey) -> Result | None:
        svc = await self.get(SERVICES, key.name, key.namespace)
        if svc is None:
            self._held.pop(key, None)
            self._selectors.pop(key, None)
            if self._members.pop(key, None) is not None:
                await self.delete(ENDPOINTS, key.name, key.namespace)
            return None
        self._hold(svc)
        if needs_cluster_ip(svc) or self._missing_node_ports(svc):
            svc = await self._allocate(svc)
        if spec_of(svc).get("type") == "LoadBalancer" and not spec_of(svc).get("loadBalancerClass"):
            await self._load_balancer(svc)
        selector = spec_of(svc).get("selector") or {}
        if not selector or spec_of(svc).get("type") == "ExternalName":
            self._selectors.pop(key, None)
            self._members.pop(key, None)
            return None
        self._selectors[key] = dict(selector)
        pods = [p for p in await self.list(PODS, key.namespace)
                if all(labels_of(p).get(k) == v for k, v in selector.items())]
        await self._endpoints(svc, pods)
        self._members[key] = {name_of(p) for p in pods}
        return None

    @staticmethod
    def _missing_node_ports(svc: Obj) -> bool:
        return needs_node_ports(svc) and any(not p.get("nodePort") for p in spec_of(svc).get("ports") or ())

    def _hold(self, svc: Obj) -> None:
        spec = spec_of(svc)
        ips = frozenset(ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip)
        ports = frozenset(p.get("nodePort") for p in spec.get("ports") or () if p.get("nodePort"))
        self._held[ObjectKey.of(svc)] = (ips, ports)

    async def _in_use(self) -> tuple[set[str], set[int]]:
        """The cluster IPs (in flight ones included) and node ports Services hold."""
        if not self._held_loaded:  # once, for the Services that exist already (also after a restart)
            for s in await self.list(SERVICES, None):
                self._hold(s)
            self._held_loaded = True
        ips, ports = set(self._pending_ips), set()
        for held_ips, held_ports in self._held.values():
            ips |= held_ips
            ports |= held_ports
        return ips, ports

    async def _allocate(self, svc: Obj) -> Obj:
        used, used_ports = await self._in_use()
        spec = dict(spec_of(svc))
        ident = f"{meta(svc).get('namespace')}/{name_of(svc)}"
        if needs_cluster_ip(svc):
            ip = allocate_cluster_ip(self.config.service_cidr, ident, used)
            self._pending_ips.add(ip)
            spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        if self._missing_node_ports(svc):
            ports = []
            for port in spec.get("ports") or ():
                port = dict(port)
                if not port.get("nodePort"):
                    port["nodePort"] = allocate_node_port(f"{ident}/{port.get('port')}", used_ports)
                    used_ports.add(port["nodePort"])
                ports.append(port)
            spec["ports"] = ports
        try:
            updated = await self.client.update(SERVICES, {**svc, "spec": spec}, meta(svc).get("namespace"),
                                               self.opts)
        finally:
            self._pending_ips.discard(spec.get("clusterIP") or "")
        self._hold(updated)
        return updated

    async def _load_balancer(self, svc: Obj) -> None:
        current = (status_of(svc).get("loadBalancer") or {}).get("ingress") or []
        if current:
            return
        requested = spec_of(svc).get("loadBalancerIP")
        if not requested:
            used = {i.get("ip") for s in await self.list(SERVICES, None)
                    for i in (status_of(s).get("loadBalancer") or {}).get("ingress") or () if i.get("ip")}
            requested = _probe(self.config.load_balancer_cidr, f"{meta(svc).get('namespace')}/{name_of(svc)}",
                               used)
        status = {**status_of(svc), "loadBalancer": {"ingress": [{"ip": requested, "ipMode": "VIP"}]}}
        await self.events.record(svc, SERVICES, "EnsuringLoadBalancer", "Ensuring load balancer")
        await self.write_status(SERVICES, svc, status)
        await self.events.record(svc, SERVICES, "EnsuredLoadBalancer", "Ensured load balancer")

    async def _endpoints(self, svc: Obj, pods: list[Obj]) -> None:
        desired = endpoints_for(svc, pods)
        namespace = meta(svc).get("namespace")
        current = await self.get(ENDPOINTS, name_of(svc), namespace)
        if current is None:
            await self.client.create(ENDPOINTS, desired, namespace, self.opts)
            return
        if current.get("subsets") == desired.get("subsets") and \
                labels_of(current) == desired["metadata"].get("labels", {}):
            return
        updated = {**current, "metadata": {**meta(current), "labels": desired["metadata"].get("labels")}}
        if desired.get("subsets"):
            updated["subsets"] = desired["subsets"]
        else:
            updated.pop("subsets", None)
        await self.client.update(ENDPOINTS, updated, namespace, self.opts)
