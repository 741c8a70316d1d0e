"""Keeps the snapshot in step with the database: one cheap poll of the serials every
``nameserver.poll_interval`` seconds, a reload of only the zones whose serial moved.

When the database is unreachable the last snapshot keeps being served; the outage and the
recovery are logged once each, and polling goes on.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import dns.name

from .config import ServerConfig
from .source import ZoneSource
from .zonedata import Snapshot, ZoneData

log = logging.getLogger(__name__)


class Refresher:
    def __init__(self, source: ZoneSource, config: ServerConfig,
                 publish: Callable[[Snapshot], None],
                 changed: Callable[[ZoneData], None]) -> None:
        self.source = source
        self.config = config
        self.publish = publish  # swaps the server's snapshot
        self.changed = changed  # called for each zone loaded with a new serial (NOTIFY)
        self.snapshot = Snapshot()
        self.failing = False
        # One thread: database calls never overlap, and SQLite's begin mode is set per thread.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="nameserver-db")

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
                if current is not None and current.serial == state.serial:
                    continue
                # Read and built in the worker thread: a large zone never blocks the queries.
                zone = await loop.run_in_executor(self._executor, self.source.load, name, state.id,
                                                  self.config)
                if zone is None:
                    continue
                zones[origin] = zone
                loaded.append(zone)
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
            log.info("zone %s removed", origin)
        if loaded or removed:
            self.snapshot = Snapshot.of(zones)
            self.publish(self.snapshot)
            for zone in loaded:
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

