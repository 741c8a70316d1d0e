"""Passing a host's new address on to other dyndns2 services (a user's account elsewhere).

Calls run in a small thread pool after the request has committed, each with a
time limit, so a slow or dead third party never delays or changes the answer
to the router. Each result is written to the config's ``last_result`` in a
transaction of its own.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..models import Service, ServiceConfig
from .ipaddr import IPAddress

log = logging.getLogger(__name__)
# Beyond this many waiting calls new ones are dropped (and say so), instead of piling up.
QUEUE_FACTOR = 50


@dataclass(frozen=True)
class ServiceCall:
    config_id: int
    url: str
    hostname: str
    address: str
    username: str
    password: str


def calls_for(dbsession: Session | Connection, host_id: int, address: IPAddress,
              ) -> list[ServiceCall]:
    """The enabled configs of this host that want this address family."""
    v4 = address.version == 4
    wanted = and_(ServiceConfig.give_ipv4.is_(True), Service.accept_ipv4.is_(True)) if v4 else \
        and_(ServiceConfig.give_ipv6.is_(True), Service.accept_ipv6.is_(True))
    rows = dbsession.execute(
        select(ServiceConfig.id, ServiceConfig.hostname, ServiceConfig.name, ServiceConfig.password,
               Service.server, Service.path, Service.secure)
        .join(Service, ServiceConfig.service_id == Service.id)
        .where(ServiceConfig.host_id == host_id, ServiceConfig.enabled.is_(True), wanted)).all()
    return [ServiceCall(row.id, f"{'https' if row.secure else 'http'}://{row.server}{row.path}",
                        row.hostname, str(address), row.name, row.password) for row in rows]


def _result_text(call: ServiceCall, timeout: float) -> str:
    import requests  # here, not at start-up: most processes never forward (4 MiB less)

    try:
        response = requests.get(call.url, params={"hostname": call.hostname, "myip": call.address},
                                auth=(call.username, call.password), timeout=timeout,
                                headers={"User-Agent": "nsupdate-pyramid"}, allow_redirects=False)
    except requests.Timeout:
        return f"timeout after {timeout:g} s"
    except requests.RequestException as error:
        return f"connection failed: {type(error).__name__}"
    body = response.text.strip().splitlines()[0][:120] if response.text.strip() else ""
    return f"HTTP {response.status_code}: {body}"


class ThirdPartyForwarder:
    def __init__(self, workers: int, timeout: float) -> None:
        self.timeout = timeout
        self.max_pending = workers * QUEUE_FACTOR
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="thirdparty")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, calls: list[ServiceCall], session_factory: sessionmaker[Session]) -> None:
        for call in calls:
            with self._idle:
                if self._pending >= self.max_pending:
                    log.warning("third-party queue full, dropping update to %s", call.url)
                    continue
                self._pending += 1
            self._pool.submit(self._run, call, session_factory)

    def _run(self, call: ServiceCall, session_factory: Callable[[], Session]) -> None:
        try:
            text = _result_text(call, self.timeout)
            log.info("third-party update %s for %s: %s", call.url, call.hostname, text)
            stamped = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} {call.address}: {text}"[:255]
            with session_factory() as session, session.begin():
                session.execute(update(ServiceConfig).where(ServiceConfig.id == call.config_id)
                                .values(last_result=stamped))
        except Exception:
            log.exception("third-party update to %s failed", call.url)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every submitted call has finished (tests and shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)
