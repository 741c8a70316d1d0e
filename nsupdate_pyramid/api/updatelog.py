"""One structured log line per update-API answer (logger ``nsupdate_pyramid.updates``).

``fqdn=… result=… status=… client=… tls=… agent=… ms=…``: enough to follow a router's
updates and measure them, and nothing secret (never the Authorization header, the password or
``key``, never the query string). When INFO is off for the logger this costs one level check.
"""
from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import threading
import time
from typing import Any

from ..services.dyndns import Answer, parse_basic_auth
from ..services.ipaddr import client_address_of, uses_tls
from .environment import query_params

log = logging.getLogger("nsupdate_pyramid.updates")
#: The fast path stamps each request with its start (time.perf_counter()) under this key.
STARTED = "nsupdate.started"


def _fqdn(environ: dict[str, Any], params: Any, fqdn: str) -> str:
    """The host the request is about: the URL's, the ``hostname`` parameter, or the Basic-auth
    user name (only the name: the secret after the colon is never kept)."""
    if fqdn:
        return fqdn
    if params is None:
        params = query_params(environ)
    hostname = params.get("hostname")
    if hostname:
        return hostname
    credentials = parse_basic_auth(environ.get("HTTP_AUTHORIZATION"))
    return credentials[0] if credentials else "-"


def log_answer(environ: dict[str, Any], settings: Any, answer: Answer, params: Any = None,
               fqdn: str = "") -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    started = environ.get(STARTED)
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else -1.0
    proxies = settings.trusted_proxies
    log.info("update fqdn=%s result=%r status=%d client=%s tls=%s agent=%r ms=%.1f",
             _fqdn(environ, params, fqdn)[:253], answer.body.replace("\n", ","), answer.status,
             client_address_of(environ, proxies), "yes" if uses_tls(environ, proxies) else "no",
             (environ.get("HTTP_USER_AGENT") or "")[:200], elapsed)


#: How often the background thread writes what has been queued (seconds).
WRITE_INTERVAL = 0.1


class BatchWriter:
    """Writes queued records every WRITE_INTERVAL seconds, a batch at a time.

    A thread woken for every record (logging's QueueListener) competed for the GIL with the
    request threads once per answer. Here plain stream and file handlers get one write and
    one flush per batch; any other handler (rotating files, syslog, ...) its usual handle()
    per record. Handler levels and filters apply as usual.
    """

    def __init__(self, records: queue.SimpleQueue[logging.LogRecord],
                 targets: list[logging.Handler]) -> None:
        self.records = records
        self.targets = targets
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="update-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(WRITE_INTERVAL):
            self.write_queued()
        self.write_queued()

    def write_queued(self) -> None:
        batch: list[logging.LogRecord] = []
        while True:
            try:
                batch.append(self.records.get_nowait())
            except queue.Empty:
                break
        if not batch:
            return
        for handler in self.targets:
            chosen = [record for record in batch
                      if record.levelno >= handler.level and handler.filter(record)]
            if not chosen:
                continue
            if type(handler) not in (logging.StreamHandler, logging.FileHandler) or \
                    getattr(handler, "stream", None) is None:
                for record in chosen:
                    handler.handle(record)
                continue
            handler.acquire()
            try:
                handler.stream.write("".join(handler.format(record) + handler.terminator
                                             for record in chosen))
                handler.flush()
            except Exception:  # as Handler.emit does: report, never raise into the app
                handler.handleError(chosen[0])
            finally:
                handler.release()


class _RecordQueue(logging.handlers.QueueHandler):
    """Queues the record as it is: formatting it (and copying it, as QueueHandler.prepare
    does) waits for the writer thread. Safe for this logger: its arguments are strings and
    numbers, which cannot change after the call, and it never logs exceptions."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


#: While queued: the writer, and the handlers and propagate flag the logger had before.
_queued: tuple[BatchWriter, list[logging.Handler], bool] | None = None


def queue_update_log() -> bool:
    """Hand this logger's records to a background thread that formats and writes them.

    Writing a line in the request thread meant a system call under the handler's lock for
    every answer: with 8 waitress threads they queued for that lock and the GIL, and
    bad_hosts answers fell from 7000/s to 4000/s at 32 connections. Now a request only puts
    the record on a queue. The handlers are the ones the logging configuration gave the
    logger (its own and, while it propagates, its ancestors'), taken once, at start-up.
    False when there is nothing to write to, or already queued.
    """
    global _queued
    if _queued is not None:
        return False
    targets: list[logging.Handler] = []
    current: logging.Logger | None = log
    while current is not None:
        targets.extend(current.handlers)
        current = current.parent if current.propagate else None
    if not targets:
        return False
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = BatchWriter(records, targets)
    writer.start()
    _queued = (writer, log.handlers[:], log.propagate)
    log.handlers = [_RecordQueue(records)]
    log.propagate = False
    atexit.register(unqueue_update_log)
    return True


def unqueue_update_log() -> None:
    """Write what is still queued and give the logger its own handlers back (at exit)."""
    global _queued
    if _queued is None:
        return
    writer, handlers, propagate = _queued
    _queued = None
    log.handlers, log.propagate = handlers, propagate
    writer.stop()
