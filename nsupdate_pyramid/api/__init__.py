"""The dyndns2 API and the address-echo endpoints, on routes in the same app.

These views authenticate the *host* (Basic auth with fqdn and update secret)
or check the owner's session themselves, so they declare
NO_PERMISSION_REQUIRED: the cookie security policy never runs for a router.
"""
from __future__ import annotations

from pyramid.config import Configurator
from pyramid.request import Request

from ..services.breaker import CircuitBreaker
from ..services.hoststore import HostStore
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


# These routes manage their own short transactions (services/hoststore.py): pyramid_tm stays
# out of them. The owner routes need the login session, so they keep it.
UNMANAGED_PREFIXES = ("/nic/update", "/nic/delete", "/dynamicdns/")
MANAGED_PATHS = frozenset({"/nic/update_authorized", "/nic/delete_authorized"})


def tm_activate(request: Request) -> bool:
    """pyramid_tm's ``tm.activate_hook``."""
    path = request.environ.get("PATH_INFO", "")  # raw: path_info fails on a non-UTF-8 URL
    return path in MANAGED_PATHS or not path.startswith(UNMANAGED_PREFIXES)


def includeme(config: Configurator) -> None:
    settings = config.registry["nsupdate.settings"]
    registry = config.registry
    registry["nsupdate.hoststore"] = HostStore(lambda: registry["dbsession_factory"],
                                               settings.bookkeeping_interval)
    for name, pattern in ROUTES.items():
        config.add_route(name, pattern)
    config.registry["nsupdate.breaker"] = CircuitBreaker(
        settings.dns_breaker_failures, settings.dns_breaker_pause)
    config.registry["nsupdate.detectip"] = DetectIPStore()
    config.registry["nsupdate.thirdparty"] = ThirdPartyForwarder(
        workers=settings.services_workers, timeout=settings.services_timeout)
