"""Finishing a remote login (velruse): log in, create the account, or link it to the current one.

The providers (``nsupdate_pyramid/remote``) have checked the OAuth state, exchanged the code and
read the profile by the time these views run; their contexts are the result.
"""
from __future__ import annotations

import logging

from pyramid.csrf import new_csrf_token
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config, view_config
from velruse.exceptions import CSRFError, ThirdPartyFailure

from ..forms.accounts import RemoteUsernameForm
from ..i18n import _
from ..models import User
from ..resources import Root
from ..resources.remote import RemoteLoginComplete, RemoteLoginDenied
from ..resources.root import root_factory
from ..security import Permission
from ..services import remote_logins
from ..services.errors import AlreadyExists, InvalidValue
from .auth import log_in
from .errors import _page
from .helpers import flash

log = logging.getLogger(__name__)

VIEW = Permission.VIEW.value
PENDING_KEY = "remote_login.pending"


def _title(request: Request, name: str) -> str:
    provider = request.registry["nsupdate.remote_providers"].get(name)
    return provider.title if provider is not None else name


def _page_url(request: Request, name: str) -> str:
    """A page of the site: the context here is the provider's answer, not the tree's root."""
    return request.resource_url(root_factory(request), name)


def _to(request: Request, came_from: str, default: str) -> str:
    return came_from or _page_url(request, default) + "/"


def _logged_in(request: Request, user: User, came_from: str, message: object) -> Response:
    headers = log_in(request, user)  # a new session: nothing from before the login carries over
    flash(request, message, "success")
    return HTTPSeeOther(location=_to(request, came_from, "hosts"), headers=headers)


@view_config(context=RemoteLoginComplete, permission=VIEW)
def remote_login_complete(context: RemoteLoginComplete, request: Request) -> Response:
    dbsession = request.dbsession
    provider, title = context.provider_name, _title(request, context.provider_name)
    pending = remote_logins.PendingSignup.from_profile(provider, context.profile)
    if context.link_user_id is not None:
        return _link(context, request, pending, title)
    login = remote_logins.find(dbsession, provider, pending.remote_id)
    if login is not None:
        if not login.user.is_active:
            flash(request, _("This account is switched off."), "error")
            return HTTPSeeOther(location=_page_url(request, "login"))
        user = remote_logins.used(login)
        return _logged_in(request, user, context.came_from,
                          _("You are logged in as ${name}.", mapping={"name": user.username}))
    if not request.app_settings.registration_open:
        flash(request, _("No account here uses this ${provider} login, and registration is "
                         "closed. Log in to your account and add the remote login there.",
                         mapping={"provider": title}), "error")
        return HTTPSeeOther(location=_page_url(request, "login"))
    try:
        user = remote_logins.create_account(dbsession, pending, pending.username,
                                            request.locale_name)
    except (InvalidValue, AlreadyExists):
        # The provider's name is taken here or breaks our rules: ask for one. The session is
        # new, so a session fixed before the login never holds the pending identity.
        request.session.invalidate()
        new_csrf_token(request)
        request.session[PENDING_KEY] = pending.to_session()
        return HTTPSeeOther(location=_page_url(request, "remote-login"))
    return _logged_in(request, user, context.came_from, _(
        "Welcome, ${name}: your account is ready.", mapping={"name": user.username}))


def _link(context: RemoteLoginComplete, request: Request, pending: remote_logins.PendingSignup,
          title: str) -> Response:
    """Started by a logged-in user: add the remote login to their account (still theirs?)."""
    identity = request.identity
    if identity is None or identity.user_id != context.link_user_id:
        flash(request, _("You were logged out while at ${provider}: log in and try again.",
                         mapping={"provider": title}), "error")
        return HTTPSeeOther(location=_page_url(request, "login"))
    user = request.dbsession.get(User, identity.user_id)
    try:
        remote_logins.link(request.dbsession, user, context.provider_name, pending.remote_id,
                           pending.display_name)
    except AlreadyExists as exc:
        flash(request, exc.args[0], "error")
    else:
        flash(request, _("You can now log in with your ${provider} login ${name}.",
                         mapping={"provider": title, "name": pending.display_name}), "success")
    return HTTPSeeOther(location=_to(request, context.came_from, "account"))


@view_config(context=RemoteLoginDenied, permission=VIEW)
def remote_login_denied(context: RemoteLoginDenied, request: Request) -> Response:
    log.info("remote login at %s not granted: %s", context.provider_name, context.reason)
    flash(request, _("The login at ${provider} was cancelled or refused; nothing was changed.",
                     mapping={"provider": _title(request, context.provider_name)}), "warning")
    if request.identity is not None:
        return HTTPSeeOther(location=_to(request, context.came_from, "account"))
    return HTTPSeeOther(location=_page_url(request, "login"))


@view_config(context=Root, name="remote-login", permission=VIEW, request_method=("GET", "POST"),
             renderer="remote_username.jinja2")
def choose_username(context: Root, request: Request) -> dict | Response:
    """The provider's user name was taken (or not valid here): the person picks one."""
    pending = remote_logins.PendingSignup.from_session(request.session.get(PENDING_KEY))
    if pending is None:
        request.response.status = 400
        return {"form": None, "title": "", "error": None}
    title = _title(request, pending.provider)
    form = RemoteUsernameForm(request.POST, username=pending.username)
    error = None
    if request.method == "POST" and form.validate():
        try:
            user = remote_logins.create_account(request.dbsession, pending, form.username.data,
                                                request.locale_name)
        except (InvalidValue, AlreadyExists) as exc:
            error = exc.args[0]
        else:
            return _logged_in(request, user, "", _(
                "Welcome, ${name}: your account is ready.", mapping={"name": user.username}))
    return {"form": form, "title": title, "error": error, "email": pending.email,
            "display_name": pending.display_name}


@exception_view_config(CSRFError)
def remote_login_bad_state(exc: CSRFError, request: Request) -> Response:
    """A callback without our state: forged, replayed, or from another browser or session."""
    log.warning("remote login callback refused: %s", exc)
    return _page("400-remote", request, 400)


@exception_view_config(ThirdPartyFailure)
def remote_login_failed(exc: ThirdPartyFailure, request: Request) -> Response:
    """The provider did not answer, or not as expected (token exchange, user info)."""
    log.warning("remote login failed: %s", exc)
    return _page("502-remote", request, 502)
