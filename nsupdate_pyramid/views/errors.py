"""Error pages: 404, 403 (or 404 for private objects), login redirect, CSRF, and a friendly 500."""
from __future__ import annotations

import logging
import uuid

from pyramid.exceptions import BadCSRFToken, URLDecodeError
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.location import lineage
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config

from ..resources import PrivateResource
from .helpers import login_url

log = logging.getLogger(__name__)


def _needs_login(request: Request) -> bool:
    if request.authenticated_userid is not None:
        return False
    context = getattr(request, "context", None)
    return context is not None and any(getattr(node, "login_required", False)
                                       for node in lineage(context))


def _login_redirect(request: Request) -> Response:
    return HTTPSeeOther(location=login_url(request))


def _page(template: str, request: Request, status: int, **values: object) -> Response:
    response = render_to_response(f"errors/{template}.jinja2", values, request=request)
    response.status = status
    return response


@notfound_view_config()
def not_found(request: Request) -> Response:
    # Anonymous visitors get the login page for anything private, found or not,
    # so the redirect does not tell them which names exist.
    if _needs_login(request):
        return _login_redirect(request)
    return _page("404", request, 404)


@forbidden_view_config()
def forbidden(request: Request) -> Response:
    context = getattr(request, "context", None)
    private = isinstance(context, PrivateResource)
    if request.authenticated_userid is None and not (private and not context.login_required):
        return _login_redirect(request)
    if private:
        return _page("404", request, 404)
    return _page("403", request, 403)


@exception_view_config(BadCSRFToken)
def bad_csrf(request: Request) -> Response:
    return _page("400-csrf", request, 400)


@exception_view_config(URLDecodeError)
def undecodable_url(request: Request) -> Response:
    """A path that is not UTF-8 cannot name anything here: a plain 400, not a 500."""
    return Response("bad request: the URL is not valid UTF-8", status=400,
                    content_type="text/plain", charset="utf-8")


@exception_view_config(Exception)
def server_error(exc: Exception, request: Request) -> Response:
    """Log with an id the user can quote; render without touching the database."""
    incident = uuid.uuid4().hex[:12]
    # The raw WSGI path: request.path_qs itself fails on an undecodable URL.
    log.error("unhandled error %s on %s %r", incident, request.method,
              request.environ.get("PATH_INFO", ""), exc_info=exc)
    try:
        return _page("500", request, 500, incident=incident)
    except Exception:
        log.exception("error page failed for incident %s", incident)
        return Response(f"Internal error (incident {incident}).", status=500,
                        content_type="text/plain", charset="utf-8")
