"""Controllers of the compose engine: XRDs, composite resources (XRs) and claims."""
