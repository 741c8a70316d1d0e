"""Where the pages' JavaScript asks for the browser's addresses (static/js/detectip.js)."""
from __future__ import annotations

from dataclasses import dataclass

from pyramid.request import Request

from ..services.ipaddr import client_address, parse_address


@dataclass(frozen=True)
class DetectURLs:
    """The detect-IP endpoint on the IPv4-only and the IPv6-only host name (same origin when the
    ini names none), and the connection's own address as the fallback without JavaScript."""

    ipv4: str
    ipv6: str
    seen_ipv4: str
    seen_ipv6: str


def detect_urls(request: Request) -> DetectURLs:
    settings = request.app_settings
    path = request.route_path("detectip_json")

    def url(host: str) -> str:
        # The page's own scheme: an http fetch from an https page would be blocked anyway.
        return f"{request.scheme}://{host}{path}" if host else path

    seen = client_address(request)
    try:
        version = parse_address(seen).version
    except ValueError:
        version = 0
    return DetectURLs(url(settings.ipv4_host), url(settings.ipv6_host),
                      seen if version == 4 else "", seen if version == 6 else "")
