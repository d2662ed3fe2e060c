"""Audit log: one JSON line per request (who, what, on which object, with which result)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO, Any

import orjson

from .rbac import UserInfo
from .requestinfo import RequestInfo


class AuditLog:
    def __init__(self, path: Path | None) -> None:
        self._file: IO[bytes] | None = open(path, "ab", buffering=0) if path else None  # noqa: SIM115

    def record(self, user: UserInfo | None, info: RequestInfo | None, method: str, path: str, code: int,
               seconds: float) -> None:
        if self._file is None:
            return
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "user": user.name if user else None,
            "groups": list(user.groups) if user else [],
            "verb": info.verb if info else method.lower(),
            "code": code,
            "latencyMs": round(seconds * 1000, 2),
        }
        if info is not None and info.resource_request:
            entry.update({"group": info.api_group, "resource": info.resource, "namespace": info.namespace,
                          "name": info.name, "subresource": info.subresource})
        else:
            entry["path"] = path
        self._file.write(orjson.dumps(entry) + b"\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
