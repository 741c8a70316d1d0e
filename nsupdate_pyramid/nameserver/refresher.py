"""Keeps the snapshot in step with the database: one cheap poll of the serials every
``nameserver.poll_interval`` seconds, then for each zone whose serial moved, only what changed.

A dynamic zone changes every second, and reloading 100k records each time costs most of a
second of CPU and a second copy of the zone in memory. So a zone whose copy can be brought up
to date from the change log (records stamped with their serial, logged deletions) is patched
in place: the changed names' rows are read and packed in the worker thread, then applied on
the event loop between two queries, and only their kept answers are dropped. A zone is loaded
whole when that is not possible or not cheaper: its first load, a zone made again under the
same name (another id or generation), a serial that went backwards, deletions pruned past our serial, or more
names changed than ``patch_limit`` allows.

When the database is unreachable the last copy keeps being served; the outage and the
recovery are logged once each, and polling goes on.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import dns.name

from .config import ServerConfig
from .source import ZoneSource, ZoneState
from .zonedata import Snapshot, ZoneData

log = logging.getLogger(__name__)

#: Patch up to this many changed names, or a tenth of the zone if that is more; beyond, a
#: whole load costs about the same and leaves no stale corner.
PATCH_MIN = 1000


def patch_limit(zone: ZoneData) -> int:
    return max(PATCH_MIN, zone.size // 10)


class Refresher:
    def __init__(self, source: ZoneSource, config: ServerConfig,
                 publish: Callable[[Snapshot], None],
                 changed: Callable[[ZoneData], None],
                 patched: Callable[[ZoneData, Iterable[bytes], bool], None] | None = None) -> None:
        self.source = source
        self.config = config
        self.publish = publish  # swaps the server's snapshot
        self.changed = changed  # called for each zone with a new serial (NOTIFY)
        # Called after a zone was patched in place: its changed keys, and whether every answer
        # of the zone may have changed (wildcards); the kept answers must follow.
        self.patched = patched or (lambda zone, keys, everything: None)
        self.snapshot = Snapshot()
        # (id, generation) of the zones whose copies we hold.
        self.ids: dict[dns.name.Name, tuple[int, int]] = {}
        self.failing = False
        self.loads = 0  # whole loads and patches so far (logs, tests, the benchmark)
        self.patches = 0
        # One thread: database calls never overlap, and SQLite's begin mode is set per thread.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="nameserver-db")

    def _patchable(self, origin: dns.name.Name, current: ZoneData | None, state: ZoneState) -> bool:
        return (current is not None and self.ids.get(origin) == state.identity
                and state.serial > current.serial >= state.pruned)

    async def refresh(self) -> bool:
        """One poll; False when the database could not be read (the old copy stays)."""
        loop = asyncio.get_running_loop()
        try:
            states = await loop.run_in_executor(self._executor, self.source.serials)
            zones = dict(self.snapshot.zones)
            wanted = set()
            loaded = []
            for name, state in states.items():
                origin = dns.name.from_text(name)
                wanted.add(origin)
                current = zones.get(origin)
                if current is not None and current.serial == state.serial \
                        and self.ids.get(origin) == state.identity:
                    continue
                if current is not None and self._patchable(origin, current, state):
                    delta = await loop.run_in_executor(
                        self._executor, self.source.changes, name, state.id, current.serial,
                        self.config, patch_limit(current))
                    # Older than the copy only if the serial went backwards meanwhile: reload.
                    if delta is not None and delta.serial >= current.serial:
                        everything = current.apply(delta)  # no await: no query in between
                        self.patches += 1
                        self.patched(current, delta.names, everything)
                        log.debug("zone %s patched to serial %d, %d names", origin, delta.serial,
                                  len(delta.names))
                        self.changed(current)
                        continue
                # Read and built in the worker thread: a large zone never blocks the queries.
                zone = await loop.run_in_executor(self._executor, self.source.load, name, state.id,
                                                  self.config)
                if zone is None:
                    continue
                zones[origin] = zone
                loaded.append((zone, state.identity))
        except Exception as exc:  # any database failure: keep serving what we have
            if not self.failing:
                log.error("cannot read the zones from the database, serving the last copy "
                          "(%d zones) and retrying: %s", len(self.snapshot.zones), exc)
                self.failing = True
            return False
        if self.failing:
            log.warning("database reachable again; zones reloaded")
            self.failing = False
        removed = set(zones) - wanted
        for origin in removed:
            del zones[origin]
            self.ids.pop(origin, None)
            log.info("zone %s removed", origin)
        if loaded or removed:
            self.snapshot = Snapshot.of(zones)
            self.publish(self.snapshot)
            for zone, identity in loaded:
                self.ids[zone.origin] = identity
                self.loads += 1
                log.info("zone %s loaded, serial %d, %d names", zone.origin, zone.serial, zone.size)
                self.changed(zone)
        return True

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await asyncio.sleep(self.config.poll_interval)
            await self.refresh()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.source.close()
