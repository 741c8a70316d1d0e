"""Address detection for the pages: which IPv4 and which IPv6 address does this browser use?

A page cannot learn both from one request, so it loads a tiny beacon from the
IPv4-only and the IPv6-only host name (``nsupdate.ipv4_host``/``ipv6_host``):
``/detectip/<token>/`` records the caller's address under the page's token, and
``/detectip/<token>.json`` on the main host reads what was seen. Tokens are
issued by the page, live 60 s and are kept in this process only (bounded).
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict

TOKEN_LIFETIME = 60.0
MAX_TOKENS = 10_000


class DetectIPStore:
    def __init__(self, lifetime: float = TOKEN_LIFETIME, max_tokens: int = MAX_TOKENS) -> None:
        self.lifetime = lifetime
        self.max_tokens = max_tokens
        self._entries: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def new_token(self) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._expire(time.monotonic())
            while len(self._entries) >= self.max_tokens:
                self._entries.popitem(last=False)
            self._entries[token] = (time.monotonic(), {})
        return token

    def _expire(self, now: float) -> None:
        while self._entries:
            token, (created, _) = next(iter(self._entries.items()))
            if now - created < self.lifetime:
                break
            del self._entries[token]

    def record(self, token: str, address: str, version: int) -> bool:
        """Remember ``address`` for a token we issued; unknown tokens are ignored."""
        with self._lock:
            self._expire(time.monotonic())
            entry = self._entries.get(token)
            if entry is None:
                return False
            entry[1][f"ipv{version}"] = address
            return True

    def seen(self, token: str) -> dict[str, str] | None:
        with self._lock:
            self._expire(time.monotonic())
            entry = self._entries.get(token)
            return dict(entry[1]) if entry is not None else None
