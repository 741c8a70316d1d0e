"""One structured log line per update-API answer (logger ``nsupdate_pyramid.updates``).

``fqdn=… result=… status=… client=… tls=… agent=… ms=…``: enough to follow a router's
updates and measure them, and nothing secret (never the Authorization header, the password or
``key``, never the query string). When INFO is off for the logger this costs one level check.
"""
from __future__ import annotations

import logging
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
