"""The catalog's entity index: stitched entities, their relations and search rows in SQLite.

Processing writes one location's entities at a time (`replace_location`, replace-set semantics, one
transaction); readers get the *stitched* entity: the stored body plus `metadata.uid/etag/generation`,
the `relations` whose source it is (from any entity's spec) and `status.items` for processing errors.

Three tables, shaped like Backstage's: `entities` (one row per entity, keyed by its lower-case ref and
owned by one location key), `relations` (rows emitted by an originating entity, both directions) and
`search` (lower-cased key/value rows that filters, ordering and facets run on, with indexes both ways).
An entity's stitched `relations` are cached on its row and refreshed, with its etag and its
`relations.*` search rows, whenever rows whose source it is come or go.

Calls are blocking; async callers use `asyncio.to_thread`. One lock per connection makes the store safe
to share between threads; a file-backed store reads on a second connection so reads do not wait for a
write transaction (WAL).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from .refs import DEFAULT_NAMESPACE, InvalidEntityRef, entity_ref, parse_entity_ref
from .types import ORPHAN, Conflict, ProcessedEntity, ReplaceResult

PROCESSING_STATUS_TYPE = "backstage.io/catalog-processing"
OrphanStrategy = Literal["keep", "delete"]

# Paths the search traversal leaves out; name/namespace/uid are written explicitly (Backstage's rules).
_SPECIAL_KEYS = frozenset({"attachments", "relations", "status", "metadata.name", "metadata.namespace",
                           "metadata.uid", "metadata.etag", "metadata.generation"})
_MAX_KEY, _MAX_VALUE = 200, 200
_CHUNK = 500
_RELATION_KEYS = "key >= 'relations.' AND key < 'relations/'"  # '/' sorts right after '.'
_INSERT_SEARCH = "INSERT OR IGNORE INTO search (key, value, entity_id, original_value) VALUES (?,?,?,?)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    ref TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    location_key TEXT NOT NULL,
    body TEXT NOT NULL,
    relations TEXT NOT NULL DEFAULT '[]',
    errors TEXT,
    hash TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    etag TEXT NOT NULL,
    generation INTEGER NOT NULL,
    orphan INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS entities_location ON entities(location_key);
CREATE TABLE IF NOT EXISTS relations (
    originating_id INTEGER NOT NULL,
    source_ref TEXT NOT NULL,
    type TEXT NOT NULL,
    target_ref TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS relations_source ON relations(source_ref, type, target_ref);
CREATE INDEX IF NOT EXISTS relations_origin ON relations(originating_id);
CREATE TABLE IF NOT EXISTS search (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    original_value TEXT,
    PRIMARY KEY (key, value, entity_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS search_entity ON search(entity_id, key);
"""

# The columns `stitch` needs, in its argument order.
STITCH_COLUMNS = "e.uid, e.body, e.relations, e.errors, e.etag, e.generation"


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _digest(value: Any) -> str:
    return hashlib.blake2b(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


def _new_etag() -> str:
    return secrets.token_hex(16)


def _text(value: Any) -> str:
    """A scalar as JavaScript's `String()` writes it, which is what Backstage's search rows hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def canonical_ref(ref: str) -> str | None:
    """The lower-case `kind:namespace/name` of a complete reference string, or None if it is not one."""
    try:
        return parse_entity_ref(ref).canonical
    except InvalidEntityRef:
        return None


def search_pairs(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(key, value, original value) search rows of an entity body: every scalar leaf by dotted path,
    `path.<item>` = true for string array items, and name/namespace; keys and values lower-cased. A null (or
    too long) value is stored as `""` with a null original value: the table is clustered on (key, value, id).
    `metadata.uid` has no rows: queries on it use the entities table, whose uid index they would duplicate."""
    raw: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [(str(k), v) for k, v in body.items()]
    while stack:
        path, value = stack.pop()
        if path in _SPECIAL_KEYS:
            continue
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict | list):
                    stack.append((path, item))
                else:
                    raw.append((path, item))
                    if isinstance(item, str):
                        raw.append((f"{path}.{item}", True))
        else:
            raw.append((path, value))
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    raw.append(("metadata.name", metadata.get("name")))
    raw.append(("metadata.namespace", metadata.get("namespace") or DEFAULT_NAMESPACE))
    rows: dict[tuple[str, str], str | None] = {}
    for path, value in raw:
        key = path.lower()
        if len(key) > _MAX_KEY:
            continue
        original = None if value is None else value if isinstance(value, str) else _text(value)
        if original is None or len(original) > _MAX_VALUE:
            rows.setdefault((key, ""), None)
        else:
            rows[(key, original.lower())] = original
    return [(key, value, original) for (key, value), original in rows.items()]


def project_fields(entity: dict[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    """The parts of an entity named by dotted `fields` (Backstage's `fields=` projection). A dotted field
    may name a key that itself contains dots, such as `metadata.annotations.backstage.io/orphan`."""
    if not fields:
        return entity
    out: dict[str, Any] = {}
    for field in fields:
        path: list[str] = []
        node: Any = entity
        pending = ""
        for part in field.split("."):
            pending = f"{pending}.{part}" if pending else part
            if isinstance(node, dict) and pending in node:
                path.append(pending)
                node = node[pending]
                pending = ""
        if pending or not path:
            continue
        target = out
        for key in path[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                break
        else:
            target[path[-1]] = node
    return out


def stitch(uid: str, body: str, relations: str, errors: str | None, etag: str,
           generation: int) -> dict[str, Any]:
    """The entity readers see, from the columns in `STITCH_COLUMNS`."""
    entity = orjson.loads(body)
    metadata = entity.setdefault("metadata", {})
    metadata["uid"] = uid
    metadata["etag"] = etag
    metadata["generation"] = generation
    entity["relations"] = orjson.loads(relations)
    if errors:
        entity["status"] = {"items": [
            {"type": PROCESSING_STATUS_TYPE, "level": "error", "message": f"{e['name']}: {e['message']}",
             "error": e} for e in orjson.loads(errors)]}
    return entity


@dataclass
class _Prepared:
    """One incoming entity, serialised and hashed before the write lock is taken."""

    ref: str
    kind: str
    namespace: str
    name: str
    body: str
    hash: str
    spec_hash: str
    relations: list[tuple[str, str, str]]
    errors: str | None
    search: list[tuple[str, str, str | None]]


def _prepare(processed: ProcessedEntity) -> _Prepared:
    entity = {k: v for k, v in processed.entity.items() if k not in ("relations", "status")}
    metadata = dict(entity.get("metadata") or {})
    for generated in ("uid", "etag", "generation"):
        metadata.pop(generated, None)
    metadata.setdefault("namespace", DEFAULT_NAMESPACE)
    entity["metadata"] = metadata
    ref = entity_ref(entity)
    if not ref.kind or not ref.name:
        raise ValueError(f"entity without kind or metadata.name: {processed.entity!r}")
    relations = sorted({(r.source.canonical, r.type, r.target.canonical) for r in processed.relations})
    errors = [{"name": e.name, "message": e.message} for e in processed.errors]
    return _Prepared(ref=ref.canonical, kind=ref.kind, namespace=ref.namespace, name=ref.name,
                     body=orjson.dumps(entity).decode(), hash=_digest([entity, relations, errors]),
                     spec_hash=_digest(entity.get("spec")), relations=relations,
                     errors=orjson.dumps(errors).decode() if errors else None,
                     search=search_pairs(entity))


def _conflict_message(ref: str, existing: str, new: str) -> str:
    return f"Detected conflicting entityRef {ref} already referenced by {existing} and now also {new}"


class Reader:
    """Read access inside one snapshot (see `CatalogStore.reading`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def entities(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Stitched entities by internal id, in the order given (ids that no longer exist are skipped)."""
        found: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(list(ids)):
            for row in self._conn.execute(f"SELECT e.id, {STITCH_COLUMNS} FROM entities e "
                                          f"WHERE e.id IN ({_marks(len(chunk))})", chunk):
                found[row[0]] = stitch(*row[1:])
        return [found[i] for i in ids if i in found]


class CatalogStore:
    """The entity index; `path=None` keeps it in memory."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._write = self._connect()
        self._write.executescript(_SCHEMA)
        self._wlock = threading.RLock()
        if path is None:
            self._read, self._rlock = self._write, self._wlock
        else:
            self._read, self._rlock = self._connect(), threading.RLock()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path) if self.path else ":memory:", isolation_level=None,
                               check_same_thread=False)
        if self.path is not None:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-32768")
        return conn

    def close(self) -> None:
        with self._wlock, self._rlock:
            if self._read is not self._write:
                self._read.close()
            self._write.close()

    # ---- transactions

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._wlock:
            conn = self._write
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[Reader]:
        """A consistent snapshot for several reads (a query and its count, say)."""
        with self._rlock:
            conn = self._read
            if conn.in_transaction:  # nested in another read on this thread
                yield Reader(conn)
                return
            conn.execute("BEGIN")
            try:
                yield Reader(conn)
            finally:
                conn.execute("COMMIT")

    # ---- writes

    def replace_location(self, location_key: str, entities: Iterable[ProcessedEntity], *,
                         orphan_strategy: OrphanStrategy = "keep") -> ReplaceResult:
        """Make `entities` what the location provides now, in one transaction. New refs are added (a new
        uid), changed ones updated (new etag; generation + 1 when the spec changed), the same ones left
        alone; refs it provided before but not now become orphans (`keep`: annotated, kept) or are
        removed (`delete`). A ref that another location provides is a `Conflict` and is not written
        (the first location keeps it), unless it is that location's orphan: then this one takes it over."""
        if orphan_strategy not in ("keep", "delete"):
            raise ValueError(f"orphan_strategy must be 'keep' or 'delete', got {orphan_strategy!r}")
        incoming = [_prepare(e) for e in entities]
        result = ReplaceResult()
        with self._writing() as conn:
            mine = {row[1]: row for row in conn.execute(
                "SELECT id, ref, hash, spec_hash, generation, orphan, uid FROM entities "
                "WHERE location_key = ?", (location_key,))}
            others = self._owned_elsewhere(conn, [p.ref for p in incoming if p.ref not in mine], location_key)
            inserts: list[_Prepared] = []
            updates: list[tuple[_Prepared, tuple[Any, ...]]] = []
            seen: set[str] = set()
            for p in incoming:
                if p.ref in seen:
                    result.conflicts.append(Conflict(p.ref, location_key,
                                                     _conflict_message(p.ref, location_key, location_key)))
                    continue
                seen.add(p.ref)
                row = mine.get(p.ref)
                if row is None and p.ref in others:
                    owner = others[p.ref]
                    if not owner[5]:  # a live entity of another location: the first writer keeps it
                        result.conflicts.append(Conflict(p.ref, owner[1],
                                                         _conflict_message(p.ref, owner[1], location_key)))
                        continue
                    row = (owner[0], p.ref, owner[2], owner[3], owner[4], owner[5], owner[6])
                if row is None:
                    inserts.append(p)
                elif row[2] == p.hash and not row[5]:
                    result.unchanged += 1
                else:
                    updates.append((p, row))
            gone = [row for ref, row in mine.items() if ref not in seen]
            affected, fresh = self._write_entities(conn, location_key, inserts, updates)
            result.added, result.updated = len(inserts), len(updates)
            if orphan_strategy == "delete":
                affected |= self._delete_ids(conn, [row[0] for row in gone])
                result.removed = len(gone)
            else:
                result.orphaned = self._orphan(conn, [row[0] for row in gone if not row[5]])
            self._restitch(conn, affected, fresh)
        return result

    def remove_location(self, location_key: str) -> int:
        """Delete every entity the location provides (orphans included); returns how many."""
        with self._writing() as conn:
            ids = [row[0] for row in conn.execute("SELECT id FROM entities WHERE location_key = ?",
                                                  (location_key,))]
            self._restitch(conn, self._delete_ids(conn, ids))
        return len(ids)

    def delete_entity_by_uid(self, uid: str) -> bool:
        """Delete one entity; a live one comes back the next time its location is processed."""
        with self._writing() as conn:
            row = conn.execute("SELECT id FROM entities WHERE uid = ?", (uid,)).fetchone()
            if row is None:
                return False
            self._restitch(conn, self._delete_ids(conn, [row[0]]))
        return True

    def _owned_elsewhere(self, conn: sqlite3.Connection, refs: list[str],
                         location_key: str) -> dict[str, tuple[Any, ...]]:
        """ref -> (id, location_key, hash, spec_hash, generation, orphan, uid) for refs held elsewhere."""
        found: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(refs):
            for row in conn.execute("SELECT ref, id, location_key, hash, spec_hash, generation, orphan, uid "
                                    f"FROM entities WHERE ref IN ({_marks(len(chunk))})", chunk):
                if row[2] != location_key:
                    found[row[0]] = row[1:]
        return found

    def _write_entities(self, conn: sqlite3.Connection, location_key: str, inserts: list[_Prepared],
                        updates: list[tuple[_Prepared, tuple[Any, ...]]]) -> tuple[set[str], set[int]]:
        """Insert and update entity rows with their search and relation rows; returns the refs whose
        stitched relations may have changed and the ids of the new rows."""
        affected: set[str] = set()
        next_id = conn.execute("SELECT coalesce(max(id), 0) FROM entities").fetchone()[0] + 1
        new_rows, search_rows, relation_rows = [], [], []
        for offset, p in enumerate(inserts):
            entity_id, uid = next_id + offset, str(uuid.uuid4())
            new_rows.append((entity_id, uid, p.ref, p.kind, p.namespace, p.name, location_key, p.body,
                             p.errors, p.hash, p.spec_hash, _new_etag(), 1))
            search_rows += [(k, v, entity_id, o) for k, v, o in p.search]
            relation_rows += [(entity_id, *r) for r in p.relations]
            affected.add(p.ref)
            affected.update(r[0] for r in p.relations)
        conn.executemany("INSERT INTO entities (id, uid, ref, kind, namespace, name, location_key, body, "
                         "errors, hash, spec_hash, etag, generation) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         new_rows)
        changed_ids = [row[0] for _, row in updates]
        affected |= self._relation_sources(conn, changed_ids)
        conn.executemany(f"DELETE FROM search WHERE entity_id = ? AND NOT ({_RELATION_KEYS})",
                         [(i,) for i in changed_ids])
        conn.executemany("DELETE FROM relations WHERE originating_id = ?", [(i,) for i in changed_ids])
        update_rows = []
        for p, row in updates:
            entity_id, spec_hash, generation, uid = row[0], row[3], row[4], row[6]
            update_rows.append((location_key, p.kind, p.namespace, p.name, p.body, p.errors, p.hash,
                                p.spec_hash, _new_etag(), generation + (spec_hash != p.spec_hash), entity_id))
            search_rows += [(k, v, entity_id, o) for k, v, o in p.search]
            relation_rows += [(entity_id, *r) for r in p.relations]
            affected.update(r[0] for r in p.relations)
        conn.executemany("UPDATE entities SET location_key = ?, kind = ?, namespace = ?, name = ?, body = ?, "
                         "errors = ?, hash = ?, spec_hash = ?, etag = ?, generation = ?, orphan = 0 "
                         "WHERE id = ?",
                         update_rows)
        search_rows.sort(key=lambda r: (r[0], r[1]))  # clustered inserts in key order touch fewer pages
        conn.executemany(_INSERT_SEARCH, search_rows)
        conn.executemany("INSERT INTO relations (originating_id, source_ref, type, target_ref) "
                         "VALUES (?,?,?,?)", relation_rows)
        return affected, {row[0] for row in new_rows}

    @staticmethod
    def _relation_sources(conn: sqlite3.Connection, ids: list[int]) -> set[str]:
        """The source refs of the relation rows these entities originated."""
        sources: set[str] = set()
        for chunk in _chunks(ids):
            sources.update(r[0] for r in conn.execute(
                "SELECT DISTINCT source_ref FROM relations "
                f"WHERE originating_id IN ({_marks(len(chunk))})", chunk))
        return sources

    def _orphan(self, conn: sqlite3.Connection, ids: list[int]) -> int:
        """Mark entities no longer provided as orphans (annotation `backstage.io/orphan: "true"`)."""
        for chunk in _chunks(ids):
            rows = conn.execute(f"SELECT id, body FROM entities WHERE id IN ({_marks(len(chunk))})",
                                chunk).fetchall()
            updates, search_rows = [], []
            for entity_id, body in rows:
                entity = orjson.loads(body)
                metadata = entity.setdefault("metadata", {})
                metadata["annotations"] = {**(metadata.get("annotations") or {}), ORPHAN: "true"}
                updates.append((orjson.dumps(entity).decode(), _new_etag(), entity_id))
                search_rows += [(k, v, entity_id, o) for k, v, o in search_pairs(entity)]
            conn.executemany("UPDATE entities SET body = ?, etag = ?, orphan = 1 WHERE id = ?", updates)
            conn.executemany(f"DELETE FROM search WHERE entity_id = ? AND NOT ({_RELATION_KEYS})",
                             [(row[0],) for row in rows])
            conn.executemany(_INSERT_SEARCH, search_rows)
        return len(ids)

    def _delete_ids(self, conn: sqlite3.Connection, ids: list[int]) -> set[str]:
        """Delete entities with their rows; returns the refs whose stitched relations may change."""
        affected = self._relation_sources(conn, ids)
        params = [(i,) for i in ids]
        conn.executemany("DELETE FROM relations WHERE originating_id = ?", params)
        conn.executemany("DELETE FROM search WHERE entity_id = ?", params)
        conn.executemany("DELETE FROM entities WHERE id = ?", params)
        return affected

    def _restitch(self, conn: sqlite3.Connection, refs: set[str], fresh: set[int] | None = None) -> None:
        """Bring the cached `relations`, etag and `relations.*` search rows of these entities up to date
        (`fresh`: ids inserted in this transaction, which have no such rows yet)."""
        for chunk in _chunks(sorted(refs)):
            marks = _marks(len(chunk))
            current = {ref: (entity_id, relations) for entity_id, ref, relations in conn.execute(
                f"SELECT id, ref, relations FROM entities WHERE ref IN ({marks})", chunk)}
            if not current:
                continue
            wanted: dict[str, list[dict[str, str]]] = {ref: [] for ref in current}
            for source, kind, target in conn.execute(
                    "SELECT DISTINCT source_ref, type, target_ref FROM relations "
                    f"WHERE source_ref IN ({marks}) ORDER BY source_ref, type, target_ref", chunk):
                if source in wanted:
                    wanted[source].append({"type": kind, "targetRef": target})
            updates, stale, search_rows = [], [], []
            for ref, (entity_id, stored) in current.items():
                text = orjson.dumps(wanted[ref]).decode()
                if text == stored:
                    continue
                updates.append((text, _new_etag(), entity_id))
                if not fresh or entity_id not in fresh:
                    stale.append((entity_id,))
                search_rows += list({(f"relations.{r['type'].lower()}", r["targetRef"].lower(), entity_id,
                                      r["targetRef"]) for r in wanted[ref]})
            conn.executemany("UPDATE entities SET relations = ?, etag = ? WHERE id = ?", updates)
            conn.executemany(f"DELETE FROM search WHERE entity_id = ? AND {_RELATION_KEYS}", stale)
            conn.executemany(_INSERT_SEARCH, search_rows)

    # ---- reads

    def _one(self, where: str, params: Sequence[Any]) -> dict[str, Any] | None:
        with self._rlock:
            row = self._read.execute(f"SELECT {STITCH_COLUMNS} FROM entities e WHERE {where}",
                                     params).fetchone()
        return stitch(*row) if row else None

    def entity_by_ref(self, ref: str) -> dict[str, Any] | None:
        """The stitched entity for a complete ref (any case), or None."""
        canonical = canonical_ref(ref)
        return self._one("e.ref = ?", (canonical,)) if canonical else None

    def entity_by_uid(self, uid: str) -> dict[str, Any] | None:
        return self._one("e.uid = ?", (uid,))

    def entities_by_refs(self, refs: Sequence[str],
                         fields: Sequence[str] | None = None) -> list[dict[str, Any] | None]:
        """The entity for each ref, None where there is none, in the order asked (fields projected)."""
        canonical = [canonical_ref(r) if isinstance(r, str) else None for r in refs]
        wanted = sorted({c for c in canonical if c})
        found: dict[str, dict[str, Any]] = {}
        with self._rlock:
            for chunk in _chunks(wanted):
                for row in self._read.execute(f"SELECT e.ref, {STITCH_COLUMNS} FROM entities e "
                                              f"WHERE e.ref IN ({_marks(len(chunk))})", chunk):
                    found[row[0]] = stitch(*row[1:])
        return [project_fields(found[c], fields) if c in found else None for c in canonical]

    def entities_of_location(self, location_key: str, kind: str | None = None) -> list[dict[str, Any]]:
        """The stitched entities a location provides, optionally of one kind (any case), by ref."""
        sql = f"SELECT {STITCH_COLUMNS} FROM entities e WHERE e.location_key = ?"
        params: list[Any] = [location_key]
        if kind:
            sql += " AND lower(e.kind) = ?"
            params.append(kind.lower())
        with self._rlock:
            rows = self._read.execute(sql + " ORDER BY e.ref", params).fetchall()
        return [stitch(*row) for row in rows]

    def location_of(self, ref: str) -> str | None:
        """The location key that provides the entity, or None."""
        canonical = canonical_ref(ref)
        if canonical is None:
            return None
        with self._rlock:
            row = self._read.execute("SELECT location_key FROM entities WHERE ref = ?",
                                     (canonical,)).fetchone()
        return row[0] if row else None

    def location_keys(self) -> list[str]:
        with self._rlock:
            return [r[0] for r in self._read.execute("SELECT DISTINCT location_key FROM entities ORDER BY 1")]

    def count(self) -> int:
        with self._rlock:
            return self._read.execute("SELECT count(*) FROM entities").fetchone()[0]
