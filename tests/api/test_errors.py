"""Rejected requests: every error is a Status with the upstream code and reason, and writes nothing."""

from __future__ import annotations

import orjson

from .conftest import WIDGETS, Api, client_for, configmap, widget

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


async def assert_no_widgets(api: Api) -> None:
    assert await api.names(WIDGETS) == []


async def test_crd_schema_violations_are_invalid_with_field_causes(api: Api) -> None:
    await api.widget_crd()
    rv_before = api.server.store.rv
    r = await api.client.post(WIDGETS, json=widget("w1", "huge", replicas=-1, color="RED"))
    assert r.status_code == 422, r.text
    status = r.json()
    assert status["kind"] == "Status" and status["reason"] == "Invalid"
    assert status["details"]["name"] == "w1" and status["details"]["kind"] == "Widget"
    assert status["details"]["group"] == "example.com"
    by_field = {c["field"]: c for c in status["details"]["causes"]}
    assert set(by_field) == {"spec.size", "spec.replicas", "spec.color"}
    assert by_field["spec.size"]["reason"] == "FieldValueNotSupported"
    assert 'Unsupported value: "huge"' in by_field["spec.size"]["message"]
    assert "greater than or equal to 0" in by_field["spec.replicas"]["message"]
    assert status["message"].startswith('Widget.example.com "w1" is invalid: [')
    await assert_no_widgets(api)
    assert api.server.store.rv == rv_before

    r = await api.client.post(WIDGETS, json={"apiVersion": "example.com/v1", "kind": "Widget",
                                             "metadata": {"name": "w2"}, "spec": {}})
    assert r.status_code == 422
    causes = r.json()["details"]["causes"]
    assert causes == [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.size"}]
    await assert_no_widgets(api)


async def test_schema_violation_on_update_keeps_the_stored_object(api: Api) -> None:
    await api.widget_crd()
    created = await api.create(WIDGETS, widget("w1"))
    r = await api.client.put(f"{WIDGETS}/w1", json={**created, "spec": {"size": 7}})
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "spec.size"
    r = await api.client.patch(f"{WIDGETS}/w1", json={"spec": {"replicas": "many"}},
                               headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "spec.replicas"
    got = await api.get(f"{WIDGETS}/w1")
    assert got["spec"] == created["spec"]
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_builtin_validation_is_invalid(api: Api) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    r = await api.client.post("/apis/apps/v1/namespaces/default/deployments", json=dep)
    assert r.status_code == 422, r.text
    assert "spec.replicas" in [c["field"] for c in r.json()["details"]["causes"]]
    assert await api.names("/apis/apps/v1/namespaces/default/deployments") == []


async def test_names_must_be_dns1123(api: Api) -> None:
    for bad in ("Upper", "under_score", "-lead", "a" * 254):
        r = await api.client.post(CONFIGMAPS, json=configmap(bad))
        assert r.status_code == 422, (bad, r.text)
        cause = r.json()["details"]["causes"][0]
        assert cause["field"] == "metadata.name"
        assert "RFC 1123 subdomain" in cause["message"] or "no more than 253" in cause["message"]
    # Namespaces are labels: dots are not allowed.
    r = await api.client.post("/api/v1/namespaces", json={"metadata": {"name": "a.b"}})
    assert r.status_code == 422
    assert "RFC 1123 label" in r.json()["details"]["causes"][0]["message"]
    assert await api.get("/api/v1/namespaces/a.b") is None
    r = await api.client.post(CONFIGMAPS, json={"metadata": {}})
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["reason"] == "FieldValueRequired"
    assert await api.names(CONFIGMAPS) == []


async def test_malformed_bodies_are_bad_request(api: Api) -> None:
    for content, ctype in ((b'{"metadata": {"name": "x"', "application/json"),
                           (b"metadata: [name: x\n  - :", "application/yaml"),
                           (b"", "application/json")):
        r = await api.client.post(CONFIGMAPS, content=content, headers={"Content-Type": ctype})
        assert r.status_code == 400, (content, r.text)
        assert r.json()["kind"] == "Status" and r.json()["reason"] == "BadRequest"
    r = await api.client.post(CONFIGMAPS, content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = await api.client.post(CONFIGMAPS, content=b"<xml/>", headers={"Content-Type": "application/xml"})
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    created = await api.create(CONFIGMAPS, configmap("cm", a="1"))
    r = await api.client.put(f"{CONFIGMAPS}/cm", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = await api.client.patch(f"{CONFIGMAPS}/cm", content=b"{nope",
                               headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 400
    assert await api.names(CONFIGMAPS) == ["cm"]
    got = await api.get(f"{CONFIGMAPS}/cm")
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_wrong_kind_or_namespace_in_body_is_bad_request(api: Api) -> None:
    r = await api.client.post(CONFIGMAPS, json={**configmap("cm"), "kind": "Secret"})
    assert r.status_code == 400
    r = await api.client.post(CONFIGMAPS, json={**configmap("cm"), "metadata": {"name": "cm", "namespace": "x"}})
    assert r.status_code == 400
    assert await api.names(CONFIGMAPS) == []


async def test_body_over_3_mib_is_request_entity_too_large(api: Api) -> None:
    big = orjson.dumps(configmap("big", blob="x" * (3 * 1024 * 1024)))
    r = await api.client.post(CONFIGMAPS, content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["reason"] == "RequestEntityTooLarge"
    assert r.json()["message"] == "Request entity too large: limit is 3145728"

    async def chunks():  # no Content-Length: the limit is enforced while reading
        for i in range(0, len(big), 1 << 20):
            yield big[i:i + (1 << 20)]

    r = await api.client.post(CONFIGMAPS, content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert await api.names(CONFIGMAPS) == []


async def test_unauthenticated_is_401(api: Api) -> None:
    for token in (None, "not-a-token"):
        async with client_for(api.server, token) as anon:
            r = await anon.post(CONFIGMAPS, json=configmap("cm"))
            assert r.status_code == 401
            assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
            assert (await anon.get(CONFIGMAPS)).status_code == 401
            assert (await anon.get("/readyz")).status_code == 200 if token is None else True
    assert await api.names(CONFIGMAPS) == []


async def test_service_account_without_rbac_is_forbidden(api: Api) -> None:
    sa = await api.create("/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "robot"}})
    await api.create(CONFIGMAPS, configmap("existing", a="1"))
    token, _ = api.server.tokens.issue_service_account_token("default", "robot", sa["metadata"]["uid"],
                                                             audiences=None, expiration_seconds=None)
    user = "system:serviceaccount:default:robot"
    async with client_for(api.server, token) as robot:
        r = await robot.post(CONFIGMAPS, json=configmap("cm"))
        assert r.status_code == 403
        status = r.json()
        assert status["reason"] == "Forbidden" and status["code"] == 403
        assert status["message"] == (f'configmaps is forbidden: User "{user}" cannot create resource "configmaps" '
                                     'in API group "" in the namespace "default"')
        assert status["details"] == {"kind": "configmaps"}

        r = await robot.delete(f"{CONFIGMAPS}/existing")
        assert r.status_code == 403
        assert r.json()["message"].startswith(f'configmaps "existing" is forbidden: User "{user}" cannot delete')
        assert r.json()["details"]["name"] == "existing"

        r = await robot.get("/apis/apps/v1/deployments")
        assert r.status_code == 403
        assert r.json()["message"] == (f'deployments.apps is forbidden: User "{user}" cannot list resource '
                                       '"deployments" in API group "apps" at the cluster scope')
    assert await api.names(CONFIGMAPS) == ["existing"]

    # Granting the verb through RBAC lets the same token through.
    await api.create("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", {
        "metadata": {"name": "cm-writer"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]})
    await api.create("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", {
        "metadata": {"name": "robot-cm"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-writer"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}]})
    async with client_for(api.server, token) as robot:
        assert (await robot.post(CONFIGMAPS, json=configmap("cm"))).status_code == 201
        assert (await robot.delete(f"{CONFIGMAPS}/existing")).status_code == 403
