"""``GET /nic/update`` and ``/nic/delete`` in front of the framework.

Routers call these URLs all day, and almost every call is a ``nochg``: it
should cost little more than the one database read it needs. So the plain GET
requests are answered here, as WSGI middleware, before Pyramid's routing, tweens
and retry policy; they call the same service as the Pyramid views in
``views.py``, which still serve everything else (POST bodies, other methods).
Names in ``nsupdate.bad_hosts`` are refused by the service before any database work.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from ..services import dyndns
from ..tweens import security_headers
from .environment import query_params, update_env
from .updatelog import STARTED, log_answer

log = logging.getLogger(__name__)
MODES = {"/nic/update": dyndns.UPDATE, "/nic/delete": dyndns.DELETE}
_STATUS = {200: "200 OK", 401: "401 Unauthorized", 403: "403 Forbidden"}


class FastPath:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.registry = app.registry
        self.settings = app.registry["nsupdate.settings"]
        self.headers = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"),
                        *security_headers(self.settings.we_have_tls).items()]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # request_factory, ... of the Pyramid router

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ[STARTED] = time.perf_counter()
        mode = MODES.get(environ.get("PATH_INFO", ""))
        if mode is None or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        params = query_params(environ)
        try:
            answer = dyndns.handle_basic_auth_request(
                update_env(self.registry, environ), params, environ.get("HTTP_AUTHORIZATION"),
                environ.get("HTTP_USER_AGENT"), mode)
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("update API error %s on GET %r", incident, environ.get("PATH_INFO"))
            answer, extra = dyndns.Answer("911"), [("X-Incident", incident)]
        else:
            extra = None
        log_answer(environ, self.settings, answer, params)
        return self._reply(start_response, answer, extra)

    def _reply(self, start_response: Callable[..., Any], answer: dyndns.Answer,
               extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        body = answer.body.encode()
        headers = [*self.headers, ("Content-Length", str(len(body))), *(extra or [])]
        if answer.challenge:
            realm = self.settings.service_name.replace('"', "'")
            headers.append(("WWW-Authenticate", f'Basic realm="{realm}", charset="UTF-8"'))
        start_response(_STATUS[answer.status], headers)
        return [body]
