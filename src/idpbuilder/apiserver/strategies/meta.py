"""ObjectMeta validation shared by every kind: names, labels, annotations, owner references, finalizers."""

from __future__ import annotations

from typing import Any

from ...core.errors import Cause
from ...core.schema_gofmt import go_quote
from .fields import Go, as_dict, as_int, as_list, as_str, child, index, invalid, required, too_long
from .validation import NameFn, is_qualified_name, validate_labels

TOTAL_ANNOTATION_SIZE = 256 * 1024
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
_BANNED_OWNERS = {("", "v1", "Event")}


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    annotations = as_dict(annotations)
    causes = [invalid(path, k, m) for k in sorted(annotations) for m in is_qualified_name(k.lower())]
    size = sum(len(k.encode()) + len(as_str(v).encode()) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE:
        causes.append(too_long(path, TOTAL_ANNOTATION_SIZE))
    return causes


def _group_version(api_version: str) -> tuple[str, str]:
    if not api_version:
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return "", ""


def _go_owner_ref(ref: dict[str, Any]) -> str:
    def ptr(name: str) -> str:
        return "(*bool)(nil)" if ref.get(name) is None else "(*bool)(0xc000010000)"

    return (
        f"v1.OwnerReference{{APIVersion:{go_quote(as_str(ref.get('apiVersion')))}, "
        f"Kind:{go_quote(as_str(ref.get('kind')))}, Name:{go_quote(as_str(ref.get('name')))}, "
        f"UID:{go_quote(as_str(ref.get('uid')))}, Controller:{ptr('controller')}, "
        f"BlockOwnerDeletion:{ptr('blockOwnerDeletion')}}}"
    )


def validate_owner_references(refs: Any, path: str) -> list[Cause]:
    refs = [as_dict(r) for r in as_list(refs)]
    causes: list[Cause] = []
    first_controller = ""
    for ref in refs:
        group, version = _group_version(as_str(ref.get("apiVersion")))
        kind = as_str(ref.get("kind"))
        if not version:
            causes.append(
                invalid(child(path, "apiVersion"), as_str(ref.get("apiVersion")), "version must not be empty")
            )
        if not kind:
            causes.append(invalid(child(path, "kind"), kind, "kind must not be empty"))
        if not as_str(ref.get("name")):
            causes.append(invalid(child(path, "name"), as_str(ref.get("name")), "name must not be empty"))
        if not as_str(ref.get("uid")):
            causes.append(invalid(child(path, "uid"), as_str(ref.get("uid")), "uid must not be empty"))
        if (group, version, kind) in _BANNED_OWNERS:
            causes.append(
                invalid(
                    path,
                    Go(_go_owner_ref(ref)),
                    f"{group}/{version}, Kind={kind} is disallowed from being an owner",
                )
            )
        if ref.get("controller") is True:
            current = f"{kind}/{as_str(ref.get('name'))}"
            if first_controller:
                rendered = "[]v1.OwnerReference{" + ", ".join(_go_owner_ref(r) for r in refs) + "}"
                causes.append(
                    invalid(
                        path,
                        Go(rendered),
                        "Only one reference can have Controller set to true. "
                        f'Found "true" in references for {first_controller} and {current}',
                    )
                )
            else:
                first_controller = current
    return causes


def validate_finalizers(finalizers: Any, path: str, builtin: bool) -> list[Cause]:
    names = [f if isinstance(f, str) else "" for f in as_list(finalizers)]
    causes = [invalid(path, f, m) for f in names for m in is_qualified_name(f)]
    if "orphan" in names and "foregroundDeletion" in names:
        rendered = Go("[]string{" + ", ".join(go_quote(f) for f in names) + "}")
        causes.append(invalid(path, rendered, "finalizer orphan and foregroundDeletion cannot be both set"))
    if builtin:
        causes += [
            invalid(index(path, i), f, "name is neither a standard finalizer name nor is it fully qualified")
            for i, f in enumerate(names)
            if "/" not in f and f not in STANDARD_FINALIZERS
        ]
    return causes


def validate_object_meta(
    obj: dict[str, Any], old: dict[str, Any] | None, name_fn: NameFn, builtin: bool
) -> list[Cause]:
    """ValidateObjectMeta on create, ValidateObjectMetaUpdate on update (names are not re-checked then)."""
    meta = as_dict(obj.get("metadata"))
    path = "metadata"
    causes: list[Cause] = []
    if old is None:
        generate = as_str(meta.get("generateName"))
        if generate:
            causes += [invalid(child(path, "generateName"), generate, m) for m in name_fn(generate, True)]
        name = as_str(meta.get("name"))
        if not name:
            causes.append(required(child(path, "name"), "name or generateName is required"))
        else:
            causes += [invalid(child(path, "name"), name, m) for m in name_fn(name, False)]
        generation = as_int(meta.get("generation"))
        if generation is not None and generation < 0:
            causes.append(
                invalid(child(path, "generation"), generation, "must be greater than or equal to 0")
            )
    else:
        new_gen, old_gen = (
            as_int(meta.get("generation")),
            as_int(as_dict(old.get("metadata")).get("generation")),
        )
        if new_gen is not None and old_gen is not None and new_gen < old_gen:
            causes.append(invalid(child(path, "generation"), new_gen, "must not be decremented"))
    causes += validate_labels(meta.get("labels"), child(path, "labels"))
    causes += validate_annotations(meta.get("annotations"), child(path, "annotations"))
    causes += validate_owner_references(meta.get("ownerReferences"), child(path, "ownerReferences"))
    causes += validate_finalizers(meta.get("finalizers"), child(path, "finalizers"), builtin)
    return causes
