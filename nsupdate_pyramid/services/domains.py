"""Domains: creation and lookup."""
from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..dns.zone import ZoneInfo
from ..i18n import _
from ..interfaces import IZoneKeeper
from ..models import TSIG_ALGORITHMS, Domain, User
from .errors import AlreadyExists, InvalidValue
from .names import check_domain_name, normalize_name


def get_domain_by_name(dbsession: Session, name: str) -> Domain | None:
    return dbsession.scalars(select(Domain).where(Domain.name == normalize_name(name))).one_or_none()


def domains_for_user(dbsession: Session, user_id: int) -> tuple[list[Domain], list[Domain]]:
    """The user's own domains, then other people's public ones."""
    rows = dbsession.scalars(
        select(Domain).where(or_(Domain.owner_id == user_id, Domain.public.is_(True)))
        .order_by(Domain.name)).all()
    own = [d for d in rows if d.owner_id == user_id]
    return own, [d for d in rows if d.owner_id != user_id]


def _check_ip(value: str) -> str:
    if not value:
        return ""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise InvalidValue(_("Invalid nameserver address.")) from None


def create_domain(dbsession: Session, name: str, owner: User, *, backend: str,
                  public: bool = False, nameserver_ip: str = "", nameserver2_ip: str = "",
                  nameserver_port: int = 53, tsig_key_name: str = "",
                  tsig_algorithm: str = "hmac-sha512", tsig_secret: str = "",
                  comment: str = "", dns_backend: Any = None) -> Domain:
    """Add a domain; ``dns_backend`` (the instance named by ``backend``) adds its zone when it
    keeps zones in our database (the builtin backend), in the same transaction."""
    name = check_domain_name(name)
    if get_domain_by_name(dbsession, name) is not None:
        raise AlreadyExists(_("A domain with this name already exists."))
    if tsig_algorithm not in TSIG_ALGORITHMS:
        raise InvalidValue(_("Unknown TSIG algorithm."))
    if not 1 <= nameserver_port <= 65535:
        raise InvalidValue(_("Invalid nameserver port."))
    if tsig_secret:
        try:
            base64.b64decode(tsig_secret, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidValue(_("The TSIG secret must be base64.")) from None
    domain = Domain(
        name=name, owner_id=owner.id, public=public, backend=backend,
        nameserver_ip=_check_ip(nameserver_ip), nameserver2_ip=_check_ip(nameserver2_ip),
        nameserver_port=nameserver_port,
        # nsupdate.info names the key after the zone; keep that unless told otherwise.
        tsig_key_name=normalize_name(tsig_key_name) if tsig_key_name else name,
        tsig_algorithm=tsig_algorithm, tsig_secret=tsig_secret, comment=comment,
    )
    dbsession.add(domain)
    dbsession.flush()
    if IZoneKeeper.providedBy(dns_backend):
        dns_backend.create_zone(dbsession, domain.id, domain.name)
    return domain


def zone_info(domain: Domain, default_ttl: int) -> ZoneInfo:
    """What a DNS backend needs to know about the domain (it never sees ORM objects)."""
    return ZoneInfo(
        name=domain.name, nameserver=domain.nameserver_ip, nameserver2=domain.nameserver2_ip,
        port=domain.nameserver_port, tsig_key_name=domain.tsig_key_name,
        tsig_algorithm=domain.tsig_algorithm, tsig_secret=domain.tsig_secret,
        ttl=domain.ttl or default_ttl)
