"""provider-kubernetes `Object`s through the embedded platform: a real APIServer, the simulated node, the
compose engine and the provider's controller, plus a second APIServer over TLS for kubeconfig credentials."""

from __future__ import annotations

import asyncio
import base64
import copy
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef, WriteOptions
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.compose.component import Compose
from idpbuilder.compose.crds import COMPOSITIONS, XRDS
from idpbuilder.core.errors import ApiError
from idpbuilder.platform import kubeconfig
from idpbuilder.platform.components import SimulatedNode
from idpbuilder.platform.pki import ensure_tls
from idpbuilder.platform.platform import Platform
from idpbuilder.providers.kubernetes import KubernetesProvider
from idpbuilder.providers.kubernetes.crds import OBJECTS, PROVIDER_CONFIGS
from idpbuilder.providers.kubernetes.readiness import readiness
from idpbuilder.providers.managed import EXTERNAL_NAME, merge_diff
from idpbuilder.runtime.simnode import SimulatedNodeConfig
from tests.conftest import free_port
from tests.objects import get_or_none, wait_for_object

from .conftest import condition, eventually

ADMIN = UserInfo("test-admin", ("system:masters", "system:authenticated"))
CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap")
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
LEGACY_OBJECTS = ResourceRef("kubernetes.crossplane.io", "v1alpha1", "objects", "Object", namespaced=False)
POLL = 0.3


def configmap(name: str, data: dict[str, str] | None = None, namespace: str | None = "default") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {}}


def k8s_object(name: str, manifest: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubernetes.crossplane.io/v1alpha2", "kind": "Object", "metadata": {"name": name},
            "spec": {"forProvider": {"manifest": manifest}, **spec}}


@dataclass
class Env:
    server: APIServer
    client: EmbeddedClient
    platform: Platform
    provider: KubernetesProvider

    async def get(self, res: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return await get_or_none(self.client, res, name, namespace)

    async def wait(self, res: ResourceRef, name: str, namespace: str | None, check: Callable[[dict[str, Any]], bool],
                   what: str, timeout: float = 10.0) -> dict[str, Any]:
        return await wait_for_object(self.client, res, name, namespace, check, what, timeout)

    async def wait_condition(self, name: str, type_: str, status: str, reason: str | None = None,
                             timeout: float = 10.0) -> dict[str, Any]:
        def ok(obj: dict[str, Any]) -> bool:
            c = condition(obj, type_)
            return c.get("status") == status and (reason is None or c.get("reason") == reason)
        return await self.wait(OBJECTS, name, None, ok, f"Object {name} {type_}={status}/{reason}", timeout)

    async def wait_gone(self, res: ResourceRef, name: str, namespace: str | None = None,
                        timeout: float = 10.0) -> None:
        async def gone() -> bool:
            return await self.get(res, name, namespace) is None
        await eventually(gone, timeout, f"{res} {name} to be deleted")

    async def secret(self, name: str, namespace: str = "default") -> dict[str, str]:
        obj = await self.get(SECRETS, name, namespace)
        return {k: base64.b64decode(v).decode() for k, v in ((obj or {}).get("data") or {}).items()}

    async def injected_config(self, name: str = "default") -> None:
        await self.client.create(PROVIDER_CONFIGS, {
            "apiVersion": "kubernetes.crossplane.io/v1alpha1", "kind": "ProviderConfig", "metadata": {"name": name},
            "spec": {"credentials": {"source": "InjectedIdentity"}}})

    async def kubeconfig_config(self, name: str, config_text: str) -> None:
        await self.client.create(SECRETS, {"metadata": {"name": f"{name}-kubeconfig"},
                                           "stringData": {"kubeconfig": config_text}}, "default")
        await self.client.create(PROVIDER_CONFIGS, {
            "apiVersion": "kubernetes.crossplane.io/v1alpha1", "kind": "ProviderConfig", "metadata": {"name": name},
            "spec": {"credentials": {"source": "Secret", "secretRef": {
                "name": f"{name}-kubeconfig", "namespace": "default", "key": "kubeconfig"}}}})


async def start_env(tmp_path: Path, provider: KubernetesProvider) -> AsyncIterator[Env]:
    server = APIServer(tmp_path / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    node = SimulatedNode(SimulatedNodeConfig(ready_delay=0.1))
    platform = Platform(client, [node, Compose(), provider])
    await platform.start()

    async def started() -> bool:
        checks = platform.health_checks()
        return checks["provider-kubernetes"]()[0] and checks["compose"]()[0]
    try:
        await eventually(started, 20, "the platform to start")
        yield Env(server, client, platform, provider)
    finally:
        await platform.stop()
        await provider.close()
        await client.close()
        await server.shutdown()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async for running in start_env(tmp_path, KubernetesProvider(poll_interval=POLL, unready_poll=POLL,
                                                                backoff_base=0.05, trust_env=False)):
        yield running


@dataclass
class RemoteCluster:
    """A second APIServer, served over HTTPS with its own CA, reached with a bearer token."""

    server: APIServer
    client: EmbeddedClient
    url: str
    ca_pem: bytes
    data_dir: Path

    def kubeconfig(self, token: str | None = None) -> str:
        return kubeconfig.dumps(kubeconfig.build(self.url, self.ca_pem, token or self.server.tokens.admin_token))


@pytest.fixture
async def remote(tmp_path: Path) -> AsyncIterator[RemoteCluster]:
    data_dir = tmp_path / "remote"
    data_dir.mkdir()
    tls = ensure_tls(data_dir, hosts=["127.0.0.1"])
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    server = APIServer(data_dir, server_address=url.removeprefix("https://"), ca_pem=tls.ca_cert_pem, audit=False)
    config = uvicorn.Config(server, host="127.0.0.1", port=port, ssl_certfile=str(tls.cert_path),
                            ssl_keyfile=str(tls.key_path), log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=1)
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    await eventually(lambda: _started(uv), 20, "the remote API server to listen")
    try:
        yield RemoteCluster(server, EmbeddedClient(server, ADMIN), url, tls.ca_cert_pem, data_dir)
    finally:
        server.store.hub.close_all()
        uv.should_exit = True
        await task


async def _started(uv: uvicorn.Server) -> bool:
    return bool(uv.started)


# ---- creating, readiness, drift


async def test_configmap_is_created_ready_and_observed(env: Env) -> None:
    await env.injected_config()
    await env.client.create(OBJECTS, k8s_object("cm", configmap("app-settings", {"color": "blue"})))
    obj = await env.wait_condition("cm", "Ready", "True", "Available")
    assert condition(obj, "Synced")["reason"] == "ReconcileSuccess"
    cm = await env.get(CONFIGMAPS, "app-settings", "default")
    assert cm is not None and cm["data"] == {"color": "blue"}
    managers = {m["manager"]: m["operation"] for m in cm["metadata"]["managedFields"]}
    assert managers == {"provider-kubernetes/cm": "Apply"}
    assert obj["metadata"]["annotations"][EXTERNAL_NAME] == "cm"
    assert "finalizer.managedresource.crossplane.io" in obj["metadata"]["finalizers"]
    observed = await env.wait(OBJECTS, "cm", None, lambda o: bool(o["status"].get("atProvider") or {}),
                              "status.atProvider.manifest")
    manifest = observed["status"]["atProvider"]["manifest"]
    assert (manifest["kind"], manifest["metadata"]["uid"], manifest["data"]) == (
        "ConfigMap", cm["metadata"]["uid"], {"color": "blue"})
    assert "managedFields" not in manifest["metadata"]

    await env.client.delete(OBJECTS, "cm")
    await env.wait_gone(OBJECTS, "cm")
    assert await env.get(CONFIGMAPS, "app-settings", "default") is None


async def test_name_and_namespace_default(env: Env) -> None:
    await env.injected_config()
    await env.client.create(OBJECTS, k8s_object("unnamed", {"apiVersion": "v1", "kind": "ConfigMap",
                                                            "data": {"a": "1"}}))
    await env.client.create(OBJECTS, k8s_object("ns-obj", {"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": "team-a", "namespace": "ignored"}}))
    await env.wait_condition("unnamed", "Ready", "True")
    assert (await env.get(CONFIGMAPS, "unnamed", "default") or {}).get("data") == {"a": "1"}
    await env.wait_condition("ns-obj", "Ready", "True")
    assert await env.get(NAMESPACES, "team-a") is not None


async def test_deployment_is_ready_when_all_its_conditions_are_true(env: Env) -> None:
    await env.injected_config()
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    await env.client.create(OBJECTS, k8s_object("web", deployment, readiness={"policy": "AllTrue"}))
    obj = await env.wait_condition("web", "Ready", "True", "Available", timeout=20)
    observed = obj["status"]["atProvider"]["manifest"]
    assert observed["status"]["availableReplicas"] == 2
    assert {c["type"] for c in observed["status"]["conditions"]} == {"Available", "Progressing"}
    live = await env.get(DEPLOYMENTS, "web", "default")
    assert live is not None and live["metadata"]["uid"] == observed["metadata"]["uid"]


async def test_derive_from_object_waits_for_the_ready_condition(env: Env) -> None:
    await env.injected_config()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "worker", "namespace": "default"},
           "spec": {"containers": [{"name": "w", "image": "busybox:1.36"}]}}
    await env.client.create(OBJECTS, k8s_object("pod", pod, readiness={"policy": "DeriveFromObject"}))
    await env.client.create(OBJECTS, k8s_object("no-ready", configmap("plain"), readiness={"policy": "DeriveFromObject"}))
    obj = await env.wait_condition("pod", "Ready", "True", "Available", timeout=20)
    pod_ready = condition(obj["status"]["atProvider"]["manifest"], "Ready")
    assert pod_ready["status"] == "True"
    not_ready = await env.wait_condition("no-ready", "Ready", "False", "Unavailable")
    assert condition(not_ready, "Ready")["message"] == "ConfigMap plain has no Ready condition"
    assert condition(not_ready, "Synced")["status"] == "True"


async def test_drift_is_healed_and_foreign_fields_are_kept(env: Env) -> None:
    await env.injected_config()
    await env.client.create(OBJECTS, k8s_object("drift", configmap("drifting", {"a": "1", "b": "2"})))
    await env.wait_condition("drift", "Ready", "True")
    # Someone else edits a field the Object sets, removes another and adds their own.
    cm = await env.get(CONFIGMAPS, "drifting", "default")
    assert cm is not None
    cm["data"] = {"a": "changed", "mine": "x"}
    await env.client.update(CONFIGMAPS, cm, "default", WriteOptions(field_manager="kubectl-edit"))
    healed = await env.wait(CONFIGMAPS, "drifting", "default", lambda c: c["data"].get("a") == "1",
                            "the edited ConfigMap healed")
    assert healed["data"] == {"a": "1", "b": "2", "mine": "x"}
    # A changed manifest is applied; a key it no longer sets is removed.
    await env.client.patch(OBJECTS, "drift", {"spec": {"forProvider": {"manifest": {"data": {"a": "3", "b": None}}}}})
    updated = await env.wait(CONFIGMAPS, "drifting", "default", lambda c: c["data"].get("a") == "3",
                             "the manifest change applied")
    assert updated["data"] == {"a": "3", "mine": "x"}
    obj = await env.wait(OBJECTS, "drift", None,
                         lambda o: o["status"]["atProvider"]["manifest"]["data"] == {"a": "3", "mine": "x"},
                         "atProvider to follow the live object")
    assert condition(obj, "Ready")["status"] == "True"


# ---- policies and ownership


async def test_observe_only_reads_and_never_writes(env: Env) -> None:
    await env.injected_config()
    await env.client.create(CONFIGMAPS, configmap("existing", {"k": "v"}), "default")
    await env.client.create(OBJECTS, k8s_object("watcher", configmap("existing", {"k": "other"}),
                                                managementPolicies=["Observe"]))
    obj = await env.wait_condition("watcher", "Ready", "True")
    assert obj["status"]["atProvider"]["manifest"]["data"] == {"k": "v"}
    cm = await env.get(CONFIGMAPS, "existing", "default")
    assert cm is not None and cm["data"] == {"k": "v"}
    assert {m["manager"] for m in cm["metadata"]["managedFields"]} == {"idpbuilder"}  # the test client only
    assert EXTERNAL_NAME not in (obj["metadata"].get("annotations") or {})
    # Changes show up in status; nothing is reverted.
    await env.client.patch(CONFIGMAPS, "existing", {"data": {"k": "v2"}}, "default")
    await env.wait(OBJECTS, "watcher", None, lambda o: o["status"]["atProvider"]["manifest"]["data"] == {"k": "v2"},
                   "the observed change")
    # Deleting the Object leaves the ConfigMap.
    await env.client.delete(OBJECTS, "watcher")
    await env.wait_gone(OBJECTS, "watcher")
    assert (await env.get(CONFIGMAPS, "existing", "default") or {}).get("data") == {"k": "v2"}

    await env.client.create(OBJECTS, k8s_object("nothing", configmap("absent"), managementPolicies=["Observe"]))
    missing = await env.wait_condition("nothing", "Synced", "False", "ReconcileError")
    assert condition(missing, "Synced")["message"] == "external resource does not exist"
    assert await env.get(CONFIGMAPS, "absent", "default") is None


async def test_orphan_keeps_the_object_and_background_propagation_deletes_dependents(env: Env) -> None:
    await env.injected_config()
    await env.client.create(OBJECTS, k8s_object("keep", configmap("kept", {"a": "1"}), deletionPolicy="Orphan"))
    await env.wait_condition("keep", "Ready", "True")
    await env.client.delete(OBJECTS, "keep")
    await env.wait_gone(OBJECTS, "keep")
    kept = await env.get(CONFIGMAPS, "kept", "default")
    assert kept is not None and kept["data"] == {"a": "1"}

    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"}}
    await env.client.create(OBJECTS, k8s_object("scratch", namespace))
    await env.wait_condition("scratch", "Ready", "True")
    await env.client.delete(OBJECTS, "scratch")
    await env.wait_gone(OBJECTS, "scratch")
    assert await env.get(NAMESPACES, "scratch") is None


async def test_an_existing_object_is_adopted_only_when_the_external_name_says_so(env: Env) -> None:
    await env.injected_config()
    await env.client.create(CONFIGMAPS, configmap("theirs", {"owner": "someone"}), "default")
    await env.client.create(OBJECTS, k8s_object("grabby", configmap("theirs", {"owner": "me"})))
    obj = await env.wait_condition("grabby", "Synced", "False", "ReconcileError")
    assert condition(obj, "Synced")["message"] == (
        "external resource 'grabby' exists but is not managed by us: set the crossplane.io/external-name "
        "annotation to adopt it")
    # Deleting the refused Object leaves the ConfigMap alone.
    await env.client.delete(OBJECTS, "grabby")
    await env.wait_gone(OBJECTS, "grabby")
    assert (await env.get(CONFIGMAPS, "theirs", "default") or {}).get("data") == {"owner": "someone"}

    adopting = k8s_object("adopter", configmap("theirs", {"owner": "me"}))
    adopting["metadata"]["annotations"] = {EXTERNAL_NAME: "theirs"}
    await env.client.create(OBJECTS, adopting)
    await env.wait_condition("adopter", "Ready", "True")
    await env.wait(CONFIGMAPS, "theirs", "default", lambda c: c["data"] == {"owner": "me"}, "the adopted ConfigMap")


async def test_cel_readiness_is_rejected_when_written(env: Env) -> None:
    obj = k8s_object("cel", configmap("c"), readiness={"policy": "DeriveFromCelQuery",
                                                       "celQuery": "object.status.ready == true"})
    with pytest.raises(ApiError) as info:
        await env.client.create(OBJECTS, obj)
    assert info.value.code == 422
    assert 'spec.readiness.policy: Unsupported value: "DeriveFromCelQuery"' in info.value.message


async def test_v1alpha1_is_served_with_the_default_policy_only(env: Env) -> None:
    await env.injected_config()
    legacy = k8s_object("legacy", configmap("from-legacy", {"v": "1"}))
    legacy["apiVersion"] = "kubernetes.crossplane.io/v1alpha1"
    created = await env.client.create(LEGACY_OBJECTS, legacy)
    assert created["spec"]["managementPolicy"] == "Default"
    await env.wait_condition("legacy", "Ready", "True")
    assert (await env.get(CONFIGMAPS, "from-legacy", "default") or {}).get("data") == {"v": "1"}
    observe = copy.deepcopy(legacy)
    observe["metadata"]["name"] = "legacy-observe"
    observe["spec"]["managementPolicy"] = "Observe"
    with pytest.raises(ApiError) as info:
        await env.client.create(LEGACY_OBJECTS, observe)
    assert 'spec.managementPolicy: Unsupported value: "Observe"' in info.value.message


# ---- references and connection details


async def test_patches_from_and_depends_on(env: Env) -> None:
    await env.injected_config()
    refs = [{"dependsOn": {"apiVersion": "v1", "kind": "Namespace", "name": "apps"}},
            {"patchesFrom": {"apiVersion": "v1", "kind": "ConfigMap", "name": "source", "namespace": "default",
                             "fieldPath": "data.color"}, "toFieldPath": "data.paint"},
            {"patchesFrom": {"apiVersion": "v1", "kind": "ConfigMap", "name": "source", "namespace": "default",
                             "fieldPath": "metadata.labels"}}]
    manifest = configmap("derived", {"fixed": "yes"}, namespace="apps")
    await env.client.create(OBJECTS, k8s_object("derived", manifest, references=refs))
    obj = await env.wait_condition("derived", "Synced", "False", "ReconcileError")
    assert condition(obj, "Synced")["message"] == ('cannot observe external resource: cannot resolve resource '
                                                   'references: cannot get referenced resource: namespaces "apps" '
                                                   'not found')
    await env.client.create(NAMESPACES, {"metadata": {"name": "apps"}})
    await env.client.create(CONFIGMAPS, {"metadata": {"name": "source", "labels": {"tier": "gold"}},
                                         "data": {"color": "red"}}, "default")
    await env.wait_condition("derived", "Ready", "True")
    cm = await env.get(CONFIGMAPS, "derived", "apps")
    assert cm is not None
    assert cm["data"] == {"fixed": "yes", "paint": "red"}
    assert cm["metadata"]["labels"] == {"tier": "gold"}
    stored = await env.get(OBJECTS, "derived")
    assert stored is not None and stored["spec"]["forProvider"]["manifest"]["data"] == {"fixed": "yes"}
    # Referenced objects are protected while the Object exists.
    uid = stored["metadata"]["uid"]
    source = await env.get(CONFIGMAPS, "source", "default")
    assert f"kubernetes.crossplane.io/referred-by-object-{uid}" in (source or {})["metadata"]["finalizers"]
    # The source changes: the next poll carries it over.
    await env.client.patch(CONFIGMAPS, "source", {"data": {"color": "green"}}, "default")
    await env.wait(CONFIGMAPS, "derived", "apps", lambda c: c["data"].get("paint") == "green", "the new colour")
    await env.client.delete(OBJECTS, "derived")
    await env.wait_gone(OBJECTS, "derived")
    source = await env.get(CONFIGMAPS, "source", "default")
    assert not (source or {})["metadata"].get("finalizers")
    assert await env.get(CONFIGMAPS, "derived", "apps") is None


async def test_missing_patch_source_field_is_reported(env: Env) -> None:
    await env.injected_config()
    await env.client.create(CONFIGMAPS, configmap("empty-source"), "default")
    refs = [{"patchesFrom": {"apiVersion": "v1", "kind": "ConfigMap", "name": "empty-source", "namespace": "default",
                             "fieldPath": "data.nothing"}}]
    await env.client.create(OBJECTS, k8s_object("unpatched", configmap("unpatched"), references=refs))
    obj = await env.wait_condition("unpatched", "Synced", "False", "ReconcileError")
    assert condition(obj, "Synced")["message"] == ("cannot observe external resource: cannot resolve resource "
                                                   "references: cannot patch from referenced resource: "
                                                   "data.nothing: no such field")
    assert await env.get(CONFIGMAPS, "unpatched", "default") is None


async def test_connection_details_from_the_object_and_others(env: Env) -> None:
    await env.injected_config()
    await env.client.create(SECRETS, {"metadata": {"name": "db-admin"}, "stringData": {"password": "s3cr3t!"}},
                            "default")
    details = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "endpoint", "namespace": "default",
         "fieldPath": "data.host", "toConnectionSecretKey": "host"},
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "endpoint", "namespace": "default",
         "fieldPath": "metadata.labels", "toConnectionSecretKey": "labels"},
        {"apiVersion": "v1", "kind": "Secret", "name": "db-admin", "namespace": "default",
         "fieldPath": "data.password", "toConnectionSecretKey": "password"},
    ]
    manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "endpoint", "namespace": "default", "labels": {"a": "b"}},
                "data": {"host": "db.local"}}
    await env.client.create(OBJECTS, k8s_object("conn", manifest, connectionDetails=details,
                                                writeConnectionSecretToRef={"name": "conn-out",
                                                                            "namespace": "default"}))
    await env.wait_condition("conn", "Ready", "True")
    await eventually(lambda: env.secret("conn-out"), 10, "the connection secret")
    assert await env.secret("conn-out") == {"host": "db.local", "labels": "map[a:b]", "password": "s3cr3t!"}
    secret = await env.get(SECRETS, "conn-out", "default")
    assert secret is not None and secret["type"] == "connection.crossplane.io/v1alpha1"

    bad = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "nope", "namespace": "default", "fieldPath": "data.x",
            "toConnectionSecretKey": "x"}]
    await env.client.create(OBJECTS, k8s_object("conn-bad", configmap("conn-bad"), connectionDetails=bad))
    obj = await env.wait_condition("conn-bad", "Synced", "False", "ReconcileError")
    assert condition(obj, "Synced")["message"] == ('cannot observe external resource: cannot get connection '
                                                   'details: cannot get object: configmaps "nope" not found')


async def test_secret_values_are_not_copied_into_status(env: Env) -> None:
    await env.injected_config()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hidden", "namespace": "default"},
              "stringData": {"token": "do-not-show"}}
    await env.client.create(OBJECTS, k8s_object("hidden", secret))
    obj = await env.wait(OBJECTS, "hidden", None, lambda o: bool((o.get("status") or {}).get("atProvider")),
                         "the observed Secret")
    assert obj["status"]["atProvider"]["manifest"]["data"] == {"token": ""}
    live = await env.get(SECRETS, "hidden", "default")
    assert base64.b64decode((live or {})["data"]["token"]) == b"do-not-show"


# ---- ProviderConfig credentials


async def kubectl(kubeconfig_path: Path, *args: str) -> str:
    """kubectl as a subprocess the event loop waits for (the servers under test run on this loop)."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig_path), "HOME": str(kubeconfig_path.parent)}
    proc = await asyncio.create_subprocess_exec("kubectl", *args, env=env, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_secret_kubeconfig_targets_a_second_cluster(env: Env, remote: RemoteCluster,
                                                          kubectl_available: None, tmp_path: Path) -> None:
    await env.kubeconfig_config("remote", remote.kubeconfig())
    await env.client.create(OBJECTS, k8s_object("far", configmap("far-away", {"where": "remote"}),
                                                providerConfigRef={"name": "remote"}))
    obj = await env.wait_condition("far", "Ready", "True")
    assert await env.get(CONFIGMAPS, "far-away", "default") is None  # not on the platform's cluster
    far = await remote.client.get(CONFIGMAPS, "far-away", "default")
    assert far["data"] == {"where": "remote"}
    assert [m["manager"] for m in far["metadata"]["managedFields"]] == ["provider-kubernetes/far"]
    assert obj["status"]["atProvider"]["manifest"]["metadata"]["uid"] == far["metadata"]["uid"]

    # kubectl edits the remote object over TLS; the next poll puts it back.
    path = tmp_path / "remote.kubeconfig"
    path.write_text(remote.kubeconfig())
    await kubectl(path, "patch", "configmap", "far-away", "-p", '{"data":{"where":"moved"}}')
    await eventually(lambda: _remote_data(remote, "far-away", "where", "remote"), 10, "the remote drift healed")

    await env.client.delete(OBJECTS, "far")
    await env.wait_gone(OBJECTS, "far")
    with pytest.raises(ApiError) as info:
        await remote.client.get(CONFIGMAPS, "far-away", "default")
    assert info.value.code == 404


async def _remote_data(remote: RemoteCluster, name: str, key: str, value: str) -> bool:
    obj = await remote.client.get(CONFIGMAPS, name, "default")
    return (obj.get("data") or {}).get(key) == value


async def test_bad_credentials_are_reported_and_fixed_credentials_recover(env: Env, remote: RemoteCluster) -> None:
    await env.kubeconfig_config("wrong-token", remote.kubeconfig(token="not-a-real-token"))
    await env.client.create(OBJECTS, k8s_object("denied", configmap("denied"),
                                                providerConfigRef={"name": "wrong-token"}))
    obj = await env.wait_condition("denied", "Synced", "False", "ReconcileError")
    assert condition(obj, "Synced")["message"] == (
        f"connect failed: cannot reach the cluster of ProviderConfig 'wrong-token' at {remote.url}: "
        "Unauthorized (401)")
    # A new Secret version is a new client: the fixed token is used on the next retry.
    await env.client.patch(SECRETS, "wrong-token-kubeconfig", {"stringData": {"kubeconfig": remote.kubeconfig()}},
                           "default")
    await env.wait_condition("denied", "Ready", "True", timeout=15)
    assert (await remote.client.get(CONFIGMAPS, "denied", "default"))["metadata"]["name"] == "denied"


@pytest.mark.parametrize(("config_text", "message"), [
    ("- just a list", "failed to load kubeconfig: the document is not a kubeconfig mapping"),
    ("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n", "currentContext not set in kubeconfig"),
    ("current-context: c\ncontexts: [{name: c, context: {cluster: gone, user: u}}]\nclusters: []\n",
     "cluster for currentContext (c) not found"),
    ("current-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
     "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
     "users: [{name: u, user: {exec: {command: /bin/sh, apiVersion: client.authentication.k8s.io/v1}}}]\n",
     "credential plugins (exec, auth-provider) are not allowed in a kubeconfig from a Secret"),
])
async def test_unusable_kubeconfigs_are_reported(env: Env, config_text: str, message: str) -> None:
    await env.kubeconfig_config("broken", config_text)
    await env.client.create(OBJECTS, k8s_object("broken", configmap("broken"), providerConfigRef={"name": "broken"}))
    obj = await env.wait_condition("broken", "Synced", "False", "ReconcileError")
    assert condition(obj, "Synced")["message"] == f"connect failed: {message}"
    assert await env.get(CONFIGMAPS, "broken", "default") is None


async def test_unreachable_cluster_and_missing_config_are_reported(env: Env, remote: RemoteCluster) -> None:
    port = free_port()  # nothing listens there
    unreachable = remote.kubeconfig().replace(remote.url, f"https://127.0.0.1:{port}")
    await env.kubeconfig_config("offline", unreachable)
    await env.client.create(OBJECTS, k8s_object("offline", configmap("offline"), providerConfigRef={"name": "offline"}))
    obj = await env.wait_condition("offline", "Synced", "False", "ReconcileError")
    message = condition(obj, "Synced")["message"]
    assert message.startswith(f"connect failed: cannot reach the cluster of ProviderConfig 'offline' at "
                              f"https://127.0.0.1:{port}: ") and message.endswith("All connection attempts failed")

    await env.client.create(OBJECTS, k8s_object("orphaned", configmap("orphaned"),
                                                providerConfigRef={"name": "missing"}))
    obj = await env.wait_condition("orphaned", "Synced", "False", "ReconcileError")
    assert condition(obj, "Synced")["message"] == (
        "connect failed: cannot get ProviderConfig 'missing': "
        'providerconfigs.kubernetes.crossplane.io "missing" not found')

    await env.client.create(PROVIDER_CONFIGS, {
        "apiVersion": "kubernetes.crossplane.io/v1alpha1", "kind": "ProviderConfig", "metadata": {"name": "nokey"},
        "spec": {"credentials": {"source": "Secret", "secretRef": {"name": "offline-kubeconfig",
                                                                   "namespace": "default", "key": "config"}}}})
    await env.client.create(OBJECTS, k8s_object("nokey", configmap("nokey"), providerConfigRef={"name": "nokey"}))
    obj = await env.wait_condition("nokey", "Synced", "False", "ReconcileError")
    assert condition(obj, "Synced")["message"] == (
        "connect failed: cannot get credentials: secret default/offline-kubeconfig has no key 'config'")

    await env.client.create(PROVIDER_CONFIGS, {
        "apiVersion": "kubernetes.crossplane.io/v1alpha1", "kind": "ProviderConfig", "metadata": {"name": "none"},
        "spec": {"credentials": {"source": "None"}}})
    await env.client.create(OBJECTS, k8s_object("none", configmap("none"), providerConfigRef={"name": "none"}))
    obj = await env.wait_condition("none", "Synced", "False", "ReconcileError")
    assert condition(obj, "Synced")["message"] == (
        "connect failed: ProviderConfig 'none': credentials source 'None' is not supported "
        "(use InjectedIdentity, Secret, Environment or Filesystem)")


# ---- spec.watch


@pytest.fixture
async def slow_env(tmp_path: Path) -> AsyncIterator[Env]:
    """Polls every minute: anything seen sooner came from a watch."""
    async for running in start_env(tmp_path, KubernetesProvider(poll_interval=60, unready_poll=60,
                                                                backoff_base=0.05, trust_env=False)):
        yield running


async def test_watched_objects_react_to_changes_without_polling(slow_env: Env) -> None:
    env = slow_env
    await env.injected_config()
    await env.client.create(CONFIGMAPS, configmap("palette", {"color": "red"}), "default")
    refs = [{"patchesFrom": {"apiVersion": "v1", "kind": "ConfigMap", "name": "palette", "namespace": "default",
                             "fieldPath": "data.color"}}]
    await env.client.create(OBJECTS, k8s_object("watched", configmap("painted"), references=refs, watch=True))
    await env.client.create(OBJECTS, k8s_object("polled", configmap("painted-later"), references=refs))
    await env.wait_condition("watched", "Ready", "True")
    await env.wait_condition("polled", "Ready", "True")
    await asyncio.sleep(0.5)  # the reconciles that follow their own status writes are over
    await env.client.patch(CONFIGMAPS, "palette", {"data": {"color": "blue"}}, "default")
    await env.wait(CONFIGMAPS, "painted", "default", lambda c: c["data"] == {"color": "blue"}, "the watched update",
                   timeout=5)
    # Its own target is watched too: an edit is reverted at once.
    await env.client.patch(CONFIGMAPS, "painted", {"data": {"color": "pink"}}, "default")
    await env.wait(CONFIGMAPS, "painted", "default", lambda c: c["data"] == {"color": "blue"}, "the edit reverted",
                   timeout=5)
    # The Object without watch waits for its next poll.
    assert (await env.get(CONFIGMAPS, "painted-later", "default") or {})["data"] == {"color": "red"}

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "watched-pod", "namespace": "default"},
           "spec": {"containers": [{"name": "w", "image": "busybox:1.36"}]}}
    await env.client.create(OBJECTS, k8s_object("pod", pod, readiness={"policy": "DeriveFromObject"}, watch=True))
    await env.wait_condition("pod", "Ready", "True", timeout=10)


# ---- compositions


APP_XRD: dict[str, Any] = yaml.safe_load("""
apiVersion: apiextensions.crossplane.io/v1
kind: CompositeResourceDefinition
metadata:
  name: xappconfigs.platform.example.org
spec:
  group: platform.example.org
  names: {kind: XAppConfig, plural: xappconfigs}
  claimNames: {kind: AppConfig, plural: appconfigs}
  connectionSecretKeys: [color]
  versions:
  - name: v1alpha1
    served: true
    referenceable: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              parameters:
                type: object
                properties:
                  color: {type: string}
                required: [color]
""")

APP_COMPOSITION: dict[str, Any] = yaml.safe_load("""
apiVersion: apiextensions.crossplane.io/v1
kind: Composition
metadata:
  name: app-config-object
spec:
  compositeTypeRef: {apiVersion: platform.example.org/v1alpha1, kind: XAppConfig}
  resources:
  - name: settings
    base:
      apiVersion: kubernetes.crossplane.io/v1alpha2
      kind: Object
      spec:
        readiness: {policy: SuccessfulCreate}
        forProvider:
          manifest:
            apiVersion: v1
            kind: ConfigMap
            metadata: {namespace: default}
        connectionDetails:
        - {apiVersion: v1, kind: ConfigMap, namespace: default, fieldPath: data.color, toConnectionSecretKey: color}
        writeConnectionSecretToRef: {namespace: default}
    patches:
    - fromFieldPath: spec.parameters.color
      toFieldPath: spec.forProvider.manifest.data.color
    - fromFieldPath: metadata.labels[crossplane.io/claim-name]
      toFieldPath: spec.forProvider.manifest.metadata.name
      transforms: [{type: string, string: {type: Format, fmt: "%s-settings"}}]
    - fromFieldPath: metadata.labels[crossplane.io/claim-name]
      toFieldPath: spec.connectionDetails[0].name
      transforms: [{type: string, string: {type: Format, fmt: "%s-settings"}}]
    - fromFieldPath: metadata.uid
      toFieldPath: spec.writeConnectionSecretToRef.name
      transforms: [{type: string, string: {type: Format, fmt: "%s-object"}}]
    connectionDetails:
    - {name: color, type: FromFieldPath, fromFieldPath: status.atProvider.manifest.data.color}
""")
APP_CLAIMS = ResourceRef("platform.example.org", "v1alpha1", "appconfigs", "AppConfig")


async def test_a_claim_composes_an_object(env: Env) -> None:
    await env.injected_config()
    await env.client.create(XRDS, copy.deepcopy(APP_XRD))
    await env.client.create(COMPOSITIONS, copy.deepcopy(APP_COMPOSITION))
    await env.wait(XRDS, "xappconfigs.platform.example.org", None,
                   lambda x: condition(x, "Offered").get("status") == "True", "the XRD offered")
    claim = {"apiVersion": "platform.example.org/v1alpha1", "kind": "AppConfig",
             "metadata": {"name": "shop", "namespace": "default"},
             "spec": {"parameters": {"color": "teal"}, "writeConnectionSecretToRef": {"name": "shop-conn"}}}
    await env.client.create(APP_CLAIMS, claim, "default")
    ready = await env.wait(APP_CLAIMS, "shop", "default",
                           lambda c: condition(c, "Ready").get("status") == "True", "the claim Ready", timeout=20)
    assert condition(ready, "Synced")["status"] == "True"
    cm = await env.get(CONFIGMAPS, "shop-settings", "default")
    assert cm is not None and cm["data"] == {"color": "teal"}
    objects = (await env.client.list(OBJECTS)).items
    assert len(objects) == 1 and condition(objects[0], "Ready")["status"] == "True"
    assert objects[0]["metadata"]["labels"]["crossplane.io/claim-name"] == "shop"
    await eventually(lambda: env.secret("shop-conn"), 10, "the claim's connection secret")
    assert await env.secret("shop-conn") == {"color": "teal"}
    xr_uid = objects[0]["metadata"]["ownerReferences"][0]["uid"]
    assert await env.secret(f"{xr_uid}-object") == {"color": "teal"}  # the Object's own connection secret

    await env.client.patch(APP_CLAIMS, "shop", {"spec": {"parameters": {"color": "plum"}}}, "default")
    await env.wait(CONFIGMAPS, "shop-settings", "default", lambda c: c["data"] == {"color": "plum"},
                   "the ConfigMap to follow the claim")

    await env.client.delete(APP_CLAIMS, "shop", "default")
    await env.wait_gone(APP_CLAIMS, "shop", "default", timeout=15)
    await env.wait_gone(OBJECTS, objects[0]["metadata"]["name"], timeout=15)
    assert await env.get(CONFIGMAPS, "shop-settings", "default") is None


# ---- more lifecycle


async def test_a_deleted_target_is_recreated(env: Env) -> None:
    await env.injected_config()
    await env.client.create(OBJECTS, k8s_object("phoenix", configmap("phoenix", {"v": "1"})))
    await env.wait_condition("phoenix", "Ready", "True")
    first = await env.get(CONFIGMAPS, "phoenix", "default")
    await env.client.delete(CONFIGMAPS, "phoenix", "default")
    again = await env.wait(CONFIGMAPS, "phoenix", "default",
                           lambda c: c["metadata"]["uid"] != (first or {})["metadata"]["uid"], "the ConfigMap back")
    assert again["data"] == {"v": "1"}


async def test_filesystem_kubeconfig(env: Env, remote: RemoteCluster, tmp_path: Path) -> None:
    path = tmp_path / "fs.kubeconfig"
    path.write_text(remote.kubeconfig())
    await env.client.create(PROVIDER_CONFIGS, {
        "apiVersion": "kubernetes.crossplane.io/v1alpha1", "kind": "ProviderConfig", "metadata": {"name": "fs"},
        "spec": {"credentials": {"source": "Filesystem", "fs": {"path": str(path)}}}})
    await env.client.create(OBJECTS, k8s_object("from-file", configmap("from-file"), providerConfigRef={"name": "fs"}))
    await env.wait_condition("from-file", "Ready", "True")
    assert (await remote.client.get(CONFIGMAPS, "from-file", "default"))["metadata"]["name"] == "from-file"


# ---- pieces without a server


@pytest.mark.parametrize(("policy", "observed", "expected"), [
    ("SuccessfulCreate", None, (True, "")),
    ("DeriveFromObject", {"kind": "Pod", "metadata": {"name": "p"},
                          "status": {"conditions": [{"type": "Ready", "status": "True"}]}}, (True, "")),
    ("DeriveFromObject", {"kind": "Pod", "metadata": {"name": "p"},
                          "status": {"conditions": [{"type": "Ready", "status": "False"}]}},
     (False, "Pod p is not ready: Ready is False")),
    ("AllTrue", {"kind": "Deployment", "metadata": {"name": "d"}}, (False, "Deployment d has no conditions")),
    ("AllTrue", {"kind": "Deployment", "metadata": {"name": "d"}, "status": {"conditions": [
        {"type": "Available", "status": "True"}, {"type": "Progressing", "status": "Unknown"}]}},
     (False, "Deployment d has conditions that are not True: Progressing")),
    ("AllTrue", {"status": {"conditions": [{"type": "A", "status": "True"}]}}, (True, "")),
    ("DeriveFromCelQuery", {}, (False, "readiness policy 'DeriveFromCelQuery' is not supported "
                                       "(use SuccessfulCreate, DeriveFromObject or AllTrue)")),
])
def test_readiness_policies(policy: str, observed: dict[str, Any] | None, expected: tuple[bool, str]) -> None:
    assert readiness(policy, observed) == expected


def test_merge_diff_removes_what_is_gone() -> None:
    old = {"manifest": {"data": {"a": "1", "b": "2"}, "metadata": {"name": "x", "labels": {"l": "1"}}}}
    new = {"manifest": {"data": {"a": "1", "c": "3"}, "metadata": {"name": "x"}, "spec": {"list": [1]}}}
    assert merge_diff(old, new) == {"manifest": {"data": {"b": None, "c": "3"}, "metadata": {"labels": None},
                                                 "spec": {"list": [1]}}}
    assert merge_diff(new, new) == {}


async def test_an_object_never_deletes_what_it_did_not_create_or_adopt(env: Env) -> None:
    await env.injected_config()
    await env.client.create(CONFIGMAPS, configmap("precious", {"keep": "me"}), "default")
    await env.client.create(OBJECTS, k8s_object("looker", configmap("precious"), managementPolicies=["Observe"]))
    obj = await env.wait_condition("looker", "Ready", "True")
    assert "finalizer.managedresource.crossplane.io" in obj["metadata"]["finalizers"]
    # Given full control later, it is refused (no external-name), and deleting it must not take the ConfigMap.
    await env.client.patch(OBJECTS, "looker", {"spec": {"managementPolicies": ["*"]}})
    await env.wait_condition("looker", "Synced", "False", "ReconcileError")
    await env.client.delete(OBJECTS, "looker")
    await env.wait_gone(OBJECTS, "looker")
    assert (await env.get(CONFIGMAPS, "precious", "default") or {}).get("data") == {"keep": "me"}
