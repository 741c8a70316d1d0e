"""Response headers every page gets: no framing, no MIME sniffing, minimal referrers."""
from __future__ import annotations

from collections.abc import Callable

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Pages load only our own scripts, styles and images; nobody may frame them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self' http: https:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def security_headers(tls: bool) -> dict[str, str]:
    """Every header of the set; HSTS only when the site is served over https."""
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY}
    if tls:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def security_headers_tween_factory(handler: Callable[[Request], Response],
                                   registry: Registry) -> Callable[[Request], Response]:
    required = security_headers(registry["nsupdate.settings"].we_have_tls)

    def security_headers_tween(request: Request) -> Response:
        response = handler(request)
        headers = response.headers
        for name, value in required.items():
            headers.setdefault(name, value)
        return response

    return security_headers_tween


def includeme(config: Configurator) -> None:
    config.add_tween("nsupdate_pyramid.tweens.security_headers_tween_factory")
