"""Signed, expiring tokens for the links we mail (activation, password reset, email change).

A token is ``<payload>.<mac>``: the payload (base64url JSON) says what the link is for, whose
account and until when; the MAC also covers ``bound``, a piece of the account's current state
that the link's use changes (the password hash for a reset, the active flag for an activation,
the address for an email change). Following the link changes that state, so every link works
once, and a newer password also voids every reset link mailed before it, without a table of
used tokens.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any


class BadToken(Exception):
    """Forged, damaged, expired, used, or made for something else: the holder learns no more."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Token:
    purpose: str
    user_id: int
    expires: int
    data: dict[str, Any]


class TokenSigner:
    """Makes and checks tokens with one key (derived from ``session.secret``)."""

    def __init__(self, key: str) -> None:
        self.key = key.encode()

    def _mac(self, payload: str, bound: str) -> str:
        message = payload.encode() + b"\0" + bound.encode()
        return _b64(hmac.new(self.key, message, hashlib.sha256).digest())

    def make(self, purpose: str, user_id: int, max_age: int, bound: str = "", *,
             now: float | None = None, **data: Any) -> str:
        """A token for ``purpose`` valid ``max_age`` seconds while ``bound`` stays the same."""
        expires = int((time.time() if now is None else now) + max_age)
        body = {"p": purpose, "u": user_id, "e": expires, "d": data}
        payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{self._mac(payload, bound)}"

    def peek(self, token: str, purpose: str, *, now: float | None = None) -> Token:
        """Read a token whose MAC is still to be checked with :meth:`check` (which needs the
        account the payload names). Raises BadToken when it is malformed or expired."""
        try:
            payload, _mac = token.split(".", 1)
            body = json.loads(_unb64(payload))
            parsed = Token(str(body["p"]), int(body["u"]), int(body["e"]), dict(body["d"]))
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            raise BadToken from None
        if parsed.purpose != purpose or parsed.expires < (time.time() if now is None else now):
            raise BadToken
        return parsed

    def check(self, token: str, bound: str) -> None:
        """Raise BadToken unless the MAC matches ``bound`` (the account's current state)."""
        payload, _, mac = token.partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(payload, bound).encode()):
            raise BadToken
