"""Forms of the host pages: hosts, related hosts and third-party service configurations.

They check shape and length; the service layer decides the rest (names, duplicates, interface
ids) and its errors are put on the field they concern by the views.
"""
from __future__ import annotations

from typing import Any

from wtforms import BooleanField, Form, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..i18n import _
from .accounts import REQUIRED


def _text(value: str | None) -> str:
    """Absent fields (a hand-made POST) become "", and surrounding blanks go."""
    return (value or "").strip()


TEXT = [_text]


class HostAddForm(Form):
    name = StringField(_("Host name"), [InputRequired(REQUIRED), Length(max=63)], filters=TEXT)
    domain = SelectField(_("Domain"), [InputRequired(REQUIRED)], validate_choice=True)
    comment = StringField(_("Comment"), [Length(max=255)], filters=TEXT)

    def __init__(self, formdata: Any = None, *, domains: list[str], **kw: Any) -> None:
        super().__init__(formdata, **kw)
        self.domain.choices = [(name, name) for name in domains]


class HostEditForm(Form):
    comment = StringField(_("Comment"), [Length(max=255)], filters=TEXT)
    available = BooleanField(_("Available (updates are accepted)"))
    clear_abuse = BooleanField(_("Clear the abuse flag (I fixed my update client)"))
    netmask_ipv4 = IntegerField(_("IPv4 netmask (prefix length)"), [
        InputRequired(REQUIRED), NumberRange(0, 32, _("Enter a number from 0 to 32."))])
    netmask_ipv6 = IntegerField(_("IPv6 netmask (prefix length)"), [
        InputRequired(REQUIRED), NumberRange(0, 128, _("Enter a number from 0 to 128."))])


class RelatedHostForm(Form):
    name = StringField(_("Name"), [InputRequired(REQUIRED), Length(max=63)], filters=TEXT)
    comment = StringField(_("Comment"), [Length(max=255)], filters=TEXT)
    available = BooleanField(_("Available (its records follow the host)"), default=True)
    interface_id_ipv4 = StringField(_("IPv4 interface id"), [Optional(), Length(max=15)], filters=TEXT)
    interface_id_ipv6 = StringField(_("IPv6 interface id"), [Optional(), Length(max=39)], filters=TEXT)


class ServiceConfigForm(Form):
    service = SelectField(_("Service"), [InputRequired(REQUIRED)], coerce=int,
                          validate_choice=True)
    hostname = StringField(_("Host name at the service"), [Length(max=255)], filters=TEXT)
    name = StringField(_("User name at the service"), [Length(max=255)], filters=TEXT)
    password = PasswordField(_("Password at the service"), [Length(max=255)])
    give_ipv4 = BooleanField(_("Pass IPv4 addresses on"))
    give_ipv6 = BooleanField(_("Pass IPv6 addresses on"))
    enabled = BooleanField(_("Enabled"), default=True)
    comment = StringField(_("Comment"), [Length(max=255)], filters=TEXT)

    def __init__(self, formdata: Any = None, *, services: list[tuple[int, str]], **kw: Any) -> None:
        super().__init__(formdata, **kw)
        self.service.choices = services
