"""The manual update form on the host page: an IPv4 and/or an IPv6 address."""
from __future__ import annotations

from typing import Any

from wtforms import Form, StringField, ValidationError
from wtforms.validators import Length

from ..i18n import _
from ..services.ipaddr import parse_address
from .hosts import TEXT


def _family(version: int, message: str) -> Any:
    def check(form: Form, field: Any) -> None:
        if not field.data:
            return
        try:
            address = parse_address(field.data)
        except ValueError:
            raise ValidationError(message) from None
        if address.version != version:
            raise ValidationError(message)
        field.data = str(address)  # canonical, as the update API would publish it

    return check


class ManualUpdateForm(Form):
    ipv4 = StringField(_("IPv4 address"), [Length(max=45), _family(
        4, _("Enter an IPv4 address like 192.0.2.1."))], filters=TEXT)
    ipv6 = StringField(_("IPv6 address"), [Length(max=45), _family(
        6, _("Enter an IPv6 address like 2001:db8::1."))], filters=TEXT)

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not self.ipv4.data and not self.ipv6.data:
            self.ipv4.errors = [_("Enter an IPv4 address, an IPv6 address or both.")]
            return False
        return True

    def myip(self) -> str:
        """The ``myip`` parameter of the update API."""
        return ",".join(value for value in (self.ipv4.data, self.ipv6.data) if value)
