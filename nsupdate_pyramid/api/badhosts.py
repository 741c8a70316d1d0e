"""Refuse bad hosts in front of the whole framework.

``nsupdate.bad_hosts`` exists for clients that hammer the service with a name
that will never work: they should cost next to nothing. So the check runs as
WSGI middleware, before Pyramid's tweens, pyramid_tm, sessions or the
database; the update logic checks again (e.g. a ``hostname`` in a POST body).
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from ..settings import normalize_fqdn
from ..tweens import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

PATHS = frozenset({"/nic/update", "/nic/delete"})
_HEADERS = [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", "5"),
            ("Cache-Control", "no-store"), ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            *SECURITY_HEADERS.items()]


def _basic_user(header: str) -> str:
    scheme, _, payload = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(payload.strip(), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""
    user, sep, _password = decoded.partition(":")
    return user if sep else ""


class BadHostsFilter:
    def __init__(self, app: Any, bad_hosts: frozenset[str]) -> None:
        self.app = app
        self.bad_hosts = bad_hosts

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # registry, request_factory, ... of the Pyramid router

    def named_bad_host(self, environ: dict[str, Any]) -> bool:
        query = environ.get("QUERY_STRING", "")
        if "hostname=" in query:
            for key, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
                if key == "hostname" and normalize_fqdn(value) in self.bad_hosts:
                    return True
        authorization = environ.get("HTTP_AUTHORIZATION")
        return bool(authorization) and normalize_fqdn(_basic_user(authorization)) in self.bad_hosts

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in PATHS and self.named_bad_host(environ):
            start_response("403 Forbidden", list(_HEADERS))
            return [b"abuse"]
        return self.app(environ, start_response)
