"""Forms of the domain pages; the service layer checks names, addresses and the DNS."""
from __future__ import annotations

from typing import Any

from wtforms import BooleanField, Form, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from ..i18n import _
from ..models import TSIG_ALGORITHMS
from .accounts import REQUIRED
from .hosts import TEXT

PORT = [InputRequired(REQUIRED), NumberRange(1, 65535, _("Enter a port from 1 to 65535."))]


class _NameserverFields(Form):
    nameserver_ip = StringField(_("Primary nameserver address"), [Length(max=45)], filters=TEXT)
    nameserver2_ip = StringField(_("Secondary nameserver address (optional)"), [Length(max=45)],
                                 filters=TEXT)
    nameserver_port = IntegerField(_("Nameserver port"), PORT, default=53)
    tsig_algorithm = SelectField(_("TSIG algorithm"), choices=[(a, a) for a in TSIG_ALGORITHMS],
                                 default="hmac-sha512", validate_choice=True)
    comment = StringField(_("Comment"), [Length(max=255)], filters=TEXT)


class DomainAddForm(_NameserverFields):
    name = StringField(_("Domain name"), [InputRequired(REQUIRED), Length(max=253)], filters=TEXT)
    backend = SelectField(_("How records are published"), validate_choice=True)

    def __init__(self, formdata: Any = None, *, backends: list[str], default: str,
                 **kw: Any) -> None:
        super().__init__(formdata, **kw)
        self.backend.choices = [(name, name) for name in backends]
        if formdata is None:
            self.backend.data = default


class DomainEditForm(_NameserverFields):
    public = BooleanField(_("Public: every user may add hosts to it"))
    available = BooleanField(_("Available: updates are sent to its nameserver"))
    tsig_key_name = StringField(_("TSIG key name"), [Length(max=253)], filters=TEXT)
