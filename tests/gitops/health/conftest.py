from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parent / "fixtures"

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeYamlLoader(_Base):  # type: ignore[misc,valid-type]
    """Timestamps stay strings, as in objects read from the API server."""


KubeYamlLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _Base.yaml_implicit_resolvers.items()
}


def load_fixture(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=KubeYamlLoader)
