"""Durable object storage on SQLite in WAL mode.

WAL with `synchronous=NORMAL` keeps every committed transaction across a process crash (`kill -9`):
the committed pages are in the WAL file in the OS page cache before `commit()` returns. Only a power
loss can drop the last transactions, a trade upstream's etcd makes differently; `durable=True`
switches to `synchronous=FULL` for users who want that too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from .encryption import Encryptor

Key = tuple[str, str, str, str]  # group, resource, namespace, name


class SqliteBackend:
    def __init__(self, path: Path | str, *, durable: bool = False, encryptor: Encryptor | None = None) -> None:
        self.path = str(path)
        self.encryptor = encryptor
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects (grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, "
            "name TEXT NOT NULL, rv INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (grp, res, ns, name))")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def last_resource_version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()
        stored = int(row[0]) if row else 0
        row = self._db.execute("SELECT MAX(rv) FROM objects").fetchone()
        return max(stored, int(row[0] or 0))

    def load(self) -> Iterator[tuple[Key, int, bytes]]:
        for grp, res, ns, name, rv, data in self._db.execute(
                "SELECT grp, res, ns, name, rv, data FROM objects ORDER BY grp, res, ns, name"):
            yield (grp, res, ns, name), rv, self._open((grp, res, ns, name), bytes(data))

    def commit(self, rv: int, puts: list[tuple[Key, bytes]], deletes: list[Key]) -> None:
        """Writes one transaction: the objects, the deletions and the new global resourceVersion.

        The global resourceVersion is the larger of `meta.rv` and the objects' own; a write of objects only
        needs no `meta` row (one statement, its own transaction), a deletion records it there.
        """
        db = self._db
        puts = [(key, self._seal(key, data)) for key, data in puts]
        if len(puts) == 1 and not deletes:
            db.execute("INSERT OR REPLACE INTO objects (grp, res, ns, name, rv, data) VALUES (?,?,?,?,?,?)",
                       (*puts[0][0], rv, puts[0][1]))
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            for key, data in puts:
                db.execute("INSERT OR REPLACE INTO objects (grp, res, ns, name, rv, data) VALUES (?,?,?,?,?,?)",
                           (*key, rv, data))
            for key in deletes:
                db.execute("DELETE FROM objects WHERE grp=? AND res=? AND ns=? AND name=?", key)
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?)", (str(rv),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _seal(self, key: Key, data: bytes) -> bytes:
        if self.encryptor is not None and self.encryptor.applies(key[0], key[1]):
            return self.encryptor.encrypt(data, "/".join(key).encode())
        return data

    def _open(self, key: Key, data: bytes) -> bytes:
        if self.encryptor is not None:
            return self.encryptor.decrypt(data, "/".join(key).encode())
        return data

    def close(self) -> None:
        self._db.close()
