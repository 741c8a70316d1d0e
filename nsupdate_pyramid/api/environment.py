"""What the update logic needs from one request, built from the registry and the WSGI environ
(so the Pyramid views and the fast path in front of Pyramid build it the same way)."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from pyramid.registry import Registry
from webob.multidict import MultiDict

from ..models import utcnow
from ..services import dyndns
from ..services.ipaddr import client_address_of, uses_tls
from ..services.thirdparty import ServiceCall
from . import abusemail


def update_env(registry: Registry, environ: dict[str, Any]) -> dyndns.UpdateEnv:
    settings = registry["nsupdate.settings"]
    forwarder = registry["nsupdate.thirdparty"]
    store = registry["nsupdate.hoststore"]

    def forward(calls: list[ServiceCall]) -> None:
        forwarder.submit(calls, registry["dbsession_factory"])

    def flagged(host_id: int, fqdn: str, address: str) -> None:
        abusemail.host_flagged(registry, environ, store, host_id, fqdn, address)

    return dyndns.UpdateEnv(
        store=store,
        settings=settings,
        # An unknown name (removed from the ini) raises KeyError: answered 911 and logged.
        backend_for=registry["nsupdate.dns_backends"].__getitem__,
        breaker=registry["nsupdate.breaker"],
        now=utcnow(),
        tls=uses_tls(environ, settings.trusted_proxies),
        client_address=client_address_of(environ, settings.trusted_proxies),
        forward=forward,
        flagged=flagged,
    )


def parse_pairs(data: str) -> list[tuple[str, str]]:
    """Routers send all kinds of broken encodings: undecodable bytes become U+FFFD (so they fail
    validation with a proper answer) instead of raising."""
    return parse_qsl(data, keep_blank_values=True, encoding="utf-8", errors="replace")


def query_params(environ: dict[str, Any]) -> MultiDict:
    return MultiDict(parse_pairs(environ.get("QUERY_STRING", "")))
