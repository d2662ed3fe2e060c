"""GitOps semantics (Argo CD compatible) on top of the API server."""
