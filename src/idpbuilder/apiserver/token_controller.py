"""Fills Secrets of type `kubernetes.io/service-account-token` with a token for their service account,
as upstream's token controller does (`token`, `ca.crt`, `namespace`, and the account's uid annotation)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import logging
from typing import Any

from ..core.errors import ApiError
from ..core.resources import ResourceType
from .authn import TokenAuthority
from .service import ApiService, RequestContext

log = logging.getLogger(__name__)

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME = "kubernetes.io/service-account.name"
SA_UID = "kubernetes.io/service-account.uid"
SECRETS_GR = ("", "secrets")
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"


class ServiceAccountTokenController:
    def __init__(self, service: ApiService, tokens: TokenAuthority, ca_pem: bytes) -> None:
        self.service = service
        self.tokens = tokens
        self.ca_pem = ca_pem
        self.ctx = RequestContext(field_manager="idp-token-controller")
        service.after_write.setdefault(SECRETS_GR, []).append(self._observe)
        service.after_write.setdefault(("", "serviceaccounts"), []).append(self._observe_account)
        service.after_write.setdefault(("", "namespaces"), []).append(self._observe_namespace)

    def _observe_namespace(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None,
                           deleted: bool) -> None:
        if old is None and not deleted and self.ca_pem:
            asyncio.get_running_loop().call_soon(self.publish_root_ca, obj["metadata"]["name"])

    def publish_root_ca(self, namespace: str) -> None:
        """Every namespace gets `kube-root-ca.crt` so in-cluster clients can verify the API server."""
        store = self.service.store
        ns = store.get(("", "namespaces"), "", namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        if store.get_entry(("", "configmaps"), namespace, ROOT_CA_CONFIGMAP) is not None:
            return
        rt = self.service.registry.get("", "v1", "configmaps")
        assert rt is not None
        try:
            self.service.create(rt, namespace, {"metadata": {"name": ROOT_CA_CONFIGMAP, "annotations": {
                "kubernetes.io/description": "Contains a CA bundle that can be used to verify the "
                "kube-apiserver when using internal endpoints such as the internal service IP or "
                "kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "
                "clusters."}}, "data": {"ca.crt": self.ca_pem.decode()}}, self.ctx)
        except ApiError as exc:
            if exc.code != 409:  # created meanwhile: fine
                log.warning("could not publish %s in %s: %s", ROOT_CA_CONFIGMAP, namespace, exc.message)

    def _observe(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, deleted: bool) -> None:
        if deleted or obj.get("type") != SA_TOKEN_TYPE or (obj.get("data") or {}).get("token"):
            return
        meta = obj["metadata"]
        asyncio.get_running_loop().call_soon(self.fill, meta.get("namespace", ""), meta["name"])

    def _observe_account(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None,
                         deleted: bool) -> None:
        if not deleted:
            return
        # Upstream deletes an account's token Secrets with the account.
        namespace, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
        for (ns, secret_name), entry in list(self.service.store.entries(SECRETS_GR, namespace)):
            secret = entry.obj()
            if secret.get("type") == SA_TOKEN_TYPE and \
                    (secret["metadata"].get("annotations") or {}).get(SA_NAME) == name:
                asyncio.get_running_loop().call_soon(self._delete, ns, secret_name)

    def _delete(self, namespace: str, name: str) -> None:
        from .service import DeleteOptions

        rt = self.service.registry.get("", "v1", "secrets")
        assert rt is not None
        with contextlib.suppress(ApiError):
            self.service.delete(rt, namespace, name, DeleteOptions(), self.ctx)

    def fill(self, namespace: str, name: str) -> None:
        store = self.service.store
        secret = store.get(SECRETS_GR, namespace, name)
        if secret is None or secret.get("type") != SA_TOKEN_TYPE or (secret.get("data") or {}).get("token"):
            return
        annotations = secret["metadata"].get("annotations") or {}
        account = store.get(("", "serviceaccounts"), namespace, annotations.get(SA_NAME, ""))
        if account is None or (annotations.get(SA_UID) and annotations[SA_UID] != account["metadata"]["uid"]):
            return  # upstream leaves it empty; it never becomes a credential
        token = self.tokens.issue_legacy_secret_token(namespace, account["metadata"]["name"],
                                                      account["metadata"]["uid"], name)
        updated = copy.deepcopy(secret)
        updated["metadata"].setdefault("annotations", {})[SA_UID] = account["metadata"]["uid"]
        data = updated.setdefault("data", {})
        data["token"] = base64.b64encode(token.encode()).decode()
        data["ca.crt"] = base64.b64encode(self.ca_pem).decode()
        data["namespace"] = base64.b64encode(namespace.encode()).decode()
        rt = self.service.registry.get("", "v1", "secrets")
        assert rt is not None
        with contextlib.suppress(ApiError):
            self.service._replace(rt, secret, updated, self.ctx, manager_default="idp-token-controller")
