"""Provider secrets at rest: AES-256-GCM with a fresh 96-bit nonce, bound to the row and column they belong to.

Stored form: ``v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``. The associated data is
``<table>.<column>.<row id>``, so a ciphertext copied to another row or column fails to decrypt.
TOKEN_ENCRYPTION_KEYS is ``id:base64key[,id:base64key…]``: the first key encrypts, every key decrypts.
"""
from __future__ import annotations

import base64
import binascii
import os
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

VERSION = "v1"
NONCE_BYTES = 12


class KeyConfigError(ValueError):
    pass


class UndecryptableSecret(Exception):
    """Tampered, truncated, bound to another row, or encrypted under a key we no longer have."""


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def binding(table: str, column: str, row_id: uuid.UUID | str) -> bytes:
    return f"{table}.{column}.{row_id}".encode()


@dataclass(frozen=True)
class SecretBox:
    keys: tuple[tuple[str, AESGCM], ...]  # (key id, cipher); the first encrypts

    @classmethod
    def from_setting(cls, setting: str) -> SecretBox:
        keys = []
        for entry in filter(None, (part.strip() for part in setting.split(","))):
            key_id, _, encoded = entry.partition(":")
            if not key_id or not encoded or ":" in key_id:
                raise KeyConfigError("each TOKEN_ENCRYPTION_KEYS entry must look like id:base64key")
            try:
                raw = _b64decode(encoded)
            except (binascii.Error, ValueError) as error:
                raise KeyConfigError(f"key {key_id!r} is not valid base64") from error
            if len(raw) != 32:
                raise KeyConfigError(f"key {key_id!r} must be 32 bytes (AES-256), got {len(raw)}")
            keys.append((key_id, AESGCM(raw)))
        if not keys:
            raise KeyConfigError("TOKEN_ENCRYPTION_KEYS holds no key")
        if len({key_id for key_id, _ in keys}) != len(keys):
            raise KeyConfigError("TOKEN_ENCRYPTION_KEYS repeats a key id")
        return cls(tuple(keys))

    @property
    def current_key_id(self) -> str:
        return self.keys[0][0]

    def encrypt(self, plaintext: str, *, bound_to: bytes) -> str:
        key_id, aead = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext.encode(), bound_to)
        return f"{VERSION}:{key_id}:{_b64encode(nonce + sealed)}"

    def decrypt(self, stored: str, *, bound_to: bytes) -> str:
        version, key_id, payload = _split(stored)
        aead = dict(self.keys).get(key_id)
        if version != VERSION or aead is None:
            raise UndecryptableSecret(f"unknown format or key id {key_id!r}")
        try:
            raw = _b64decode(payload)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to).decode()
        except (InvalidTag, binascii.Error, ValueError, UnicodeDecodeError) as error:
            raise UndecryptableSecret("ciphertext failed authentication") from error

    def key_id_of(self, stored: str) -> str:
        return _split(stored)[1]


def _split(stored: str) -> tuple[str, str, str]:
    parts = stored.split(":", 2)
    if len(parts) != 3:
        raise UndecryptableSecret("not an encrypted value")
    return parts[0], parts[1], parts[2]


def secret_box() -> SecretBox:
    """The app's box, built from TOKEN_ENCRYPTION_KEYS at start-up (a bad setting stops start-up)."""
    return current_app.extensions["almanac_secret_box"]
