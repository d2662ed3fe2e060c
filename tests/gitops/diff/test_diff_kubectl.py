"""The diff's prediction checked against reality: the real `kubectl apply` (client side) on `idp up`.

For each case the first manifest is applied, the diff predicts what applying the second one will
do to the live object, then the second manifest is applied and the prediction must match the live
object exactly (both normalised), and the new live object must show no drift.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from typing import Any

import pytest
import yaml

from idpbuilder.gitops.diff import diff

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("kubectl_available")]

WIDGET_CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: gadgets.diff.example.com
    spec:
      group: diff.example.com
      scope: Namespaced
      names: {plural: gadgets, singular: gadget, kind: Gadget}
      versions:
      - name: v1
        served: true
        storage: true
        subresources: {status: {}}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                properties:
                  size: {type: string}
                  color: {type: string}
                  replicas: {type: integer, default: 1}
                  tags: {type: array, items: {type: string}}
    """)

DEPLOY_V1 = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web, tier: front}}
spec:
  replicas: 2
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.25
        env: [{name: DEBUG, value: "1"}, {name: MODE, value: a}]
        resources: {limits: {cpu: 0.5}}
      - name: sidecar
        image: envoy:1
"""

DEPLOY_V2 = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 3
  strategy: {type: Recreate}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.26
        env: [{name: MODE, value: b}]
        ports: [{containerPort: 8080}]
        resources: {limits: {cpu: 500m}}
"""

CASES = [
    pytest.param(DEPLOY_V1, DEPLOY_V2, id="deployment"),
    pytest.param("""
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1", b: "2"}
""", """
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, annotations: {note: x}}
data: {a: "9", c: "3"}
""", id="configmap"),
    pytest.param("""
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web, tier: front}
  ports: [{name: http, port: 80}, {name: metrics, port: 9090}]
""", """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
""", id="service"),
    pytest.param("""
apiVersion: diff.example.com/v1
kind: Gadget
metadata: {name: g}
spec: {size: small, color: red, tags: [a, b]}
""", """
apiVersion: diff.example.com/v1
kind: Gadget
metadata: {name: g}
spec: {size: large, tags: [b]}
""", id="custom-resource"),
]


def _get(platform: Any, ns: str, manifest: str) -> dict[str, Any]:
    out = json.loads(platform.kubectl("get", "-n", ns, "-f", "-", "-o", "json", input=manifest).stdout)
    return out["items"][0] if out.get("kind") == "List" else out


def _without_controller_marks(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The deployment controller bumps its revision annotation after an apply; that is not the apply's doing."""
    if obj is None:
        return None
    annotations = obj["metadata"].get("annotations", {})
    annotations.pop("deployment.kubernetes.io/revision", None)
    if not annotations:
        obj["metadata"].pop("annotations", None)
    return obj


@pytest.fixture(scope="module")
def crd_installed(platform: Any) -> None:
    platform.kubectl("apply", "-f", "-", input=WIDGET_CRD)
    platform.kubectl("wait", "--for=condition=Established", "crd/gadgets.diff.example.com", "--timeout=30s")


@pytest.mark.parametrize(("first", "second"), CASES)
def test_prediction_matches_kubectl_apply(platform: Any, crd_installed: None, first: str, second: str) -> None:
    ns = f"diff-{uuid.uuid4().hex[:8]}"
    platform.kubectl("create", "namespace", ns)
    platform.kubectl("apply", "-n", ns, "-f", "-", input=first)
    before = _get(platform, ns, first)
    desired = yaml.safe_load(second)
    desired["metadata"]["namespace"] = ns

    prediction = diff(desired, before)
    assert prediction.modified
    print(prediction.unified_text)

    platform.kubectl("apply", "-n", ns, "-f", "-", input=second)
    after = _get(platform, ns, second)
    settled = diff(desired, after)
    assert not settled.modified, settled.unified_text
    assert _without_controller_marks(prediction.predicted_live) == _without_controller_marks(settled.normalized_live)

    unchanged = yaml.safe_load(first)
    unchanged["metadata"]["namespace"] = ns
    assert not diff(unchanged, before).modified
