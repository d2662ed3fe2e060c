"""EnvironmentConfigs: the in-memory environment a Composition's `spec.environment` builds for an XR.

`environmentConfigs` lists sources in order: `type: Reference` names one EnvironmentConfig,
`type: Selector` picks by labels (values from the XR or literal) in `Single` mode (exactly one) or
`Multiple` mode (sorted by `sortByFieldPath`, at least `minMatch`, at most `maxMatch`). The
`defaultData` and then the data of every selected config are merged in that order (maps merged
recursively, later values win) into the environment FromEnvironmentFieldPath patches read.
A referenced config that does not exist fails the XR unless `policy.resolution` is `Optional`.
Errors carry Crossplane's wording (`cannot select environment: ...`, `cannot fetch environment: ...`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from .crds import ENVIRONMENT_CONFIGS
from .fieldpath import ComposeError, NotFoundError, get_value
from .gofmt import go_type, go_v

SOURCE_REFERENCE, SOURCE_SELECTOR = "Reference", "Selector"
MODE_SINGLE, MODE_MULTIPLE = "Single", "Multiple"
MATCH_FROM_COMPOSITE, MATCH_VALUE = "FromCompositeFieldPath", "Value"
RESOLUTION_OPTIONAL = "Optional"
DEFAULT_SORT_PATH = "metadata.name"

_SORTABLE = {str: "string", int: "int64", float: "float64"}


def is_required(env_spec: Mapping[str, Any] | None) -> bool:
    """Whether every selected EnvironmentConfig must exist (`policy.resolution` other than Optional)."""
    return ((env_spec or {}).get("policy") or {}).get("resolution") != RESOLUTION_OPTIONAL


def merge_maps(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """`b` merged over `a`: nested maps merge, anything else in `b` replaces what `a` has."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_maps(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def label_value(matcher: Mapping[str, Any], xr: Mapping[str, Any]) -> str:
    """The value a selector's label matcher asks for; a missing XR field raises `NotFoundError`."""
    mtype = matcher.get("type") or MATCH_FROM_COMPOSITE
    if mtype == MATCH_VALUE:
        if matcher.get("value") is None:
            raise ComposeError(f"value is required by type {MATCH_VALUE}")
        return str(matcher["value"])
    if mtype == MATCH_FROM_COMPOSITE:
        path = matcher.get("valueFromFieldPath")
        if path is None:
            raise ComposeError(f"valueFromFieldPath is required by type {MATCH_FROM_COMPOSITE}")
        return go_v(get_value(dict(xr), str(path)))
    raise ComposeError(f"invalid label matcher type '{mtype}'")


def _labels_wanted(matchers: Sequence[Mapping[str, Any]], xr: Mapping[str, Any]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for i, m in enumerate(matchers):
        try:
            wanted[str(m.get("key", ""))] = label_value(m, xr)
        except NotFoundError as exc:
            if m.get("fromFieldPathPolicy") == RESOLUTION_OPTIONAL:
                continue
            raise exc.wrap(f"failed to resolve value for label at index {i}") from None
        except ComposeError as exc:
            raise exc.wrap(f"failed to resolve value for label at index {i}") from None
    return wanted


def _has_labels(obj: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    have = (obj.get("metadata") or {}).get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


def _sorted(configs: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    keyed: list[tuple[Any, dict[str, Any]]] = []
    kind = ""
    for i, cfg in enumerate(configs):
        value = get_value(cfg, path)
        vkind = _SORTABLE.get(type(value), "")
        if not vkind:
            raise ComposeError(f"unexpected type {go_type(value)}")
        if i == 0:
            kind = vkind
        elif vkind != kind:
            raise ComposeError(f"not matching types, got {go_v(value)} ({go_type(value)}), expected {kind}")
        keyed.append((value, cfg))
    keyed.sort(key=lambda pair: pair[0])
    return [cfg for _, cfg in keyed]


def _select(selector: Mapping[str, Any], xr: Mapping[str, Any], configs: Sequence[dict[str, Any]]) -> list[str]:
    wanted = _labels_wanted(selector.get("matchLabels") or [], xr)
    # no label to match selects nothing, never everything
    found = [c for c in configs if _has_labels(c, wanted)] if wanted else []
    mode = selector.get("mode") or MODE_SINGLE
    if mode == MODE_SINGLE:
        if len(found) != 1:
            raise ComposeError(f"only 1 EnvironmentConfig can be selected in Single mode, found: {len(found)}")
    elif mode == MODE_MULTIPLE:
        min_match, max_match = selector.get("minMatch"), selector.get("maxMatch")
        if isinstance(min_match, int) and len(found) < min_match:
            raise ComposeError(f"expected at least {min_match} EnvironmentConfig(s) with matching labels, "
                               f"found: {len(found)}")
        found = _sorted(sorted(found, key=lambda c: c["metadata"]["name"]),
                        str(selector.get("sortByFieldPath") or DEFAULT_SORT_PATH))
        if isinstance(max_match, int) and len(found) > max_match:
            found = found[:max_match]
    else:
        raise ComposeError(f"unknown mode '{mode}'")
    return [c["metadata"]["name"] for c in found]


def select_configs(xr: Mapping[str, Any], env_spec: Mapping[str, Any] | None,
                   configs: Sequence[dict[str, Any]]) -> list[str]:
    """The names of the EnvironmentConfigs `env_spec` selects for `xr`, in merge order."""
    names: list[str] = []
    try:
        for i, src in enumerate((env_spec or {}).get("environmentConfigs") or []):
            stype = src.get("type") or SOURCE_REFERENCE
            if stype == SOURCE_REFERENCE:
                names.append(str((src.get("ref") or {}).get("name", "")))
            elif stype == SOURCE_SELECTOR:
                try:
                    names += _select(src.get("selector") or {}, xr, configs)
                except ComposeError as exc:
                    raise exc.wrap(f"failed to build reference at index {i}") from None
            else:
                raise ComposeError(f"invalid source type '{stype}'")
    except ComposeError as exc:
        raise ComposeError(f"cannot select environment: {exc.message}") from None
    return names


def fetch_environment(env_spec: Mapping[str, Any] | None, names: Sequence[str],
                      configs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`defaultData` merged with the data of the named configs, in order."""
    by_name = {c["metadata"]["name"]: c for c in configs}
    env = merge_maps({}, (env_spec or {}).get("defaultData") or {})
    for name in names:
        cfg = by_name.get(name)
        if cfg is None:
            if not is_required(env_spec):
                continue
            raise ComposeError(f"cannot fetch environment: cannot fetch environment configs: failed to get config "
                               f'set from reference: {ENVIRONMENT_CONFIGS.plural}.{ENVIRONMENT_CONFIGS.group} '
                               f'"{name}" not found')
        env = merge_maps(env, cfg.get("data") or {})
    return env


def resolve_environment(xr: Mapping[str, Any], env_spec: Mapping[str, Any] | None,
                        configs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The environment of `xr`: selection then fetch and merge."""
    return fetch_environment(env_spec, select_configs(xr, env_spec, configs), configs)


__all__ = ["MODE_MULTIPLE", "MODE_SINGLE", "fetch_environment", "is_required", "label_value", "merge_maps",
           "resolve_environment", "select_configs"]
