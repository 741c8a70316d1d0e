"""dyndns2 view callables: parse the request, call the service, answer in plain text."""
from __future__ import annotations

import json
import logging
import uuid

from pyramid.csrf import check_csrf_token
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import exception_view_config, view_config
from webob.multidict import MultiDict

from ..services import dyndns
from ..services.ipaddr import client_address, parse_address, request_uses_tls
from ..views.helpers import login_url, release_transaction
from .environment import parse_pairs, query_params, update_env
from .updatelog import log_answer

log = logging.getLogger(__name__)
ALLOWED_METHODS = ("GET", "POST")


def text(body: str, status: int = 200, **headers: str) -> Response:
    response = Response(body, status=status, content_type="text/plain", charset="utf-8")
    response.headers.update(headers)
    response.cache_control.no_store = True
    return response


def answer_response(request: Request, answer: dyndns.Answer) -> Response:
    log_answer(request.environ, request.app_settings, answer,
               fqdn=(request.matchdict or {}).get("fqdn", ""))
    headers = {}
    if answer.challenge:
        realm = request.app_settings.service_name.replace('"', "'")
        headers["WWW-Authenticate"] = f'Basic realm="{realm}", charset="UTF-8"'
    return text(answer.body, answer.status, **headers)


def method_not_allowed(allowed: tuple[str, ...] = ALLOWED_METHODS) -> Response:
    # HEAD must never update (some monitors send it): answer before any work.
    return text("method not allowed", 405, Allow=", ".join(allowed))


def _params(request: Request) -> MultiDict:
    """Query string, then (POST) the form body; ``get`` finds the query string's value first.

    Undecodable bytes become U+FFFD (see parse_pairs); a body that is not a form is ignored.
    """
    params = query_params(request.environ)
    if request.method == "POST":
        if request.content_type == "application/x-www-form-urlencoded":
            params.extend(parse_pairs(request.body.decode("utf-8", "replace")))
        elif request.content_type == "multipart/form-data":
            try:
                params.extend((k, v) for k, v in request.POST.items() if isinstance(v, str))
            except (ValueError, UnicodeDecodeError, DeprecationWarning):
                log.info("ignoring an unreadable multipart body on %s", request.path_info)
    return params


def _env(request: Request) -> dyndns.UpdateEnv:
    return update_env(request.registry, request.environ)


def _basic_auth_view(request: Request, mode: str) -> Response:
    if request.method not in ALLOWED_METHODS:
        return method_not_allowed()
    answer = dyndns.handle_basic_auth_request(
        _env(request), _params(request), request.headers.get("Authorization"),
        request.headers.get("User-Agent"), mode)
    return answer_response(request, answer)


@view_config(route_name="nic_update", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def nic_update(request: Request) -> Response:
    return _basic_auth_view(request, dyndns.UPDATE)


@view_config(route_name="nic_delete", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def nic_delete(request: Request) -> Response:
    return _basic_auth_view(request, dyndns.DELETE)


def _owner_view(request: Request, mode: str) -> Response:
    if request.method not in ALLOWED_METHODS:
        return method_not_allowed()
    identity = request.identity
    if identity is None:
        return Response(status=302, location=login_url(request))
    # It changes DNS, so a link or form on another site must not be able to trigger it: the
    # page's JavaScript sends the session's CSRF token (header or parameter), also with GET.
    if not check_csrf_token(request, raises=False):
        return text("missing or wrong CSRF token", 403)
    user_id, params = identity.user_id, _params(request)
    release_transaction(request)  # SQLite: the login's transaction would block the service's writes
    answer = dyndns.handle_owner_request(_env(request), params, user_id, mode)
    return answer_response(request, answer)


@view_config(route_name="nic_update_authorized", permission=NO_PERMISSION_REQUIRED,
             require_csrf=False)
def nic_update_authorized(request: Request) -> Response:
    return _owner_view(request, dyndns.UPDATE)


@view_config(route_name="nic_delete_authorized", permission=NO_PERMISSION_REQUIRED,
             require_csrf=False)
def nic_delete_authorized(request: Request) -> Response:
    return _owner_view(request, dyndns.DELETE)


@view_config(route_name="dynamicdns_update", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def dynamicdns_update(request: Request) -> Response:
    """django-dynamic-dns compatible: ``POST key=SECRET[&ip=ADDRESS]`` to the host's URL."""
    if request.method != "POST":
        return method_not_allowed(("POST",))
    params = _params(request)
    answer = dyndns.handle_key_request(_env(request), request.matchdict["fqdn"],
                                       params.get("key", ""), params)
    return answer_response(request, answer)


@view_config(route_name="myip", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def myip(request: Request) -> Response:
    """The caller's address in plain text, for update clients that detect it through us."""
    return text(client_address(request))


def _uncached_json(data: dict) -> Response:
    response = Response(json.dumps(data), content_type="application/json", charset="utf-8")
    response.cache_control.no_store = True  # an address answer is only true for its caller, now
    return response


def _cors(request: Request, response: Response) -> Response:
    """The IPv4/IPv6-only host names are other origins than the page: allow our page to read."""
    origin = request.headers.get("Origin")
    settings = request.app_settings
    allowed = {f"{scheme}://{host}" for scheme in ("http", "https")
               for host in (settings.www_host, request.host) if host}
    if origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


@view_config(route_name="detectip_json", permission=NO_PERMISSION_REQUIRED, require_csrf=False,
             request_method="GET")
def detectip_json(request: Request) -> Response:
    address = client_address(request)
    try:
        version = parse_address(address).version
    except ValueError:
        version = 0
    return _cors(request, _uncached_json(
        {"ip": address, "version": version, "tls": request_uses_tls(request)}))


@view_config(route_name="detectip_beacon", permission=NO_PERMISSION_REQUIRED, require_csrf=False,
             request_method="GET")
def detectip_beacon(request: Request) -> Response:
    """Always 204, whether or not the token is known: nothing to learn from probing it."""
    address = client_address(request)
    try:
        version = parse_address(address).version
        request.registry["nsupdate.detectip"].record(request.matchdict["token"], address, version)
    except ValueError:
        pass
    response = Response(status=204)
    response.cache_control.no_store = True
    return response


@view_config(route_name="detectip_result", permission=NO_PERMISSION_REQUIRED, require_csrf=False,
             request_method="GET")
def detectip_result(request: Request) -> Response:
    seen = request.registry["nsupdate.detectip"].seen(request.matchdict["token"]) or {}
    return _uncached_json({"ipv4": seen.get("ipv4", ""), "ipv6": seen.get("ipv6", "")})


@exception_view_config(Exception, route_name="nic_update")
@exception_view_config(Exception, route_name="nic_delete")
@exception_view_config(Exception, route_name="nic_update_authorized")
@exception_view_config(Exception, route_name="nic_delete_authorized")
@exception_view_config(Exception, route_name="dynamicdns_update")
def api_error(exc: Exception, request: Request) -> Response:
    """Never a 500 for an update client: ``911`` and an id the operator can find in the log."""
    incident = uuid.uuid4().hex[:12]
    log.error("update API error %s on %s %s", incident, request.method, request.path,
              exc_info=exc)
    return text("911", 200, **{"X-Incident": incident})

