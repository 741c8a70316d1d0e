"""A backend that keeps records in a dict: for tests of the logic above DNS, and demos."""
from __future__ import annotations

import threading
from typing import Any

from zope.interface import implementer

from ..interfaces import IDNSBackend
from .zone import CheckResult, ZoneInfo


@implementer(IDNSBackend)
class MemoryBackend:
    def __init__(self, name: str) -> None:
        self.name = name
        self.records: dict[tuple[str, str, str], list[str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def create_service(cls, name: str, settings: dict[str, Any]) -> MemoryBackend:
        return cls(name)

    def update(self, zone: ZoneInfo, name: str, rdtype: str, values: list[str],
               ttl: int | None = None) -> None:
        with self._lock:
            self.records[(zone.name, name, rdtype)] = list(values)

    def delete(self, zone: ZoneInfo, name: str, rdtype: str) -> None:
        with self._lock:
            self.records.pop((zone.name, name, rdtype), None)

    def query(self, zone: ZoneInfo, name: str, rdtype: str) -> list[str]:
        with self._lock:
            return list(self.records.get((zone.name, name, rdtype), []))

    def check(self, zone: ZoneInfo) -> CheckResult:
        return CheckResult(True, "in-memory backend")
