"""The dyndns2 API and the address-echo endpoints, on routes in the same app.

These views authenticate the *host* (Basic auth with fqdn and update secret)
or check the owner's session themselves, so they declare
NO_PERMISSION_REQUIRED: the cookie security policy never runs for a router.
"""
from __future__ import annotations

from pyramid.config import Configurator

from ..services.breaker import CircuitBreaker
from ..services.thirdparty import ThirdPartyForwarder
from .detectip import DetectIPStore

ROUTES = {
    "nic_update": "/nic/update",
    "nic_delete": "/nic/delete",
    "nic_update_authorized": "/nic/update_authorized",
    "nic_delete_authorized": "/nic/delete_authorized",
    "myip": "/myip",
    "detectip_json": "/detectip.json",
    "detectip_beacon": "/detectip/{token}/",
    "detectip_result": "/detectip/{token}.json",
    "dynamicdns_update": "/dynamicdns/update/{fqdn}/",
}


def includeme(config: Configurator) -> None:
    settings = config.registry["nsupdate.settings"]
    for name, pattern in ROUTES.items():
        config.add_route(name, pattern)
    config.registry["nsupdate.breaker"] = CircuitBreaker(
        settings.dns_breaker_failures, settings.dns_breaker_pause)
    config.registry["nsupdate.detectip"] = DetectIPStore()
    config.registry["nsupdate.thirdparty"] = ThirdPartyForwarder(
        workers=settings.services_workers, timeout=settings.services_timeout)
