"""The object store: every object in memory (as compact JSON), durably in SQLite, changes as events.

One global, monotonically increasing resourceVersion orders all writes. Writes happen on the event
loop thread one at a time, so a read-check-write sequence without an `await` in between is atomic.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..core.errors import ApiError, bad_request, gone
from .encryption import Encryptor
from .sqlite import SqliteBackend
from .watch import Event, GroupResource, WatchHub

ObjectKey = tuple[str, str]  # namespace ("" for cluster-scoped), name


@dataclass(slots=True)
class Entry:
    raw: bytes
    rv: int
    labels: dict[str, str]
    uid: str
    owner_uids: tuple[str, ...]

    def obj(self) -> dict[str, Any]:
        return orjson.loads(self.raw)


def _compact(obj: dict[str, Any]) -> bytes:
    """The object's JSON in a bytes object of its own size: orjson's result keeps the (often several
    times larger) buffer it was written into, which adds up over every stored version."""
    return bytes(memoryview(orjson.dumps(obj)))


def _entry(obj: dict[str, Any], raw: bytes, rv: int) -> Entry:
    meta = obj.get("metadata") or {}
    owners = tuple(o.get("uid", "") for o in meta.get("ownerReferences") or () if isinstance(o, dict))
    return Entry(raw, rv, dict(meta.get("labels") or {}), meta.get("uid", ""), owners)


def encode_continue(rv: int, namespace: str, name: str) -> str:
    token = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{namespace}/{name}\x00"})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from None


class Store:
    def __init__(self, path: Path | str | None = None, *, history: int = 50000, durable: bool = False,
                 encryptor: Encryptor | None = None) -> None:
        self._backend = SqliteBackend(path if path is not None else ":memory:", durable=durable,
                                      encryptor=encryptor)
        self._objects: dict[GroupResource, dict[ObjectKey, Entry]] = {}
        self._by_uid: dict[str, tuple[GroupResource, ObjectKey]] = {}
        self._dependents: dict[str, set[tuple[GroupResource, ObjectKey]]] = {}
        self.hub = WatchHub(history)
        self.rv = self._backend.last_resource_version()
        for (grp, res, ns, name), rv, data in self._backend.load():
            obj = orjson.loads(data)
            self._index((grp, res), (ns, name), _entry(obj, data, rv))
        self.hub.compacted_rv = self.rv

    # ---- reads

    def get_entry(self, gr: GroupResource, namespace: str, name: str) -> Entry | None:
        return self._objects.get(gr, {}).get((namespace, name))

    def get(self, gr: GroupResource, namespace: str, name: str) -> dict[str, Any] | None:
        e = self.get_entry(gr, namespace, name)
        return e.obj() if e else None

    def by_uid(self, uid: str) -> tuple[GroupResource, ObjectKey] | None:
        return self._by_uid.get(uid)

    def dependents(self, uid: str) -> list[tuple[GroupResource, ObjectKey]]:
        return sorted(self._dependents.get(uid, ()))

    def count(self, gr: GroupResource, namespace: str | None = None) -> int:
        objs = self._objects.get(gr, {})
        if namespace is None:
            return len(objs)
        return sum(1 for ns, _ in objs if ns == namespace)

    def entries(self, gr: GroupResource, namespace: str | None = None) -> Iterator[tuple[ObjectKey, Entry]]:
        """Entries in key order (namespace, name)."""
        objs = self._objects.get(gr, {})
        for key in sorted(objs):
            if namespace is None or key[0] == namespace:
                yield key, objs[key]

    def keys_in_namespace(self, namespace: str) -> list[tuple[GroupResource, str]]:
        return [(gr, name) for gr, objs in self._objects.items() for (ns, name) in objs if ns == namespace]

    def list_page(self, gr: GroupResource, namespace: str | None, *, limit: int = 0, continue_token: str = "",
                  predicate: Any = None) -> tuple[list[Entry], int, str, int | None]:
        """(entries, list resourceVersion, continue token, remainingItemCount)."""
        start = ""
        list_rv = self.rv
        if continue_token:
            token_rv, start = decode_continue(continue_token)
            if token_rv < self.hub.compacted_rv:
                raise gone("The provided continue parameter is too old to display a consistent list result. "
                           "You can start a new list without the continue parameter.")
            list_rv = token_rv
        selected: list[tuple[ObjectKey, Entry]] = []
        for key, entry in self.entries(gr, namespace):
            if start and f"{key[0]}/{key[1]}\x00" <= start:
                continue
            if predicate is None or predicate(entry):
                selected.append((key, entry))
        if limit and len(selected) > limit:
            last_key = selected[limit - 1][0]
            token = encode_continue(list_rv, *last_key)
            return [e for _, e in selected[:limit]], list_rv, token, len(selected) - limit
        return [e for _, e in selected], list_rv, "", None

    # ---- writes

    def _index(self, gr: GroupResource, key: ObjectKey, entry: Entry) -> None:
        old = self._objects.setdefault(gr, {}).get(key)
        if old is not None:
            self._unindex_refs(gr, key, old)
        self._objects[gr][key] = entry
        if entry.uid:
            self._by_uid[entry.uid] = (gr, key)
        for owner in entry.owner_uids:
            self._dependents.setdefault(owner, set()).add((gr, key))

    def _unindex_refs(self, gr: GroupResource, key: ObjectKey, entry: Entry) -> None:
        if entry.uid and self._by_uid.get(entry.uid) == (gr, key):
            del self._by_uid[entry.uid]
        for owner in entry.owner_uids:
            deps = self._dependents.get(owner)
            if deps is not None:
                deps.discard((gr, key))
                if not deps:
                    del self._dependents[owner]

    def put(self, gr: GroupResource, obj: dict[str, Any], *, event: str) -> dict[str, Any]:
        """Stores obj under the next resourceVersion (set on obj) and publishes `event`."""
        meta = obj["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        rv = self.rv + 1
        meta["resourceVersion"] = str(rv)
        raw = _compact(obj)
        self._backend.commit(rv, [((gr[0], gr[1], key[0], key[1]), raw)], [])
        self.rv = rv
        old = self._objects.get(gr, {}).get(key)
        entry = _entry(obj, raw, rv)
        self._index(gr, key, entry)
        self.hub.publish(Event(event, rv, gr, key[0], key[1], raw, entry.labels,
                               old.raw if old else None, old.labels if old else None))
        return obj

    def remove(self, gr: GroupResource, namespace: str, name: str,
               final: dict[str, Any] | None = None) -> dict[str, Any]:
        """Deletes the object; the DELETED event carries its last state under a new resourceVersion."""
        old = self._objects.get(gr, {}).get((namespace, name))
        if old is None:
            raise ApiError(404, "NotFound", f"{name} not found")
        obj = final if final is not None else old.obj()
        rv = self.rv + 1
        obj["metadata"]["resourceVersion"] = str(rv)
        raw = _compact(obj)
        self._backend.commit(rv, [], [(gr[0], gr[1], namespace, name)])
        self.rv = rv
        self._unindex_refs(gr, (namespace, name), old)
        del self._objects[gr][(namespace, name)]
        self.hub.publish(Event("DELETED", rv, gr, namespace, name, raw, old.labels))
        return obj

    def close(self) -> None:
        self.hub.close_all()
        self._backend.close()
