"""Domains: creation and lookup."""
from __future__ import annotations

import base64
import binascii
import ipaddress
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..dns.zone import CheckResult, ZoneInfo
from ..i18n import _
from ..interfaces import IZoneKeeper
from ..models import TSIG_ALGORITHMS, Domain, Host, User, utcnow
from .errors import AlreadyExists, InvalidValue
from .lookups import NameCheck, NameKind, classify_name
from .names import check_domain_name, normalize_name

if TYPE_CHECKING:  # accounts imports this module
    from .accounts import DeletionReport


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


# --- the domain pages ---------------------------------------------------------------------------

#: Bytes of a generated TSIG secret: the digest size of the algorithm (RFC 4635 recommends it).
TSIG_SECRET_BYTES = {"hmac-md5": 16, "hmac-sha1": 20, "hmac-sha224": 28, "hmac-sha256": 32,
                     "hmac-sha384": 48, "hmac-sha512": 64}


def generate_tsig_secret(algorithm: str) -> str:
    return base64.b64encode(secrets.token_bytes(TSIG_SECRET_BYTES.get(algorithm, 64))).decode()


def parent_here(dbsession: Session, name: str) -> Domain | None:
    """A domain of this service that ``name`` lies in: then ``name`` is a host, not a domain."""
    labels = normalize_name(name).split(".")
    parents = [".".join(labels[i:]) for i in range(1, len(labels) - 1)]
    if not parents:
        return None
    return dbsession.scalars(select(Domain).where(Domain.name.in_(parents))
                             .order_by(func.length(Domain.name).desc())).first()


def check_is_domain(dbsession: Session, name: str, *, nameserver: str = "", port: int = 53,
                    timeout: float = 3.0) -> NameCheck:
    """Refuse names that are hosts (nsupdate.info 0.12: people added their host as a domain).

    A name inside one of our domains is refused at once; with a nameserver given, that server
    is asked (not recursively) for the name's SOA: a name it places inside another zone is
    refused too. Its other answers (no answer, not authoritative) are returned for the page to
    show: the zone may not be set up there yet.
    """
    name = check_domain_name(name)
    parent = parent_here(dbsession, name)
    if parent is not None:
        raise InvalidValue(_("${name} lies in the domain ${parent} of this service: add it as a "
                             "host there.", mapping={"name": name, "parent": parent.name}))
    if not nameserver:
        return NameCheck(NameKind.UNKNOWN, detail="no nameserver given")
    found = classify_name(name, _check_ip(nameserver), port, timeout)
    if found.kind is NameKind.INSIDE:
        raise InvalidValue(_("The nameserver says that ${name} is a name in its zone ${zone}, "
                             "not a zone of its own: is it a host?",
                             mapping={"name": name, "zone": found.zone}))
    return found


def edit_domain(domain: Domain, *, comment: str, public: bool, available: bool,
                nameserver_ip: str, nameserver2_ip: str, nameserver_port: int,
                tsig_key_name: str, tsig_algorithm: str) -> None:
    if tsig_algorithm not in TSIG_ALGORITHMS:
        raise InvalidValue(_("Unknown TSIG algorithm."))
    if not 1 <= nameserver_port <= 65535:
        raise InvalidValue(_("Invalid nameserver port."))
    if public and not available:
        raise InvalidValue(_("A domain must be available to be public."))
    domain.nameserver_ip = _check_ip(nameserver_ip)
    domain.nameserver2_ip = _check_ip(nameserver2_ip)
    domain.comment = comment.strip()[:255]
    domain.public = public
    domain.available = available
    domain.nameserver_port = nameserver_port
    domain.tsig_key_name = normalize_name(tsig_key_name) if tsig_key_name else domain.name
    domain.tsig_algorithm = tsig_algorithm


def new_tsig_secret(domain: Domain) -> str:
    """A fresh secret for the domain's algorithm; the nameserver must be given it too."""
    domain.tsig_secret = generate_tsig_secret(domain.tsig_algorithm)
    return domain.tsig_secret


def check_domain(domain: Domain, backend: Any, default_ttl: int) -> CheckResult:
    """Ask the backend (SOA, then a test update) and keep the result on the domain."""
    if backend is None:
        result = CheckResult(False, f"backend {domain.backend!r} is not configured")
    else:
        result = backend.check(zone_info(domain, default_ttl))
    domain.check_ok = result.ok
    domain.check_result = result.message[:2000]
    domain.last_check = utcnow()
    return result


def delete_domain(dbsession: Session, domain: Domain, backends: Mapping[str, Any],
                  default_ttl: int) -> DeletionReport:
    """Delete the domain and its owner's hosts in it; refused while other users have hosts
    there. Records of the hosts are listed for removal after commit, unless the zone lives in
    our database (it goes with the domain)."""
    from .accounts import DeletionReport
    from .hosts import dns_cleanup, record_names

    hosts = list(dbsession.scalars(select(Host).options(selectinload(Host.related_hosts))
                                   .where(Host.domain_id == domain.id).order_by(Host.fqdn)))
    others = sorted({host.owner_id for host in hosts} - {domain.owner_id})
    if others:
        raise InvalidValue(_("Other users have hosts in this domain (${count}); it cannot be "
                             "deleted while they do.",
                             mapping={"count": sum(h.owner_id != domain.owner_id for h in hosts)}))
    report = DeletionReport(domain.owner.username, hosts=[host.fqdn for host in hosts],
                            domains_deleted=[domain.name])
    if not IZoneKeeper.providedBy(backends.get(domain.backend)):
        report.dns = [dns_cleanup(host, record_names(host), default_ttl) for host in hosts]
    for host in hosts:
        dbsession.delete(host)
    dbsession.flush()
    dbsession.delete(domain)
    dbsession.flush()
    return report
