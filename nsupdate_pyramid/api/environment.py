"""What the update logic needs from one request, built from the registry and the WSGI environ
(so the Pyramid views and the fast path in front of Pyramid build it the same way)."""
from __future__ import annotations

from typing import Any

from pyramid.registry import Registry

from ..models import utcnow
from ..services import dyndns
from ..services.ipaddr import client_address_of, uses_tls
from ..services.thirdparty import ServiceCall


def update_env(registry: Registry, environ: dict[str, Any]) -> dyndns.UpdateEnv:
    settings = registry["nsupdate.settings"]
    forwarder = registry["nsupdate.thirdparty"]

    def forward(calls: list[ServiceCall]) -> None:
        forwarder.submit(calls, registry["dbsession_factory"])

    return dyndns.UpdateEnv(
        store=registry["nsupdate.hoststore"],
        settings=settings,
        # An unknown name (removed from the ini) raises KeyError: answered 911 and logged.
        backend_for=registry["nsupdate.dns_backends"].__getitem__,
        breaker=registry["nsupdate.breaker"],
        now=utcnow(),
        tls=uses_tls(environ, settings.trusted_proxies),
        client_address=client_address_of(environ, settings.trusted_proxies),
        forward=forward,
    )
