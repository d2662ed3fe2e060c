"""Backstage's catalog query language over the store: filters, projection, ordering, pages and facets.

`filter=kind=component,spec.type=service` is one filter set: its conditions must all hold (a key named
twice matches any of its values); repeating `filter=` ORs the sets. A bare key asks that the key exists;
keys and values compare case-insensitively. Every condition is an index lookup in the search table.

A condition can be used two ways: as the *set* of matching ids (driven by one condition's index range,
the others probed per id) or as a *probe* of one id (`EXISTS` on the primary key). A page ordered by a
field is read either by walking that field's index in order and probing each row until the page is full
(cheap when many entities match) or by collecting the matching set and sorting it (cheap when few do);
the count of matches, which by-query reports anyway, picks the cheaper way.

Two ways to page: the legacy `/entities` (`order=asc:field`, `offset`, `limit`, `after`) and
`/entities/by-query`, whose opaque cursor carries the query itself, the sort value and id of the row to
continue from, the first row of the first page (so `prevCursor` stops there) and the total count.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from ..http import InputError
from .store import CatalogStore, Reader, canonical_ref, project_fields

DEFAULT_LIMIT = 20
DEFAULT_SORT_FIELD = "metadata.uid"
UID_KEY = "metadata.uid"  # answered from the entities table, not search rows

Direction = Literal["asc", "desc"]


@dataclass(frozen=True)
class Condition:
    """`key` (lower-case) exists, or has one of `values` (lower-case) when they are given."""

    key: str
    values: tuple[str, ...] | None = None


# Any of the sets matches when all of its conditions hold.
EntityFilter = tuple[tuple[Condition, ...], ...]


@dataclass(frozen=True)
class Order:
    field: str
    order: Direction = "asc"


# ---------------------------------------------------------------------------------------------------------
# Parsing request parameters


def parse_filter(params: Iterable[str]) -> EntityFilter | None:
    """The filter of repeated `filter` parameters, or None when they say nothing."""
    sets: list[tuple[Condition, ...]] = []
    for text in params:
        by_key: dict[str, list[str]] = {}
        for statement in (s.strip() for s in text.split(",")):
            if not statement:
                continue
            key, equals, value = statement.partition("=")
            key = key.strip()
            if not key:
                raise InputError(f"Invalid filter, '{statement}' is not a valid statement (expected a string "
                                 "on the form a=b or a= or a)")
            values = by_key.setdefault(key.lower(), [])
            if equals:
                values.append(value.strip().lower())
        if by_key:
            sets.append(tuple(Condition(k, tuple(v) if v else None) for k, v in by_key.items()))
    return tuple(sets) or None


def parse_fields(params: Iterable[str]) -> list[str] | None:
    """The `fields` projection (comma-separated, repeatable), or None for whole entities."""
    fields = [f.strip() for text in params for f in text.split(",") if f.strip()]
    if any("[" in f for f in fields):
        raise InputError("invalid fields, array type fields are not supported")
    return fields or None


def parse_order(params: Iterable[str]) -> list[Order]:
    """Legacy `/entities` ordering: repeated `order=asc:metadata.name`."""
    orders = []
    for item in params:
        direction, colon, name = item.partition(":")
        if not colon or direction not in ("asc", "desc") or not name:
            raise InputError(f'Invalid order parameter "{item}", expected "<asc or desc>:<field name>"')
        orders.append(Order(name, direction))  # type: ignore[arg-type]
    return orders


def parse_order_fields(params: Iterable[str]) -> list[Order]:
    """`/entities/by-query` ordering: repeated `orderField=metadata.name,desc` (direction defaults to asc)."""
    orders = []
    for item in params:
        name, _, direction = item.partition(",")
        direction = direction.strip() or "asc"
        if direction not in ("asc", "desc"):
            raise InputError("Invalid order field order, must be asc or desc")
        if not name.strip():
            raise InputError(f'Invalid orderField "{item}", expected "<field name>[,asc|desc]"')
        orders.append(Order(name.strip(), direction))  # type: ignore[arg-type]
    return orders


def parse_int(values: Sequence[str], name: str, *, minimum: int = 0) -> int | None:
    """The single integer parameter `name`, or None when absent."""
    if not values:
        return None
    if len(values) > 1:
        raise InputError(f"Invalid {name}, expected a single value")
    try:
        number = int(values[0])
    except ValueError:
        raise InputError(f"Invalid {name}, not an integer on the form 123") from None
    if number < minimum:
        bound = "zero or greater" if minimum == 0 else "greater than zero"
        raise InputError(f"Invalid {name}, must be {bound}")
    return number


# ---------------------------------------------------------------------------------------------------------
# Conditions as SQL


@dataclass(frozen=True)
class _Cond:
    """One SQL condition on an entity: `in` (keys[0] has one of values), `exists` (keys[0] is present) or
    `like` (one of keys has a value LIKE values[0])."""

    op: Literal["in", "exists", "like"]
    keys: tuple[str, ...]
    values: tuple[str, ...] = ()


_Sets = list[list[_Cond]]  # OR of ANDs; [[]] matches every entity


def _conditions(entity_filter: EntityFilter | None, term: str = "", term_keys: Sequence[str] = ()) -> _Sets:
    sets: _Sets = [[_Cond("exists" if c.values is None else "in", (c.key,), c.values or ()) for c in s]
                   for s in entity_filter or ()] or [[]]
    if term:
        escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = _Cond("like", tuple(k.lower() for k in term_keys), (f"%{escaped}%",))
        sets = [[*s, like] for s in sets]
    return sets


def _match(c: _Cond, alias: str) -> tuple[str, list[Any]]:
    """The condition on rows `alias` of the search table (or of entities, for metadata.uid)."""
    if c.keys == (UID_KEY,):
        if c.op == "exists":
            return "1", []
        if c.op == "like":
            return f"{alias}.uid LIKE ? ESCAPE '\\'", list(c.values)
        return f"{alias}.uid IN ({','.join('?' * len(c.values))})", list(c.values)
    if c.op == "exists":
        return f"{alias}.key = ?", [c.keys[0]]
    if c.op == "like":
        return (f"{alias}.key IN ({','.join('?' * len(c.keys))}) AND {alias}.value LIKE ? ESCAPE '\\'",
                [*c.keys, *c.values])
    values = [v for v in c.values if v]
    sql = f"{alias}.value IN ({','.join('?' * len(values))})"
    if len(values) < len(c.values):  # "" is also how a null value is stored
        sql = f"({sql} OR ({alias}.value = '' AND {alias}.original_value IS NOT NULL))"
    return f"{alias}.key = ? AND {sql}", [c.keys[0], *values]


def _on_uid(c: _Cond) -> bool:
    return c.keys == (UID_KEY,)


def _probe(c: _Cond, column: str) -> tuple[str, list[Any]]:
    """Whether the entity id in `column` satisfies the condition (one primary-key or index lookup)."""
    sql, params = _match(c, "p")
    table = "entities p WHERE p.id" if _on_uid(c) else "search p WHERE p.entity_id"
    return f"EXISTS (SELECT 1 FROM {table} = {column} AND {sql})", params


def _predicate(sets: _Sets, column: str) -> tuple[str, list[Any]]:
    """Whether the entity id in `column` matches: probes, no set is built."""
    params: list[Any] = []
    alternatives = []
    for conditions in sets:
        clauses = []
        for c in conditions:
            sql, p = _probe(c, column)
            clauses.append(sql)
            params += p
        alternatives.append("(" + (" AND ".join(clauses) or "1") + ")")
    return "(" + " OR ".join(alternatives) + ")", params


def _idset(sets: _Sets) -> tuple[str, list[Any]]:
    """A SELECT of the matching entity ids, each driven by one condition's index range."""
    params: list[Any] = []
    selects = []
    for conditions in sets:
        if not conditions:
            selects.append("SELECT id AS id FROM entities")
            continue
        # A LIKE scans one field's rows (at most one per entity); an `in` is often as big (kind=component).
        rank = {"like": 0, "in": 1, "exists": 2}
        driver = min(conditions, key=lambda c: (rank[c.op], _on_uid(c)))
        sql, p = _match(driver, "d")
        column = "d.id" if _on_uid(driver) else "d.entity_id"
        table = "entities" if _on_uid(driver) else "search"
        clauses, rest = [sql], list(p)
        for c in conditions:
            if c is not driver:
                probe, p = _probe(c, column)
                clauses.append(probe)
                rest += p
        # One entity can have several matching rows (array values, several keys).
        distinct = "DISTINCT " if table == "search" and (driver.op != "in" or len(driver.values) > 1) else ""
        selects.append(f"SELECT {distinct}{column} AS id FROM {table} d WHERE {' AND '.join(clauses)}")
        params += rest
    return " UNION ".join(selects), params


def _count(reader: Reader, sets: _Sets) -> int:
    sql, params = _idset(sets)
    return reader.rows(f"SELECT count(*) FROM ({sql})", params)[0][0]


def _walk_is_cheaper(matches: int, entities: int, limit: int) -> bool:
    """Walking an ordered index visits about limit*entities/matches rows, each probed (~0.5 us); sorting the
    matching set costs about matches rows at ~2.5 us each."""
    return matches > 0 and 5 * matches * matches >= (limit + 1) * max(entities, 1)


def _entity_estimate(reader: Reader) -> int:
    return reader.rows("SELECT coalesce(max(id), 0) FROM entities")[0][0]


def _sort_value(key: str) -> str:
    """An entity's sort value for `key`: its smallest non-empty value (NULL when it has none)."""
    if key == UID_KEY:
        return "e.uid"
    return "(SELECT min(m.value) FROM search m WHERE m.entity_id = e.id AND m.key = ? AND m.value > '')"


def _sort_params(key: str) -> list[Any]:
    return [] if key == UID_KEY else [key]


def filter_sql(entity_filter: EntityFilter | None, column: str = "e.id") -> tuple[str, list[Any]]:
    """A WHERE clause true when the entity id in `column` matches the filter (index probes per row)."""
    return _predicate(_conditions(entity_filter), column)


# ---------------------------------------------------------------------------------------------------------
# The legacy list


@dataclass
class EntityPage:
    items: list[dict[str, Any]]
    next_after: str | None = None  # the `after` parameter of the next page, when there is one


def _decode_after(after: str) -> tuple[int | None, int | None]:
    try:
        cursor = orjson.loads(base64.b64decode(after, validate=True))
    except (binascii.Error, ValueError):
        raise InputError("Malformed after cursor, could not be parsed") from None
    if not isinstance(cursor, dict):
        raise InputError("Malformed after cursor, could not be parsed")
    limit, offset = cursor.get("limit"), cursor.get("offset")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
        raise InputError("Malformed after cursor, limit was not an number")
    if offset is not None and (not isinstance(offset, int) or isinstance(offset, bool)):
        raise InputError("Malformed after cursor, offset was not a number")
    return limit, offset


def list_entities(store: CatalogStore, *, entity_filter: EntityFilter | None = None,
                  fields: Sequence[str] | None = None, order: Sequence[Order] = (), offset: int | None = None,
                  limit: int | None = None, after: str | None = None) -> EntityPage:
    """`GET /entities`: ordered by ref unless `order` says otherwise; pages only when limit/offset/after."""
    if after is not None:
        if not after:
            raise InputError("Invalid after, must not be empty")
        cursor_limit, cursor_offset = _decode_after(after)
        limit = cursor_limit if cursor_limit is not None else limit
        offset = cursor_offset if cursor_offset is not None else offset
    sets = _conditions(entity_filter)
    columns, params, order_by = ["e.id"], [], []
    for i, o in enumerate(order):
        columns.append(f"{_sort_value(o.field.lower())} AS o{i}")
        params += _sort_params(o.field.lower())
        order_by += [f"o{i} IS NULL", f"o{i} {o.order.upper()}"]
    order_by.append("e.id" if order else "e.ref")
    paged = limit is not None or offset is not None
    with store.reading() as reader:
        walk = not entity_filter or (paged and not order and _walk_is_cheaper(
            _count(reader, sets), _entity_estimate(reader), (limit or 0) + (offset or 0)))
        if walk:
            where, where_params = _predicate(sets, "e.id")
        else:
            where, where_params = _idset(sets)
            where = f"e.id IN ({where})"
        sql = f"SELECT {', '.join(columns)} FROM entities e WHERE {where} ORDER BY {', '.join(order_by)}"
        params += where_params
        if paged:
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else limit + 1, offset or 0]
        ids = [row[0] for row in reader.rows(sql, params)]
        more = limit is not None and len(ids) > limit
        items = reader.entities(ids[:limit] if more else ids)
    next_after = None
    if more and limit is not None:
        next_page = {"limit": limit, "offset": (offset or 0) + limit}
        next_after = base64.b64encode(orjson.dumps(next_page)).decode()
    return EntityPage([project_fields(e, fields) for e in items], next_after)


# ---------------------------------------------------------------------------------------------------------
# Cursor queries (/entities/by-query)


Position = tuple[str | None, int]  # a row's sort value (None: it has none) and entity id


@dataclass
class Cursor:
    """Where a by-query page continues; travels to the client base64-encoded JSON (never with a `query`
    key, which @backstage/catalog-client takes as a sign of the POST predicate API)."""

    entity_filter: EntityFilter | None
    order: Order
    full_text_term: str = ""
    full_text_fields: tuple[str, ...] = ()
    after: Position | None = None  # the row to continue from
    is_previous: bool = False
    first: Position | None = None  # the first row of the first page
    total_items: int | None = None

    def encode(self) -> str:
        data = {
            "filter": [[{"key": c.key, "values": list(c.values) if c.values is not None else None} for c in s]
                       for s in self.entity_filter or ()],
            "orderFields": [{"field": self.order.field, "order": self.order.order}],
            "fullTextFilter": {"term": self.full_text_term, "fields": list(self.full_text_fields)},
            "orderFieldValues": list(self.after) if self.after else None,
            "isPrevious": self.is_previous,
            "firstSortFieldValues": list(self.first) if self.first else None,
            "totalItems": self.total_items,
        }
        return base64.b64encode(orjson.dumps(data)).decode()

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            data = orjson.loads(base64.b64decode(text, validate=True))
            sets = tuple(tuple(Condition(str(c["key"]), None if c["values"] is None else
                                         tuple(str(v) for v in c["values"])) for c in s)
                         for s in data["filter"])
            order = data["orderFields"][0]
            if order["order"] not in ("asc", "desc"):
                raise ValueError("order")
            full_text = data["fullTextFilter"]
            return cls(sets or None, Order(str(order["field"]), order["order"]), str(full_text["term"]),
                       tuple(str(f) for f in full_text["fields"]), _position(data["orderFieldValues"]),
                       bool(data["isPrevious"]), _position(data["firstSortFieldValues"]),
                       None if data["totalItems"] is None else int(data["totalItems"]))
        except (binascii.Error, ValueError, TypeError, KeyError, IndexError):
            raise InputError("Malformed cursor: could not be parsed") from None


def _position(value: Any) -> Position | None:
    if value is None:
        return None
    sort_value, entity_id = value
    if sort_value is not None and not isinstance(sort_value, str):
        raise ValueError("sort value")
    return sort_value, int(entity_id)


@dataclass
class QueryRequest:
    """A by-query request: the first page's query, or a cursor (which then carries the query)."""

    entity_filter: EntityFilter | None = None
    order_fields: list[Order] = field(default_factory=list)
    full_text_term: str = ""
    full_text_fields: list[str] = field(default_factory=list)
    fields: list[str] | None = None
    limit: int = DEFAULT_LIMIT
    offset: int | None = None
    cursor: Cursor | None = None
    total_items: bool = True


def parse_query_params(params: Mapping[str, Sequence[str]]) -> QueryRequest:
    """A by-query request from its query parameters (each name with all of its values)."""

    def get(name: str) -> list[str]:
        return list(params.get(name) or ())

    total = (get("totalItems") or ["include"])[-1]
    if total not in ("include", "exclude"):
        raise InputError("Invalid totalItems, must be include or exclude")
    limit = parse_int(get("limit"), "limit")
    request = QueryRequest(fields=parse_fields(get("fields")),
                           limit=DEFAULT_LIMIT if limit is None else limit, total_items=total == "include")
    cursor = get("cursor")
    if cursor and cursor[-1]:
        request.cursor = Cursor.decode(cursor[-1])
        return request
    request.entity_filter = parse_filter(get("filter"))
    request.order_fields = parse_order_fields(get("orderField"))
    request.full_text_term = " ".join(get("fullTextFilterTerm")).strip()
    request.full_text_fields = [f.strip() for text in get("fullTextFilterFields") for f in text.split(",")
                                if f.strip()]
    request.offset = parse_int(get("offset"), "offset")
    return request


def query_entities(store: CatalogStore, request: QueryRequest) -> dict[str, Any]:
    """`GET /entities/by-query`: `{items, totalItems, pageInfo: {nextCursor?, prevCursor?}}`. Without an
    `orderField` the order is by uid, and the full-text term is looked for in the sort field unless
    `fullTextFilterFields` names others (Backstage's rules)."""
    cursor = request.cursor or Cursor(
        request.entity_filter, request.order_fields[0] if request.order_fields else Order(DEFAULT_SORT_FIELD),
        request.full_text_term, tuple(request.full_text_fields))
    sets = _conditions(cursor.entity_filter, cursor.full_text_term,
                       cursor.full_text_fields or (cursor.order.field,))
    limit = request.limit
    with store.reading() as reader:
        total = cursor.total_items
        matches = total if total is not None else _count(reader, sets)
        if total is None:
            total = matches if request.total_items else 0
        offset = request.offset if request.cursor is None else None
        rows = _rows(reader, sets, cursor, limit, offset, matches)
        if cursor.is_previous:
            rows.reverse()
        more = limit > 0 and (cursor.is_previous or len(rows) > limit)
        rows = rows[:limit]
        items = reader.entities([row[1] for row in rows])
    first = cursor.first or (rows[0] if rows else None)
    page_info: dict[str, str] = {}
    if more and rows:
        page_info["nextCursor"] = Cursor(cursor.entity_filter, cursor.order, cursor.full_text_term,
                                         cursor.full_text_fields, rows[-1], False, first, total).encode()
    if request.cursor is not None and rows and rows[0] != cursor.first:
        page_info["prevCursor"] = Cursor(cursor.entity_filter, cursor.order, cursor.full_text_term,
                                         cursor.full_text_fields, rows[0], True, cursor.first, total).encode()
    return {"items": [project_fields(e, request.fields) for e in items], "totalItems": total,
            "pageInfo": page_info}


def _rows(reader: Reader, sets: _Sets, cursor: Cursor, limit: int, offset: int | None,
          matches: int) -> list[Position]:
    """The page's rows in fetch order: limit+1 forwards (to see if there is more), limit backwards.

    Rows are (value, entity) pairs of the sort field, as in Backstage, whose query joins the search table
    on it: an entity whose field is an array comes once per value. Entities without a value come last,
    in id order."""
    if limit <= 0 or matches == 0:
        return []
    fetch = limit if cursor.is_previous else limit + 1
    walk = _walk_is_cheaper(matches, _entity_estimate(reader), fetch + (offset or 0))
    key = cursor.order.field.lower()
    ascending = (cursor.order.order == "asc") != cursor.is_previous
    read = _Group(reader, sets, key, "ASC" if ascending else "DESC", ">" if ascending else "<", walk)
    after, skip = cursor.after, offset or 0
    rows: list[Position] = []
    # Going forwards the valued rows come first; going backwards, from a null row, the null rows do.
    for valued in ((True, False) if not cursor.is_previous else (False, True)):
        if after is not None and (after[0] is not None) != valued:
            if valued == (not cursor.is_previous):
                continue  # forwards from a null row, or backwards from a valued one: not this group
            after = None
        got = read(valued, after, fetch - len(rows), skip)
        if skip and valued and len(got) < fetch - len(rows):
            skip = max(0, skip - read.count_valued())
        rows += got
        after = None
        if len(rows) >= fetch:
            break
    return rows


@dataclass
class _Group:
    """Reads one group of a page (rows with a value for the sort key, or entities without one) either by
    walking an index in order with probes, or from the matching set."""

    reader: Reader
    sets: _Sets
    key: str
    direction: str
    op: str
    walk: bool

    def __call__(self, valued: bool, after: Position | None, fetch: int, skip: int) -> list[Position]:
        if self.key == UID_KEY:
            return self._uid(after, fetch, skip) if valued else []
        return self._valued(after, fetch, skip) if valued else self._unvalued(after, fetch, skip)

    def _ids(self) -> tuple[str, list[Any]]:
        sql, params = _idset(self.sets)
        return f"({sql}) AS ids", params

    def _tail(self, columns: str, fetch: int, skip: int) -> tuple[str, list[Any]]:
        order = ", ".join(f"{c} {self.direction}" for c in columns.split(", "))
        return f" ORDER BY {order} LIMIT ? OFFSET ?", [fetch, skip]

    def _valued(self, after: Position | None, fetch: int, skip: int) -> list[Position]:
        seek, seek_params = "s.value > ''", []
        if after is not None:
            seek = f"(s.value, s.entity_id) {self.op} (?, ?) AND s.value > ''"
            seek_params = [after[0], after[1]]
        if self.walk:
            where, params = _predicate(self.sets, "s.entity_id")
            sql = f"SELECT s.value, s.entity_id FROM search s WHERE s.key = ? AND {seek} AND {where}"
            params = [self.key, *seek_params, *params]
        else:
            ids, params = self._ids()
            sql = (f"SELECT s.value, s.entity_id FROM {ids} CROSS JOIN search s ON s.entity_id = ids.id "
                   f"AND s.key = ? WHERE {seek}")
            params = [*params, self.key, *seek_params]
        tail, tail_params = self._tail("s.value, s.entity_id", fetch, skip)
        return [(row[0], row[1]) for row in self.reader.rows(sql + tail, [*params, *tail_params])]

    def _unvalued(self, after: Position | None, fetch: int, skip: int) -> list[Position]:
        column = "e.id" if self.walk else "ids.id"
        missing = (f"NOT EXISTS (SELECT 1 FROM search m WHERE m.entity_id = {column} AND m.key = ? "
                   "AND m.value > '')")
        if self.walk:
            where, params = _predicate(self.sets, column)
            sql, params = f"SELECT e.id FROM entities e WHERE {missing} AND {where}", [self.key, *params]
        else:
            ids, params = self._ids()
            sql, params = f"SELECT ids.id FROM {ids} WHERE {missing}", [*params, self.key]
        if after is not None:
            sql += f" AND {column} {self.op} ?"
            params.append(after[1])
        tail, tail_params = self._tail(column, fetch, skip)
        return [(None, row[0]) for row in self.reader.rows(sql + tail, [*params, *tail_params])]

    def _uid(self, after: Position | None, fetch: int, skip: int) -> list[Position]:
        if self.walk:
            where, params = _predicate(self.sets, "e.id")
            sql = f"SELECT e.uid, e.id FROM entities e WHERE {where}"
        else:
            ids, params = self._ids()
            sql = f"SELECT e.uid, e.id FROM {ids} CROSS JOIN entities e ON e.id = ids.id WHERE 1"
        if after is not None:
            sql += f" AND (e.uid, e.id) {self.op} (?, ?)"
            params = [*params, after[0], after[1]]
        tail, tail_params = self._tail("e.uid, e.id", fetch, skip)
        return [(row[0], row[1]) for row in self.reader.rows(sql + tail, [*params, *tail_params])]

    def count_valued(self) -> int:
        ids, params = self._ids()
        sql = (f"SELECT count(*) FROM {ids} CROSS JOIN search s ON s.entity_id = ids.id AND s.key = ? "
               "WHERE s.value > ''")
        return self.reader.rows(sql, [*params, self.key])[0][0]


# ---------------------------------------------------------------------------------------------------------
# Facets and batches


def entity_facets(store: CatalogStore, facets: Sequence[str],
                  entity_filter: EntityFilter | None = None) -> dict[str, Any]:
    """`GET /entity-facets`: `{facets: {<facet>: [{value, count}]}}`, most frequent first. Values that
    differ only in case are one facet value (filters ignore case too), shown in one of their spellings;
    Backstage lists each spelling apart."""
    if not facets:
        raise InputError("Missing facet parameter, expected at least one facet=<field>")
    keys = sorted({f.lower() for f in facets})
    sql = (f"SELECT f.key, min(f.original_value), count(*) FROM search f "
           f"WHERE f.key IN ({','.join('?' * len(keys))}) AND f.original_value IS NOT NULL")
    params: list[Any] = list(keys)
    ids, id_params = _idset(_conditions(entity_filter))
    if entity_filter:
        sql += f" AND f.entity_id IN ({ids})"
        params += id_params
    with store.reading() as reader:
        rows = reader.rows(sql + " GROUP BY f.key, f.value", params)  # the primary key's order: no sort
        if UID_KEY in keys:
            rows += [(UID_KEY, uid, 1) for (uid,) in reader.rows(
                f"SELECT e.uid FROM entities e WHERE e.id IN ({ids})", id_params)]
    counts: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for key, value, count in rows:
        counts[key].append({"value": value, "count": count})
    return {"facets": {facet: sorted(counts[facet.lower()], key=lambda c: (-c["count"], c["value"]))
                       for facet in facets}}


def entities_by_refs(store: CatalogStore, refs: Sequence[str], fields: Sequence[str] | None = None,
                     entity_filter: EntityFilter | None = None) -> list[dict[str, Any] | None]:
    """The entity for each ref (None where there is none, or it does not match the filter), in order."""
    items = store.entities_by_refs(refs)
    if entity_filter:
        wanted = sorted({c for c in (canonical_ref(r) if isinstance(r, str) else None for r in refs) if c})
        where, params = filter_sql(entity_filter)
        matching: set[str] = set()
        with store.reading() as reader:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                matching.update(row[0] for row in reader.rows(
                    f"SELECT e.ref FROM entities e WHERE e.ref IN ({','.join('?' * len(chunk))}) AND {where}",
                    [*chunk, *params]))
        items = [e if e is not None and canonical_ref(r) in matching else None
                 for r, e in zip(refs, items, strict=True)]
    return [project_fields(e, fields) if e is not None else None for e in items]
