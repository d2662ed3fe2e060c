"""Encryption at rest for sensitive resources (Secrets by default), AES-256-GCM.

Each stored value is `k8s:enc:aesgcm:v1:<key id>:` + nonce + ciphertext, with the object's storage
key as associated data, so a ciphertext copied to another object's row does not decrypt. The key
lives in `auth/encryption.key` (mode 0600) beside the database, never in it.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = b"k8s:enc:aesgcm:v1:"
DEFAULT_ENCRYPTED = frozenset({("", "secrets")})


class Encryptor:
    def __init__(self, key: bytes, key_id: str = "key1",
                 resources: frozenset[tuple[str, str]] = DEFAULT_ENCRYPTED) -> None:
        if len(key) != 32:
            raise ValueError("the encryption key must be 32 bytes")
        self._aead = AESGCM(key)
        self.key_id = key_id
        self.resources = resources
        self._prefix = PREFIX + key_id.encode() + b":"

    @classmethod
    def from_file(cls, path: Path) -> Encryptor:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64encode(secrets.token_bytes(32)) + b"\n")
        return cls(base64.b64decode(path.read_bytes().strip()))

    def applies(self, group: str, resource: str) -> bool:
        return (group, resource) in self.resources

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return self._prefix + nonce + self._aead.encrypt(nonce, data, aad)

    def decrypt(self, data: bytes, aad: bytes) -> bytes:
        if not data.startswith(PREFIX):
            return data  # written before encryption was enabled
        if not data.startswith(self._prefix):
            raise ValueError("stored value was encrypted with an unknown key id")
        body = data[len(self._prefix):]
        try:
            return self._aead.decrypt(body[:12], body[12:], aad)
        except InvalidTag:
            raise ValueError("stored value failed authentication (wrong key or tampered row)") from None
