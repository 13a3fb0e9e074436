"""AES-256-GCM at rest: format, fresh nonces, binding to row and column, several keys, rotation."""
from __future__ import annotations

import base64
import os
import uuid

import pytest

from webapp.crypto import KeyConfigError, SecretBox, UndecryptableSecret, binding


def key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


ROW = uuid.uuid4()
HERE = binding("calendar_connections", "access_token", ROW)


def test_format_is_versioned_with_key_id_and_fresh_nonce():
    box = SecretBox.from_setting(f"k2026:{key()}")
    first, second = box.encrypt("ya29.secret", bound_to=HERE), box.encrypt("ya29.secret", bound_to=HERE)
    version, key_id, payload = first.split(":")
    assert (version, key_id) == ("v1", "k2026")
    raw = base64.urlsafe_b64decode(payload + "==")
    assert len(raw) == 12 + len("ya29.secret") + 16  # nonce, ciphertext, tag
    assert first.split(":")[2][:16] != second.split(":")[2][:16]  # a fresh 96-bit nonce every time
    assert "ya29.secret" not in first
    assert box.decrypt(first, bound_to=HERE) == "ya29.secret"


def test_ciphertext_is_bound_to_its_row_and_column():
    box = SecretBox.from_setting(f"a:{key()}")
    sealed = box.encrypt("refresh-me", bound_to=HERE)
    for elsewhere in (binding("calendar_connections", "access_token", uuid.uuid4()),
                      binding("calendar_connections", "refresh_token", ROW),
                      binding("oauth_states", "access_token", ROW)):
        with pytest.raises(UndecryptableSecret):
            box.decrypt(sealed, bound_to=elsewhere)


def test_tampering_is_detected():
    box = SecretBox.from_setting(f"a:{key()}")
    sealed = box.encrypt("refresh-me", bound_to=HERE)
    version, key_id, payload = sealed.split(":")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    broken_values = (f"{version}:{key_id}:{flipped}", f"{version}:{key_id}:{payload[:10]}", "plaintext",
                     f"v9:a:{payload}")
    for broken in broken_values:
        with pytest.raises(UndecryptableSecret):
            box.decrypt(broken, bound_to=HERE)


def test_first_key_encrypts_and_every_key_decrypts():
    old, new = key(), key()
    before = SecretBox.from_setting(f"old:{old}").encrypt("t", bound_to=HERE)
    box = SecretBox.from_setting(f"new:{new},old:{old}")
    assert box.decrypt(before, bound_to=HERE) == "t"
    assert box.encrypt("t", bound_to=HERE).startswith("v1:new:")
    with pytest.raises(UndecryptableSecret):
        SecretBox.from_setting(f"new:{new}").decrypt(before, bound_to=HERE)


@pytest.mark.parametrize("setting, message", [
    ("", "holds no key"), ("nokey", "id:base64key"), ("a:" + base64.b64encode(b"short").decode(), "32 bytes"),
    ("a:" + "A" * 43 + ",a:" + "B" * 43, "repeats"),
])
def test_bad_key_settings_are_refused(setting, message):
    with pytest.raises(KeyConfigError, match=message):
        SecretBox.from_setting(setting)
