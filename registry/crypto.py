"""Encryption at rest for biometric data (AES-256-GCM, key from settings).

Each ciphertext is bound to the record it belongs to (associated data), so a blob copied onto
another row does not decrypt. Format: b"\\x01" + 12-byte nonce + ciphertext-with-tag.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from registry.config import ConfigError, get_settings

_VERSION = b"\x01"


class DecryptionFailed(RuntimeError):
    """The blob was not written with this key for this record."""


def key_fingerprint() -> str:
    """A short public fingerprint of the secret and biometric keys (never the keys): a backup
    names it, so a restore can refuse an installation with other keys (whose encrypted data it
    could not read)."""
    settings = get_settings()
    digest = hmac.new(
        _key(), settings.resolved_secret_key().encode() + b"|registry keys v1", hashlib.sha256
    )
    return digest.hexdigest()[:32]


def _key() -> bytes:
    settings = get_settings()
    return _derive(settings.biometric_key, settings.resolved_secret_key())


@lru_cache(maxsize=4)
def _derive(biometric_key: str, secret_key: str) -> bytes:
    """The AES key (cached: re-clearing an event decrypts thousands of encodings)."""
    if biometric_key:
        try:
            key = base64.urlsafe_b64decode(biometric_key + "=" * (-len(biometric_key) % 4))
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise ConfigError(
                "REGISTRY_BIOMETRIC_KEY must be 32 bytes, base64url-encoded (e.g. python3 -c "
                "'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')."
            )
        return key
    # Without a dedicated key, derive one from the secret key (a separate, domain-bound key).
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"registry biometric data v1"
    ).derive(secret_key.encode())


def key_from(*, biometric_key: str = "", secret_key: str = "") -> bytes:
    """The AES key a given configuration used (to rotate from an old one)."""
    return _derive(biometric_key, secret_key)


def encrypt(plaintext: bytes, *, bound_to: str, key: bytes | None = None) -> bytes:
    nonce = os.urandom(12)
    aes = AESGCM(key or _key())
    return _VERSION + nonce + aes.encrypt(nonce, plaintext, bound_to.encode())


def decrypt(blob: bytes, *, bound_to: str, key: bytes | None = None) -> bytes:
    if len(blob) < 29 or blob[:1] != _VERSION:
        raise DecryptionFailed("unknown ciphertext format")
    try:
        return AESGCM(key or _key()).decrypt(blob[1:13], blob[13:], bound_to.encode())
    except InvalidTag:
        raise DecryptionFailed("ciphertext does not match its key or record") from None


def reencrypt(blob: bytes, *, bound_to: str, old: bytes) -> bytes | None:
    """`blob` under the current key: None when it already is; re-sealed when it was under
    `old`; DecryptionFailed when it is under neither."""
    try:
        decrypt(blob, bound_to=bound_to)
        return None
    except DecryptionFailed:
        pass
    return encrypt(decrypt(blob, bound_to=bound_to, key=old), bound_to=bound_to)
