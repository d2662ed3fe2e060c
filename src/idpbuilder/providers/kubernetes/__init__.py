"""provider-kubernetes: `Object` managed resources (`kubernetes.crossplane.io`) holding any Kubernetes manifest."""

from .component import KubernetesProvider

__all__ = ["KubernetesProvider"]
