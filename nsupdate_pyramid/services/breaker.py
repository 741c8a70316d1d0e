"""A per-domain circuit breaker for nameserver failures.

When a domain's nameserver times out or rejects our key, every further update
would wait for the same failure (seconds each) while routers keep retrying.
After ``threshold`` consecutive failures the breaker opens: updates answer
``dnserr`` at once until ``pause`` seconds have passed, then one request may
try again. It lives in the process; the domain's ``available`` flag, which
belongs to its owner, is never touched.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _State:
    failures: int = 0
    open_until: float = 0.0
    reason: str = ""


class CircuitBreaker:
    def __init__(self, threshold: int, pause: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.pause = pause
        self.clock = clock
        self._states: dict[int, _State] = {}
        self._lock = threading.Lock()

    def blocked(self, domain_id: int) -> str | None:
        """The reason updates to this domain are paused now, or None."""
        if self.threshold <= 0:
            return None
        with self._lock:
            state = self._states.get(domain_id)
            if state is None or state.open_until <= self.clock():
                return None
            return state.reason

    def failure(self, domain_id: int, reason: str) -> None:
        if self.threshold <= 0:
            return
        with self._lock:
            state = self._states.setdefault(domain_id, _State())
            state.failures += 1
            if state.failures >= self.threshold:
                state.open_until = self.clock() + self.pause
                state.reason = reason

    def success(self, domain_id: int) -> None:
        if self._states.get(domain_id) is None:
            return
        with self._lock:
            self._states.pop(domain_id, None)
