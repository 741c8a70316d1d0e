from __future__ import annotations

from pyramid.csrf import new_csrf_token
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import forget, remember
from pyramid.view import view_config

from ..i18n import _
from ..resources import Root
from ..security import Permission
from ..services import users
from .helpers import flash, safe_came_from

LOGIN_FAILED = _("Wrong user name or password (or the account is not activated).")


@view_config(context=Root, name="login", permission=Permission.VIEW.value,
             request_method=("GET", "POST"), renderer="login.jinja2")
def login(context: Root, request: Request) -> dict | Response:
    came_from = safe_came_from(request, request.params.get("came_from"), "")
    username = ""
    error = None
    if request.method == "POST":
        username = request.POST.get("username", "")[:150]
        password = request.POST.get("password", "")[:4096]
        user = users.authenticate(request.dbsession, username, password)
        if user is not None:
            # A new session (and CSRF token) on login: nothing set before it carries over.
            request.session.invalidate()
            new_csrf_token(request)
            headers = remember(request, user.id, password_hash=user.password_hash,
                               persistent=bool(request.POST.get("remember")),
                               max_age=request.app_settings.session_max_age)
            target = came_from or request.resource_url(context["hosts"])
            return HTTPSeeOther(location=target, headers=headers)
        error = request.localizer.translate(LOGIN_FAILED)
    return {"username": username, "came_from": came_from, "error": error}


@view_config(context=Root, name="logout", permission=Permission.VIEW.value, request_method="POST")
def logout(context: Root, request: Request) -> Response:
    headers = forget(request)
    request.session.invalidate()
    new_csrf_token(request)
    flash(request, _("You are logged out."))
    return HTTPSeeOther(location=request.resource_url(context), headers=headers)
