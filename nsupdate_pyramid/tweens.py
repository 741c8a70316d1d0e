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


def security_headers(tls: bool, form_targets: tuple[str, ...] = ()) -> dict[str, str]:
    """Every header of the set; HSTS only when the site is served over https.

    ``form_targets``: origins our forms may lead to besides our own. The remote-login buttons
    POST to us and are redirected to the provider, and browsers apply form-action to that
    redirect too.
    """
    policy = CONTENT_SECURITY_POLICY
    if form_targets:
        policy = policy.replace("form-action 'self'", " ".join(("form-action 'self'", *form_targets)))
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": policy}
    if tls:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def security_headers_tween_factory(handler: Callable[[Request], Response],
                                   registry: Registry) -> Callable[[Request], Response]:
    providers = registry.get("nsupdate.remote_providers", {}).values()
    required = security_headers(registry["nsupdate.settings"].we_have_tls,
                                tuple(sorted({p.authorize_origin() for p in providers})))

    def security_headers_tween(request: Request) -> Response:
        response = handler(request)
        headers = response.headers
        for name, value in required.items():
            headers.setdefault(name, value)
        return response

    return security_headers_tween


def includeme(config: Configurator) -> None:
    config.add_tween("nsupdate_pyramid.tweens.security_headers_tween_factory")
