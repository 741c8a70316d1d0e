"""What the overview page shows besides the rows: what the nameservers answer for the hosts.

These are hints next to what we published, so they are bounded: at most ``limit`` hosts are
asked about, nothing new is started once ``budget`` seconds have passed (one backend call can
still take its own timeout), and a domain whose nameserver failed once is not asked again.
A failure is "unknown" (None), never an error.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..dns.errors import DNSBackendError
from .domains import zone_info

#: Record types shown, by address family.
RDTYPES = (("ipv4", "A"), ("ipv6", "AAAA"))


@dataclass(frozen=True)
class Answers:
    """What the nameserver serves for one host (None: not asked or no answer)."""

    ipv4: tuple[str, ...] | None = None
    ipv6: tuple[str, ...] | None = None

    def differs(self, family: str, published: str) -> bool:
        """The nameserver answered something else than what we last published."""
        values = getattr(self, family)
        return values is not None and tuple(values) != ((published,) if published else ())


def nameserver_answers(hosts: Iterable[Any], backend_for: Callable[[str], Any | None],
                       default_ttl: int, *, budget: float = 2.0, limit: int = 25
                       ) -> Mapping[str, Answers]:
    """fqdn -> Answers for the first ``limit`` hosts, asked through each domain's backend."""
    deadline = time.monotonic() + budget
    failed: set[str] = set()
    answers: dict[str, Answers] = {}
    for host in list(hosts)[:limit]:
        domain = host.domain
        backend = backend_for(domain.backend)
        if backend is None or domain.name in failed or time.monotonic() >= deadline:
            continue
        zone = zone_info(domain, default_ttl)
        found: dict[str, tuple[str, ...]] = {}
        try:
            for family, rdtype in RDTYPES:
                found[family] = tuple(sorted(backend.query(zone, host.name, rdtype)))
        except (DNSBackendError, OSError, ValueError):
            failed.add(domain.name)
            continue
        answers[host.fqdn] = Answers(**found)
    return answers
