from __future__ import annotations

import pytest

from idpbuilder.apiserver.requestinfo import parse_bool, parse_request
from idpbuilder.core.errors import ApiError
from idpbuilder.core.selectors import (
    parse_field_selector,
    parse_label_selector,
    selector_from_label_selector,
)


@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    ("GET", "/api/v1/namespaces/default/pods", {}, ("list", "", "v1", "default", "pods", "", "")),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "True"}, ("watch", "", "v1", "default", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/default/pods/p1", {}, ("watch", "", "v1", "default", "pods", "p1", "")),
    ("GET", "/api/v1/namespaces/ns1", {}, ("get", "", "v1", "ns1", "namespaces", "ns1", "")),
    ("PUT", "/api/v1/namespaces/ns1/finalize", {}, ("update", "", "v1", "ns1", "namespaces", "ns1", "finalize")),
    ("GET", "/apis/apps/v1/namespaces/a/deployments/web/scale", {},
     ("get", "apps", "v1", "a", "deployments", "web", "scale")),
    ("DELETE", "/api/v1/namespaces/a/configmaps", {}, ("deletecollection", "", "v1", "a", "configmaps", "", "")),
    ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {},
     ("create", "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", "")),
    ("GET", "/api/v1/pods", {}, ("list", "", "v1", "", "pods", "", "")),
])
def test_request_info(method, path, query, expected):
    info = parse_request(method, path, query)
    assert info.resource_request
    assert (info.verb, info.api_group, info.api_version, info.namespace, info.resource, info.name,
            info.subresource) == expected


@pytest.mark.parametrize("path", ["/api", "/apis", "/apis/apps", "/apis/apps/v1", "/api/v1", "/version",
                                  "/openapi/v3"])
def test_non_resource_paths(path):
    assert not parse_request("GET", path, {}).resource_request


def test_go_style_booleans():
    assert all(parse_bool(v) for v in ("1", "t", "T", "TRUE", "true", "True"))
    assert not any(parse_bool(v) for v in ("yes", "0", "false", "", None))


@pytest.mark.parametrize(("selector", "labels", "matches"), [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "web"}, True),
    ("app!=web", {"app": "db"}, True),
    ("app!=web", {}, True),
    ("app in (web, db)", {"app": "db"}, True),
    ("app notin (web,db)", {"app": "db"}, False),
    ("app", {"app": ""}, True),
    ("!app", {"app": "x"}, False),
    ("app=web,tier in (fe)", {"app": "web", "tier": "fe"}, True),
    ("app=web,tier in (fe)", {"app": "web", "tier": "be"}, False),
    ("example.com/team=a", {"example.com/team": "a"}, True),
])
def test_label_selectors(selector, labels, matches):
    assert parse_label_selector(selector).matches(labels) is matches


@pytest.mark.parametrize("bad", ["app=-bad-", "a b=c", "app in (x", "=v"])
def test_bad_label_selector_is_bad_request(bad):
    with pytest.raises(ApiError) as err:
        parse_label_selector(bad)
    assert err.value.code == 400


def test_label_selector_object_form():
    sel = selector_from_label_selector({"matchLabels": {"app": "web"},
                                        "matchExpressions": [{"key": "tier", "operator": "NotIn",
                                                              "values": ["db"]}]})
    assert sel.matches({"app": "web", "tier": "fe"})
    assert not sel.matches({"app": "web", "tier": "db"})


def test_field_selectors_and_unsupported_fields():
    allowed = {"metadata.name", "involvedObject.name"}
    sel = parse_field_selector("metadata.name=a,involvedObject.name!=b", allowed.__contains__)
    assert sel.matches({"metadata": {"name": "a"}, "involvedObject": {"name": "c"}})
    assert not sel.matches({"metadata": {"name": "a"}, "involvedObject": {"name": "b"}})
    with pytest.raises(ApiError) as err:
        parse_field_selector("spec.foo=x", allowed.__contains__)
    assert err.value.code == 400 and "field label not supported: spec.foo" in err.value.message
