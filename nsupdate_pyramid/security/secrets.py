"""Update secrets of hosts: generated here, stored only as a salted hash.

The secrets are random and long, so a fast salted SHA-256 is enough (a slow hash
would only slow down the update API). nsupdate.info's argon2 and salted-SHA1
hashes are still accepted so imported hosts keep working.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# No 0/O, 1/l/I: people type these into router web UIs.
ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SECRET_LENGTH = 22  # about 126 bits
SCHEME = "sha256"
_legacy_argon2 = PasswordHasher()
_DUMMY = f"{SCHEME}$0000000000000000$" + "0" * 64


def generate_secret(length: int = SECRET_LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def hash_secret(secret: str) -> str:
    salt = secrets.token_hex(8)
    digest = hashlib.sha256((salt + secret).encode()).hexdigest()
    return f"{SCHEME}${salt}${digest}"


def _check_salted(encoded: str, secret: str, algorithm: str) -> bool:
    try:
        _scheme, salt, expected = encoded.split("$", 2)
    except ValueError:
        return False
    digest = hashlib.new(algorithm, (salt + secret).encode(), usedforsecurity=False).hexdigest()
    return hmac.compare_digest(digest, expected)


def verify_secret(encoded: str | None, secret: str) -> bool:
    """True if ``secret`` matches ``encoded``; None/empty checks a dummy so timing is alike."""
    if not encoded:
        _check_salted(_DUMMY, secret, "sha256")
        return False
    if encoded.startswith(SCHEME + "$"):
        return _check_salted(encoded, secret, "sha256")
    if encoded.startswith("sha1$"):
        return _check_salted(encoded, secret, "sha1")
    if encoded.startswith("weakargon2$"):
        try:
            return _legacy_argon2.verify(encoded[len("weakargon2"):], secret)
        except (VerificationError, InvalidHashError):
            return False
    return False


def needs_rehash(encoded: str) -> bool:
    return not encoded.startswith(SCHEME + "$")
