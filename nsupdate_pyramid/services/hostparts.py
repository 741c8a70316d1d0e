"""What hangs below a host: related hosts (names whose addresses follow the host's prefix) and
its accounts at third-party dyndns2 services.

Records of related hosts are written by the update API when the host's address changes; here
they are only removed (after commit, by the caller) when a related host goes or is renamed.
"""
from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.name
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..i18n import _
from ..models import Host, RelatedHost, Service, ServiceConfig
from .errors import AlreadyExists, InvalidValue, NotFound
from .names import check_host_label, normalize_name
from .related import BadInterfaceId, parse_interface_id


def check_interface_id(text: str, version: int, netmask: int) -> str:
    """"" (no record of this family) or an id that fits the host part of the host's network."""
    text = text.strip()
    if not text:
        return ""
    try:
        bits = parse_interface_id(text, version)
    except BadInterfaceId:
        example = "0.0.0.5" if version == 4 else "::1234:5678:9abc:def0"
        raise InvalidValue(_("Not an interface id; write it like ${example}.",
                             mapping={"example": example})) from None
    width = 32 if version == 4 else 128
    if bits >= 1 << (width - netmask):
        raise InvalidValue(_("Too large for the host part of a /${netmask} network (the host's "
                             "netmask).", mapping={"netmask": netmask}))
    return text


@dataclass(frozen=True)
class RelatedInput:
    name: str
    comment: str
    available: bool
    interface_id_ipv4: str
    interface_id_ipv6: str


class FieldError(InvalidValue):
    """An invalid value and the form field it belongs to."""

    def __init__(self, field: str, message: object) -> None:
        super().__init__(message)
        self.field = field


def save_related(dbsession: Session, host: Host, related: RelatedHost | None,
                 data: RelatedInput) -> tuple[RelatedHost, str | None]:
    """Add (``related`` None) or change a related host; returns it and its old name when it was
    renamed (that name's records are to be removed). Raises FieldError."""
    try:
        name = check_host_label(data.name)
    except InvalidValue as error:
        raise FieldError("name", error.args[0]) from None
    if any(other.name == name and other is not related for other in host.related_hosts):
        raise FieldError("name", _("This host already has a related host of this name."))
    ids = {}
    for field, version, netmask in (("interface_id_ipv4", 4, host.netmask_ipv4),
                                    ("interface_id_ipv6", 6, host.netmask_ipv6)):
        try:
            ids[field] = check_interface_id(getattr(data, field), version, netmask)
        except InvalidValue as error:
            raise FieldError(field, error.args[0]) from None
    old_name = related.name if related is not None and related.name != name else None
    if related is None:
        related = RelatedHost(host=host, name=name)
        dbsession.add(related)
    related.name = name
    related.comment = data.comment.strip()[:255]
    related.available = data.available
    related.interface_id_ipv4 = ids["interface_id_ipv4"]
    related.interface_id_ipv6 = ids["interface_id_ipv6"]
    dbsession.flush()
    return related, old_name


def delete_related(dbsession: Session, related: RelatedHost) -> str:
    """Delete it; returns its record name relative to the zone, for removal after commit."""
    name = f"{related.name}.{related.host.name}"
    related.host.related_hosts.remove(related)
    dbsession.delete(related)
    dbsession.flush()
    return name


# --- third-party services ----------------------------------------------------------------------

def services(dbsession: Session) -> list[Service]:
    return list(dbsession.scalars(select(Service).order_by(Service.name)))


@dataclass(frozen=True)
class ServiceInput:
    service_id: int
    hostname: str
    name: str
    password: str
    give_ipv4: bool
    give_ipv6: bool
    enabled: bool
    comment: str


def _check_hostname(hostname: str) -> str:
    hostname = normalize_name(hostname)
    if not hostname:
        return ""
    try:
        dns.name.from_text(hostname)
    except dns.exception.DNSException:
        raise FieldError("hostname", _("Not a host name.")) from None
    if any(c.isspace() or c in "/?#@:" for c in hostname):
        raise FieldError("hostname", _("Not a host name."))
    return hostname


def save_service_config(dbsession: Session, host: Host, config: ServiceConfig | None,
                        data: ServiceInput) -> ServiceConfig:
    """Add (``config`` None) or change an account at a third-party service. An empty password
    keeps the stored one (it is never shown again). Raises FieldError."""
    service = dbsession.get(Service, data.service_id)
    if service is None:
        raise NotFound(_("There is no such service."))
    hostname = _check_hostname(data.hostname)
    if config is None:
        if not data.password:
            raise FieldError("password", _("Please fill in this field."))
        duplicate = any(other.service_id == service.id and other.hostname == hostname
                        for other in host.service_configs)
        if duplicate:
            raise AlreadyExists(_("This host already passes its updates on to this service and "
                                  "host name."))
        config = ServiceConfig(host=host, service=service)
        dbsession.add(config)
    config.hostname = hostname
    config.name = data.name.strip()
    if data.password:
        config.password = data.password
    config.give_ipv4 = data.give_ipv4
    config.give_ipv6 = data.give_ipv6
    config.enabled = data.enabled
    config.comment = data.comment.strip()[:255]
    dbsession.flush()
    return config


def delete_service_config(dbsession: Session, config: ServiceConfig) -> None:
    config.host.service_configs.remove(config)
    dbsession.delete(config)
    dbsession.flush()
