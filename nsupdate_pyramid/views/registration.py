"""Registration, activation and password reset: pages for people who cannot log in (yet)."""
from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..forms.accounts import PasswordResetForm, PasswordResetRequestForm, RegistrationForm
from ..i18n import _
from ..resources import PasswordReset, Registration, ResetToken
from ..security import Permission
from ..security.tokens import BadToken
from ..services import accounts
from ..services.errors import InvalidValue
from .helpers import flash

VIEW = Permission.VIEW.value
BAD_LINK = _("This link is invalid: it was already used, has expired, or was not copied whole.")


def _login_url(request: Request) -> str:
    return request.resource_url(request.root, "login")


@view_config(context=Registration, permission=VIEW, request_method=("GET", "POST"),
             renderer="register/form.jinja2")
def register(context: Registration, request: Request) -> dict | Response:
    settings = request.app_settings
    if not settings.registration_open:
        return {"closed": True, "form": None, "error": None,
                "contact": settings.service_contact}
    if request.identity is not None:
        return HTTPSeeOther(location=request.resource_url(request.root["hosts"]))
    form = RegistrationForm(request.POST)
    error = None
    if request.method == "POST" and form.validate():
        try:
            accounts.register(request.dbsession, request.postman, request.registry["nsupdate.tokens"],
                              settings, form.username.data, form.email.data,
                              form.new_password.data, request.locale_name)
        except InvalidValue as exc:
            error = exc.args[0]
        else:
            return HTTPSeeOther(location=request.resource_url(context, "sent"))
    return {"closed": False, "form": form, "error": error, "contact": settings.service_contact,
            "min_length": settings.password_min_length}


@view_config(context=Registration, name="sent", permission=VIEW, request_method="GET",
             renderer="register/sent.jinja2")
def register_sent(context: Registration, request: Request) -> dict:
    return {}


@view_config(context=Registration, name="activate", permission=VIEW,
             request_method=("GET", "POST"), renderer="register/activate.jinja2")
def activate(context: Registration, request: Request) -> dict | Response:
    """GET shows a button, POST activates: mail scanners that fetch links change nothing."""
    token = request.subpath[0] if len(request.subpath) == 1 else ""
    signer = request.registry["nsupdate.tokens"]
    try:
        if request.method == "POST":
            user = accounts.activate(request.dbsession, signer, token)
            flash(request, _("Your account ${name} is active: log in.",
                             mapping={"name": user.username}), "success")
            return HTTPSeeOther(location=_login_url(request))
        user = accounts.activation_user(request.dbsession, signer, token)
    except BadToken:
        request.response.status = 400
        return {"error": request.localizer.translate(BAD_LINK), "username": None}
    return {"error": None, "username": user.username}


@view_config(context=PasswordReset, permission=VIEW, request_method=("GET", "POST"),
             renderer="password_reset/request.jinja2")
def password_reset_request(context: PasswordReset, request: Request) -> dict | Response:
    form = PasswordResetRequestForm(request.POST)
    if request.method == "POST" and form.validate():
        accounts.request_password_reset(request.dbsession, request.postman,
                                        request.registry["nsupdate.tokens"], request.app_settings,
                                        form.email.data, request.locale_name)
        flash(request, _("If an account uses this address, a mail with a link to set a new "
                         "password is on its way. Nothing arrived? Check the spam folder."))
        return HTTPSeeOther(location=_login_url(request))
    return {"form": form}


@view_config(context=ResetToken, permission=VIEW, request_method=("GET", "POST"),
             renderer="password_reset/confirm.jinja2")
def password_reset_confirm(context: ResetToken, request: Request) -> dict | Response:
    settings = request.app_settings
    try:
        user = accounts.reset_user(request.dbsession, request.registry["nsupdate.tokens"],
                                   context.token)
    except BadToken:
        request.response.status = 400
        return {"form": None, "error": request.localizer.translate(BAD_LINK)}
    form = PasswordResetForm(request.POST)
    error = None
    if request.method == "POST" and form.validate():
        try:
            accounts.set_password(request.dbsession, user, form.new_password.data, settings)
        except InvalidValue as exc:
            error = exc.args[0]
        else:
            flash(request, _("Your new password is set: log in with it."), "success")
            return HTTPSeeOther(location=_login_url(request))
    return {"form": form, "error": error, "username": user.username,
            "min_length": settings.password_min_length}
