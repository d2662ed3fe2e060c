"""`kubernetes:apply`: server-side apply of one object (a claim, say) as the task's user.

The platform is the cluster, so `clusterName` is accepted and ignored. `namespaced` says whether the
object lives in a namespace; it must agree with what the API serves for the kind, and a namespaced
object without `metadata.namespace` goes to `default`.
"""

from __future__ import annotations

from typing import Any

import yaml

from ....core.errors import ApiError
from .base import ActionContext, ActionError

FIELD_MANAGER = "idpbuilder-scaffolder"
# Set by the server: dropped so that an object read back from the API (a previous step's output) applies.
_SERVER_SET = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation")


class KubernetesApplyAction:
    id = "kubernetes:apply"
    description = "Applies a Kubernetes manifest (server-side apply) as the user who runs the template."
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["manifest"],
        "properties": {
            "manifest": {"title": "Manifest", "description": "One object, as YAML text or as an object",
                         "type": ["string", "object"]},
            "namespaced": {"title": "Namespaced", "type": "boolean", "default": True,
                           "description": "Whether the object lives in a namespace"},
            "clusterName": {"title": "Cluster name", "type": "string",
                            "description": "Ignored: the platform applies to itself"},
        },
    }
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "name": {"type": "string"}, "namespace": {"type": "string"}, "uid": {"type": "string"}},
    }
    examples = [{"description": "Create a database claim",
                 "example": "steps:\n  - action: kubernetes:apply\n    id: claim\n"
                            "    name: Claim a database\n    input:\n      namespaced: true\n      manifest:\n"
                            "        apiVersion: platform.example.org/v1alpha1\n"
                            "        kind: PostgreSQLInstance\n        metadata:\n"
                            "          name: ${{ parameters.name }}-db\n"
                            "          namespace: ${{ parameters.name }}\n"
                            "        spec:\n          storageGB: 5\n"}]
    supports_dry_run = False

    async def handler(self, ctx: ActionContext) -> None:
        obj = parse_manifest(ctx.input.get("manifest"))
        namespaced = ctx.input.get("namespaced", True)
        client = ctx.services.client
        if client is None:
            raise ActionError("kubernetes:apply needs the platform API, which is not available here")
        api_version, kind = obj["apiVersion"], obj["kind"]
        try:
            res = await client.resource_for(api_version, kind)
        except ApiError as exc:
            raise ActionError(exc.message) from None
        if bool(namespaced) != res.namespaced:
            scope = "namespaced" if res.namespaced else "cluster-scoped"
            wanted = str(res.namespaced).lower()
            raise ActionError(f"{kind} ({api_version}) is {scope}: set namespaced: {wanted}")
        metadata = obj["metadata"]
        namespace = None
        if res.namespaced:
            namespace = metadata.get("namespace") or "default"
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        try:
            applied = await client.apply(res, obj, namespace, field_manager=FIELD_MANAGER)
        except ApiError as exc:
            raise ActionError(f"Could not apply {kind} {metadata['name']}: {exc.message}") from None
        where = f" in namespace {namespace}" if namespace else ""
        ctx.logger(f"Applied {kind} {metadata['name']}{where}")
        ctx.output("apiVersion", api_version)
        ctx.output("kind", kind)
        ctx.output("name", metadata["name"])
        if namespace:
            ctx.output("namespace", namespace)
        ctx.output("uid", (applied.get("metadata") or {}).get("uid", ""))


def parse_manifest(manifest: Any) -> dict[str, Any]:
    """The one object `manifest` (YAML text or a mapping) holds, with apiVersion, kind and metadata.name
    (and without the metadata only the server sets)."""
    if isinstance(manifest, str):
        try:
            docs = [d for d in yaml.safe_load_all(manifest) if d is not None]
        except yaml.YAMLError as exc:
            raise ActionError(f"manifest is not valid YAML: {exc}") from None
        if len(docs) != 1:
            raise ActionError(f"manifest must hold exactly one object, found {len(docs)}")
        manifest = docs[0]
    if not isinstance(manifest, dict):
        raise ActionError("manifest must be an object or the YAML text of one")
    obj = dict(manifest)
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    obj["metadata"] = {k: v for k, v in metadata.items() if k not in _SERVER_SET}
    for field in ("apiVersion", "kind"):
        if not isinstance(obj.get(field), str) or not obj[field]:
            raise ActionError(f"manifest has no {field}")
    if not isinstance(obj["metadata"].get("name"), str) or not obj["metadata"]["name"]:
        raise ActionError("manifest has no metadata.name")
    return obj
