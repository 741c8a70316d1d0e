from __future__ import annotations

from pyramid.csrf import new_csrf_token
from pyramid.httpexceptions import HTTPFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import forget, remember
from pyramid.view import view_config

from ..i18n import _
from ..models import User
from ..resources import Root
from ..security import Permission
from ..services import throttle, users
from ..services.ipaddr import client_address
from .helpers import flash, safe_came_from

LOGIN_FAILED = _("Wrong user name or password (or the account is not activated).")
# The same for every name, taken or not: the lockout must not tell which accounts exist.
LOGIN_THROTTLED = _("Too many failed logins for this user name or from your network. "
                    "Wait ${minutes} minutes, or reset your password by email.")


def log_in(request: Request, user: User, *, persistent: bool = False) -> list:
    """A new session (and CSRF token) with the login: nothing set before it carries over."""
    request.session.invalidate()
    new_csrf_token(request)
    return remember(request, user.id, password_hash=user.password_hash, persistent=persistent)


@view_config(context=Root, name="login", permission=Permission.VIEW.value,
             request_method=("GET", "POST"), renderer="login.jinja2")
def login(context: Root, request: Request) -> dict | Response:
    came_from = safe_came_from(request, request.params.get("came_from"), "")
    username = ""
    error = None
    if request.method == "POST":
        settings = request.app_settings
        username = request.POST.get("username", "")[:150]
        password = request.POST.get("password", "")[:4096]
        account = throttle.account_key(username)
        keys = [(account, settings.login_max_failures),
                (throttle.address_key(client_address(request)), settings.login_max_failures_address)]
        if throttle.is_blocked(request.dbsession, keys, settings.login_lockout):
            request.response.status = 429
            minutes = max(1, settings.login_lockout // 60)
            error = request.localizer.translate(_(LOGIN_THROTTLED, mapping={"minutes": minutes}))
            return _login_page(request, username, came_from, error)
        user = users.authenticate(request.dbsession, username, password)
        if user is not None:
            throttle.forget_failures(request.dbsession, [account])
            headers = log_in(request, user, persistent=bool(request.POST.get("remember")))
            target = came_from or request.resource_url(context["hosts"])
            return HTTPSeeOther(location=target, headers=headers)
        throttle.count_failure_after(request.tm.get(), request.registry["dbsession_factory"],
                                     [key for key, _limit in keys], settings.login_lockout)
        error = request.localizer.translate(LOGIN_FAILED)
    return _login_page(request, username, came_from, error)


def _login_page(request: Request, username: str, came_from: str, error: str | None) -> dict:
    return {"username": username, "came_from": came_from, "error": error,
            "remote_providers": request.registry["nsupdate.remote_providers"]}


@view_config(context=Root, name="logout", permission=Permission.VIEW.value, request_method="POST")
def logout(context: Root, request: Request) -> Response:
    headers = forget(request)
    request.session.invalidate()
    new_csrf_token(request)
    flash(request, _("You are logged out."))
    return HTTPSeeOther(location=request.resource_url(context), headers=headers)


@view_config(route_name="well_known_change_password", permission=Permission.VIEW.value)
def well_known_change_password(request: Request) -> Response:
    """Password managers look here for the page that changes a password (W3C well-known URL)."""
    return HTTPFound(location=request.resource_url(request.root["account"], "password"))
