"""``GET /nic/update`` and ``/nic/delete`` in front of the framework.

Routers call these URLs all day, and almost every call is a ``nochg``: it
should cost little more than the one database read it needs. So the plain GET
requests are answered here, as WSGI middleware, before Pyramid's routing, tweens
and retry policy; they call the same service as the Pyramid views in
``views.py``, which still serve everything else (POST bodies, other methods).
Names in ``nsupdate.bad_hosts`` are refused here first, before any work.
"""
from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from webob.multidict import MultiDict

from ..services import dyndns
from ..settings import normalize_fqdn
from ..tweens import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from .environment import update_env

log = logging.getLogger(__name__)
MODES = {"/nic/update": dyndns.UPDATE, "/nic/delete": dyndns.DELETE}
_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"),
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY), *SECURITY_HEADERS.items()]
_STATUS = {200: "200 OK", 401: "401 Unauthorized", 403: "403 Forbidden"}


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


class FastPath:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.registry = app.registry
        self.settings = app.registry["nsupdate.settings"]
        self.headers = list(_HEADERS)
        if self.settings.we_have_tls:
            self.headers.append(("Strict-Transport-Security", "max-age=31536000"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # request_factory, ... of the Pyramid router

    def _bad_host(self, params: MultiDict, environ: dict[str, Any]) -> bool:
        bad_hosts = self.settings.bad_hosts
        if not bad_hosts:
            return False
        hostname = params.get("hostname")
        if hostname is not None and normalize_fqdn(hostname) in bad_hosts:
            return True
        authorization = environ.get("HTTP_AUTHORIZATION")
        return bool(authorization) and normalize_fqdn(_basic_user(authorization)) in bad_hosts

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        mode = MODES.get(environ.get("PATH_INFO", ""))
        if mode is None or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        params = MultiDict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True,
                                     encoding="utf-8", errors="replace"))
        if self._bad_host(params, environ):
            answer = dyndns.ABUSE_FORBIDDEN
        else:
            try:
                answer = dyndns.handle_basic_auth_request(
                    update_env(self.registry, environ), params, environ.get("HTTP_AUTHORIZATION"),
                    environ.get("HTTP_USER_AGENT"), mode)
            except Exception:
                incident = uuid.uuid4().hex[:12]
                log.exception("update API error %s on GET %r", incident, environ.get("PATH_INFO"))
                return self._reply(start_response, dyndns.Answer("911"), [("X-Incident", incident)])
        return self._reply(start_response, answer)

    def _reply(self, start_response: Callable[..., Any], answer: dyndns.Answer,
               extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        body = answer.body.encode()
        headers = [*self.headers, ("Content-Length", str(len(body))), *(extra or [])]
        if answer.challenge:
            realm = self.settings.service_name.replace('"', "'")
            headers.append(("WWW-Authenticate", f'Basic realm="{realm}", charset="UTF-8"'))
        start_response(_STATUS[answer.status], headers)
        return [body]
