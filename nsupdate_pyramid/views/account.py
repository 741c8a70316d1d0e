"""The logged-in user's own account: profile, language, password, email address, deletion."""
from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import forget
from pyramid.view import view_config

from ..forms.accounts import (
    DeleteAccountForm,
    DeleteRemoteAccountForm,
    EmailChangeForm,
    LanguageForm,
    PasswordChangeForm,
)
from ..i18n import _
from ..models import User
from ..resources import Account
from ..security import Permission
from ..security.tokens import BadToken
from ..services import accounts, remote_logins
from ..services.domains import domains_for_user
from ..services.errors import InvalidValue, NotFound
from ..services.hosts import hosts_for_user
from .auth import log_in
from .helpers import flash, flash_record_failures, remove_records_after_commit

EDIT = Permission.EDIT.value


def _user(request: Request) -> User:
    return request.dbsession.get(User, request.identity.user_id)


def _back(request: Request, context: Account) -> Response:
    return HTTPSeeOther(location=request.resource_url(context))


@view_config(context=Account, permission=Permission.VIEW.value, request_method="GET",
             renderer="account/view.jinja2")
def view_account(context: Account, request: Request) -> dict:
    user = _user(request)
    form = LanguageForm(languages=request.app_settings.languages, language=user.language)
    providers = request.registry["nsupdate.remote_providers"]
    return {"user": user, "language_form": form, "providers": providers,
            "remote_logins": remote_logins.logins_of(request.dbsession, user.id),
            "has_password": remote_logins.has_password(user)}


@view_config(context=Account, name="remote-logins", permission=EDIT, request_method="POST")
def remove_remote_login(context: Account, request: Request) -> Response:
    """Remove one remote login (not an account's last way in)."""
    try:
        login_id = int(request.POST.get("remove", ""))
        removed = remote_logins.unlink(request.dbsession, _user(request), login_id)
    except ValueError:
        flash(request, _("No such remote login."), "error")
    except (InvalidValue, NotFound) as exc:
        flash(request, exc.args[0], "error")
    else:
        flash(request, _("The ${provider} login ${name} is removed.",
                         mapping={"provider": _provider_title(request, removed.provider),
                                  "name": removed.display_name}), "success")
    return _back(request, context)


def _provider_title(request: Request, name: str) -> str:
    provider = request.registry["nsupdate.remote_providers"].get(name)
    return provider.title if provider is not None else name


@view_config(context=Account, name="language", permission=EDIT, request_method="POST")
def set_language(context: Account, request: Request) -> Response:
    form = LanguageForm(request.POST, languages=request.app_settings.languages)
    if form.validate():
        accounts.set_language(_user(request), form.language.data, request.app_settings)
        flash(request, _("Your language is saved."), "success")
    else:
        flash(request, _("Unknown language."), "error")
    return _back(request, context)


@view_config(context=Account, name="password", permission=EDIT, request_method=("GET", "POST"),
             renderer="account/password.jinja2")
def change_password(context: Account, request: Request) -> dict | Response:
    user = _user(request)
    form = PasswordChangeForm(request.POST)
    if not user.password_hash:
        del form.current_password  # remote logins only so far: this sets the first password
    error = None
    if request.method == "POST" and form.validate():
        current = form.current_password.data if "current_password" in form else ""
        try:
            accounts.change_password(request.dbsession, user, current, form.new_password.data,
                                     request.app_settings)
        except InvalidValue as exc:
            error = exc.args[0]
        else:
            # Other browsers are logged out (their cookie names the old hash); this one stays.
            headers = log_in(request, user, persistent=False)
            flash(request, _("Your password was changed. Other browsers are logged out."),
                  "success")
            return HTTPSeeOther(location=request.resource_url(context), headers=headers)
    return {"form": form, "error": error, "min_length": request.app_settings.password_min_length,
            "has_password": bool(user.password_hash)}


@view_config(context=Account, name="email", permission=EDIT, request_method=("GET", "POST"),
             renderer="account/email.jinja2")
def change_email(context: Account, request: Request) -> dict | Response:
    user = _user(request)
    form = EmailChangeForm(request.POST)
    if not user.password_hash:
        del form.password  # remote logins only: the login is the proof (the new address confirms)
    error = None
    if request.method == "POST" and form.validate():
        try:
            new_email = accounts.request_email_change(
                request.dbsession, request.postman, request.registry["nsupdate.tokens"],
                request.app_settings, user, form.email.data,
                form.password.data if "password" in form else "")
        except InvalidValue as exc:
            error = exc.args[0]
        else:
            flash(request, _("We sent a link to ${email}. Your address changes when you follow it.",
                             mapping={"email": new_email}))
            return _back(request, context)
    return {"form": form, "error": error, "current": user.email}


@view_config(context=Account, name="confirm-email", permission=EDIT,
             request_method=("GET", "POST"), renderer="account/confirm_email.jinja2")
def confirm_email(context: Account, request: Request) -> dict | Response:
    """GET asks, POST changes: a link that a mail scanner fetches changes nothing."""
    token = request.subpath[0] if len(request.subpath) == 1 else ""
    signer = request.registry["nsupdate.tokens"]
    user_id = request.identity.user_id
    try:
        if request.method == "POST":
            email = accounts.confirm_email_change(request.dbsession, request.postman, signer, token,
                                                  user_id)
            flash(request, _("Your email address is now ${email}.", mapping={"email": email}),
                  "success")
            return _back(request, context)
        _user_row, email = accounts.email_change(request.dbsession, signer, token, user_id)
    except BadToken:
        request.response.status = 400
        return {"error": request.localizer.translate(_(
            "This link is invalid: it was already used, has expired, belongs to another "
            "account, or was not copied whole.")), "email": None}
    return {"error": None, "email": email}


@view_config(context=Account, name="delete", permission=Permission.DELETE.value,
             request_method=("GET", "POST"), renderer="account/delete.jinja2")
def delete_account(context: Account, request: Request) -> dict | Response:
    user = _user(request)
    # Without a password (remote logins only) the user name is typed out instead.
    form = (DeleteAccountForm if user.password_hash else DeleteRemoteAccountForm)(request.POST)
    error = None
    if request.method == "POST" and form.validate():
        backends = request.registry["nsupdate.dns_backends"]
        try:
            report = accounts.delete_account(
                request.dbsession, user, form.password.data if "password" in form else "",
                backends, request.app_settings.default_ttl,
                typed_username=form.username.data if "username" in form else "")
        except InvalidValue as exc:
            error = exc.args[0]
        else:
            headers = forget(request)
            request.session.invalidate()
            _say_what_was_done(request, report)
            return HTTPSeeOther(location=request.resource_url(request.root), headers=headers)
    return {"form": form, "error": error, "username": user.username,
            "hosts": [host.fqdn for host in hosts_for_user(request.dbsession, user.id)],
            "domains": [domain.name for domain in domains_for_user(request.dbsession, user.id)[0]]}


def _say_what_was_done(request: Request, report: accounts.DeletionReport) -> None:
    """Flash the report; the DNS records go after commit, and their outcome is added then (the
    session cookie is written after the transaction has ended)."""
    flash(request, _("The account ${name} is deleted.", mapping={"name": report.username}), "success")
    if report.hosts:
        flash(request, _("Deleted hosts: ${hosts}.", mapping={"hosts": ", ".join(report.hosts)}))
    if report.domains_deleted:
        flash(request, _("Deleted domains: ${domains}.",
                         mapping={"domains": ", ".join(report.domains_deleted)}))
    for domain, heir in report.domains_kept:
        flash(request, _("The domain ${domain} was kept because other users have hosts in it; "
                         "it now belongs to ${owner}.", mapping={"domain": domain, "owner": heir}))
    remove_records_after_commit(request, report, _say_records_removed)


def _say_records_removed(request: Request, failures: list[tuple[str, object]], removed: int) -> None:
    if removed:
        flash(request, _("Removed the DNS records of ${count} names.", mapping={"count": removed}))
    flash_record_failures(request, failures, removed)
