"""The nameserver put together: sockets, the zone copy, its refresher and NOTIFY.

``Nameserver`` runs on an asyncio loop (``nsupdate-nameserver`` gives it the main thread);
``ThreadedNameserver`` runs one in a daemon thread of its own loop (the embedded mode under
``pserve``, and the tests).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Iterable
from typing import Any

from .config import ServerConfig
from .listeners import QueryHandler, UDPListener, tcp_client_handler
from .notify import Notifier
from .refresher import Refresher
from .source import ZoneSource
from .zonedata import Snapshot, ZoneData

log = logging.getLogger(__name__)

TCP_BACKLOG = 128


class NameserverError(Exception):
    """The nameserver cannot run (e.g. an address cannot be bound); str() is one line."""


def where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind(host: str, port: int, kind: socket.SocketKind) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if family == socket.AF_INET6:  # [::] must not also take 0.0.0.0's port
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Nameserver:
    def __init__(self, config: ServerConfig, source: ZoneSource) -> None:
        self.config = config
        self.snapshot = Snapshot()
        self.handler = QueryHandler(config, lambda: self.snapshot)
        self.notifier = Notifier(config.notify)
        self.refresher = Refresher(source, config, self._publish, self._changed, self._patched)
        self._closers: list[Any] = []
        self._poll: asyncio.Task[None] | None = None

    def _publish(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot  # one reference swap: queries see the old or the new copy

    def _patched(self, zone: ZoneData, keys: Iterable[bytes], everything: bool) -> None:
        self.handler.cache.forget(zone.origin_wire, keys, everything)

    def _changed(self, zone: ZoneData) -> None:
        self.notifier.zone_changed(zone.origin, zone.soa)

    async def start(self) -> None:
        """Bind every address (NameserverError if one fails), load the zones, start polling."""
        sockets: list[tuple[socket.socket, socket.socket]] = []
        try:
            for host, port in self.config.listen:
                try:
                    udp = _bind(host, port, socket.SOCK_DGRAM)
                    try:
                        tcp = _bind(host, port, socket.SOCK_STREAM)
                        tcp.listen(TCP_BACKLOG)
                    except OSError:
                        udp.close()
                        raise
                except OSError as exc:
                    raise NameserverError(f"cannot listen on {where(host, port)}: "
                                          f"{exc.strerror or exc}") from None
                sockets.append((udp, tcp))
        except NameserverError:
            for pair in sockets:
                for sock in pair:
                    sock.close()
            raise
        # Load before answering, so a fresh start never refuses a zone it serves.
        await self.refresher.refresh()
        loop = asyncio.get_running_loop()
        for udp, tcp in sockets:
            self._closers.append(UDPListener(self.handler, udp))
            server = await asyncio.start_server(tcp_client_handler(self.handler), sock=tcp)
            self._closers.append(server)
            log.info("nameserver listening on %s (UDP and TCP)", where(*udp.getsockname()[:2]))
        self._poll = loop.create_task(self.refresher.run())

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where it listens (useful with port 0)."""
        return [tuple(closer.get_extra_info("sockname")[:2]) for closer in self._closers
                if isinstance(closer, UDPListener)]

    async def stop(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        self.notifier.cancel_all()
        for closer in self._closers:
            closer.close()
        for closer in self._closers:
            if isinstance(closer, asyncio.base_events.Server):
                await closer.wait_closed()
        self._closers.clear()
        self.refresher.close()

    async def serve_until(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()


class ThreadedNameserver:
    """A Nameserver on its own event loop in a daemon thread; start() returns once it answers."""

    def __init__(self, config: ServerConfig, source: ZoneSource) -> None:
        self.server = Nameserver(config, source)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 30.0) -> ThreadedNameserver:
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), name="nameserver",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise NameserverError(f"the nameserver did not start within {timeout:g} s")
        if self._error is not None:
            raise self._error
        return self

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.stop()

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)


def start_embedded(registry: Any) -> ThreadedNameserver | None:
    """``nameserver.embedded = true``: serve from the app's own engine in a daemon thread.

    A nameserver that cannot start (port taken) is logged, and the web app runs on without it.
    """
    settings = registry["nsupdate.settings"]
    engine = registry["dbsession_factory"].kw["bind"]
    server = ThreadedNameserver(ServerConfig.from_settings(settings), ZoneSource.from_engine(engine))
    try:
        server.start()
    except NameserverError as exc:
        log.error("embedded nameserver not started: %s", exc)
        return None
    registry["nsupdate.nameserver"] = server
    return server
