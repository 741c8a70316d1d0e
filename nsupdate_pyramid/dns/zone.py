"""What a backend needs to know about a domain, as a plain immutable value."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZoneInfo:
    name: str
    nameserver: str = ""
    nameserver2: str = ""
    port: int = 53
    tsig_key_name: str = ""
    tsig_algorithm: str = "hmac-sha512"
    tsig_secret: str = ""
    ttl: int = 60


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
