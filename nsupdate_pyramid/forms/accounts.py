"""Forms of the account pages. Labels and messages are translation strings; the templates
translate them (see templates/macros/forms.jinja2)."""
from __future__ import annotations

from typing import Any

from babel import Locale
from wtforms import BooleanField, EmailField, Form, PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from ..i18n import _

REQUIRED = _("Please fill in this field.")
MAX_PASSWORD = 4096


def _password(label: Any) -> PasswordField:
    return PasswordField(label, [InputRequired(REQUIRED), Length(max=MAX_PASSWORD)])


def _new_passwords() -> tuple[PasswordField, PasswordField]:
    return (_password(_("New password")),
            PasswordField(_("New password (again)"), [
                InputRequired(REQUIRED), EqualTo("new_password", _("The passwords differ."))]))


class RegistrationForm(Form):
    username = StringField(_("User name"), [InputRequired(REQUIRED), Length(max=150)])
    email = EmailField(_("Email address"), [InputRequired(REQUIRED), Length(max=254)])
    new_password, new_password_again = _new_passwords()


class PasswordResetRequestForm(Form):
    email = EmailField(_("Email address"), [InputRequired(REQUIRED), Length(max=254)])


class PasswordResetForm(Form):
    new_password, new_password_again = _new_passwords()


class PasswordChangeForm(Form):
    current_password = _password(_("Current password"))
    new_password, new_password_again = _new_passwords()


class EmailChangeForm(Form):
    email = EmailField(_("New email address"), [InputRequired(REQUIRED), Length(max=254)])
    password = _password(_("Password"))


class LanguageForm(Form):
    language = SelectField(_("Language"), validate_choice=True)

    def __init__(self, formdata: Any = None, *, languages: tuple[str, ...], **kw: Any) -> None:
        super().__init__(formdata, **kw)
        # Each language under its own name ("Deutsch"), as people look for it.
        self.language.choices = [("", _("as the browser asks")),
                                 *((code, Locale.parse(code).get_display_name(code).capitalize())
                                   for code in languages)]


class DeleteAccountForm(Form):
    password = _password(_("Password"))
    confirm = BooleanField(_("Yes, delete my account, my hosts and my domains."),
                           [InputRequired(_("Tick the box to confirm."))])


class DeleteRemoteAccountForm(Form):
    """Deleting an account without a password (remote logins only): its name typed out."""

    username = StringField(_("Your user name"), [InputRequired(REQUIRED), Length(max=150)])
    confirm = BooleanField(_("Yes, delete my account, my hosts and my domains."),
                           [InputRequired(_("Tick the box to confirm."))])


class RemoteUsernameForm(Form):
    """The user name of an account made by a remote login, when the provider's one is taken."""

    username = StringField(_("User name"), [InputRequired(REQUIRED), Length(max=150)])
