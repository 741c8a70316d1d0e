"""NOTIFY (RFC 1996) to the secondaries after a zone's serial moved, so they transfer at once.

Each (zone, secondary) pair has at most one task: a newer serial replaces a pending retry.
Runs on the server's event loop; queries are never kept waiting by it.
"""
from __future__ import annotations

import asyncio
import logging

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype

log = logging.getLogger(__name__)

#: Seconds to wait for an answer on each try (RFC 1996 suggests retrying with back-off).
TIMEOUTS = (0.5, 1.0, 2.0, 4.0, 8.0)


def notify_message(zone: dns.name.Name, soa: dns.rrset.RRset | None = None) -> dns.message.Message:
    message = dns.message.make_query(zone, dns.rdatatype.SOA)
    message.flags = dns.flags.AA  # and no RD; the opcode lives in the flags too, so set it after
    message.set_opcode(dns.opcode.NOTIFY)
    if soa is not None:
        message.answer.append(soa)
    return message


class Notifier:
    def __init__(self, targets: tuple[tuple[str, int], ...]) -> None:
        self.targets = targets
        self._tasks: dict[tuple[dns.name.Name, str, int], asyncio.Task[None]] = {}

    def zone_changed(self, zone: dns.name.Name, soa: dns.rrset.RRset) -> None:
        """Start (or restart) notifying every secondary of ``zone``; returns at once."""
        for address, port in self.targets:
            key = (zone, address, port)
            pending = self._tasks.pop(key, None)
            if pending is not None:
                pending.cancel()
            task = asyncio.get_running_loop().create_task(self._notify(zone, soa, address, port))
            self._tasks[key] = task
            task.add_done_callback(lambda done, key=key: self._forget(key, done))

    def _forget(self, key: tuple[dns.name.Name, str, int], task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    async def _notify(self, zone: dns.name.Name, soa: dns.rrset.RRset, address: str, port: int) -> None:
        for attempt, timeout in enumerate(TIMEOUTS, 1):
            message = notify_message(zone, soa)
            try:
                response = await dns.asyncquery.udp(message, address, port=port, timeout=timeout)
            except (dns.exception.DNSException, OSError) as exc:
                log.debug("NOTIFY %s to %s port %d, try %d: %s", zone, address, port, attempt, exc)
                continue
            if response.rcode() != dns.rcode.NOERROR:
                log.warning("NOTIFY %s: %s port %d answered %s", zone, address, port,
                            dns.rcode.to_text(response.rcode()))
            else:
                log.debug("NOTIFY %s acknowledged by %s port %d", zone, address, port)
            return
        log.warning("NOTIFY %s: no answer from %s port %d after %d tries", zone, address, port,
                    len(TIMEOUTS))

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
