"""Password hashing for people: argon2id, with legacy Django hashes accepted and upgraded."""
from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this when the user does not exist costs the same time as a real check.

    Made on first use: hashing at import would slow every start-up (the CLI's too).
    """
    return _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify_django_pbkdf2(encoded: str, password: str) -> bool:
    try:
        _algorithm, iterations, salt, expected = encoded.split("$", 3)
        rounds = int(iterations)
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds)
    return hmac.compare_digest(base64.b64encode(digest).decode("ascii"), expected)


def _verify_django_sha1(encoded: str, password: str) -> bool:
    try:
        _algorithm, salt, expected = encoded.split("$", 2)
    except ValueError:
        return False
    digest = hashlib.sha1((salt + password).encode(), usedforsecurity=False).hexdigest()
    return hmac.compare_digest(digest, expected)


def verify_password(encoded: str | None, password: str) -> bool:
    """True if ``password`` matches; an unknown or empty hash never matches."""
    if not encoded:
        _dummy_check(password)
        return False
    if encoded.startswith("$argon2"):
        try:
            return _hasher.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return False
    if encoded.startswith("pbkdf2_sha256$"):
        return _verify_django_pbkdf2(encoded, password)
    if encoded.startswith("sha1$"):
        return _verify_django_sha1(encoded, password)
    return False


def _dummy_check(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_dummy_hash(), password + "\0")


def dummy_verify(password: str) -> None:
    """Spend the time of a real check, for logins of users that do not exist."""
    _dummy_check(password)


def needs_rehash(encoded: str) -> bool:
    """Legacy and outdated hashes are replaced after the next successful login."""
    if not encoded.startswith("$argon2id$"):
        return True
    try:
        return _hasher.check_needs_rehash(encoded)
    except InvalidHashError:
        return True
