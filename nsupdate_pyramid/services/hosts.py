"""Hosts: creation, lookup, flags and update secrets."""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..dns.errors import DNSBackendError
from ..dns.zone import ZoneInfo
from ..i18n import _
from ..models import BlacklistedHost, Domain, Host, User
from ..security import secrets
from .accounts import DeletionReport, DNSCleanup
from .addresses import BadAddress, lan_values, parse_lan_address
from .domains import zone_info
from .errors import AlreadyExists, BackendFailed, InvalidValue, NotFound
from .names import check_host_label, normalize_name


def get_host_by_fqdn(dbsession: Session, fqdn: str) -> Host | None:
    return dbsession.scalars(
        select(Host).options(joinedload(Host.domain)).where(Host.fqdn == normalize_name(fqdn))
    ).one_or_none()


def hosts_for_user(dbsession: Session, user_id: int) -> list[Host]:
    return list(dbsession.scalars(
        select(Host).options(joinedload(Host.domain)).where(Host.owner_id == user_id)
        .order_by(Host.fqdn)).all())


def split_fqdn(dbsession: Session, fqdn: str) -> tuple[str, Domain]:
    """The host label and the domain it belongs to (the label is what comes before the first dot)."""
    fqdn = normalize_name(fqdn)
    label, dot, domain_name = fqdn.partition(".")
    if not dot or not domain_name:
        raise InvalidValue(_("Give the host's full name, like myhost.example.org."))
    domain = dbsession.scalars(select(Domain).where(Domain.name == domain_name)).one_or_none()
    if domain is None:
        raise NotFound(_("There is no domain ${domain}.", mapping={"domain": domain_name}))
    return label, domain


def is_blacklisted(dbsession: Session, label: str, extra_patterns: tuple[str, ...] = ()) -> bool:
    """Whether a pattern of the admins' table or of the ini matches anywhere in ``label``."""
    patterns = [*extra_patterns, *dbsession.scalars(select(BlacklistedHost.name_re)).all()]
    for pattern in patterns:
        try:
            if re.search(pattern, label):
                return True
        except re.error:
            continue
    return False


def create_host(dbsession: Session, fqdn: str, owner: User, *, secret: str | None = None,
                comment: str = "", blacklist: tuple[str, ...] = ()) -> tuple[Host, str]:
    """Create the host and return it with its update secret (only its hash is stored).

    ``blacklist``: the ini's ``nsupdate.host_blacklist`` patterns, checked with the table's.
    """
    label, domain = split_fqdn(dbsession, fqdn)
    label = check_host_label(label)
    if is_blacklisted(dbsession, label, blacklist):
        raise InvalidValue(_("This host name is not allowed."))
    full = f"{label}.{domain.name}"
    if get_host_by_fqdn(dbsession, full) is not None:
        raise AlreadyExists(_("A host with this name already exists."))
    secret = secret or secrets.generate_secret()
    host = Host(name=label, domain_id=domain.id, fqdn=full, owner_id=owner.id, comment=comment,
                update_secret_hash=secrets.hash_secret(secret))
    dbsession.add(host)
    dbsession.flush()
    return host, secret


def add_host(dbsession: Session, label: str, domain_name: str, owner: User, *, comment: str = "",
             blacklist: tuple[str, ...] = ()) -> tuple[Host, str]:
    """A host from the add form: the label on its own is checked first, so "a.b" is a bad name
    rather than a host in a domain "b.<domain>"."""
    label = check_host_label(label)
    return create_host(dbsession, f"{label}.{domain_name}", owner, comment=comment.strip(),
                       blacklist=blacklist)


def new_secret(host: Host) -> str:
    """Replace the update secret; the old one stops working at once."""
    secret = secrets.generate_secret()
    host.update_secret_hash = secrets.hash_secret(secret)
    return secret


def set_flags(host: Host, *, available: bool | None = None, abuse: bool | None = None,
              abuse_blocked: bool | None = None) -> None:
    if available is not None:
        host.available = available
    if abuse is not None:
        host.abuse = abuse
    if abuse_blocked is not None:
        host.abuse_blocked = abuse_blocked


def set_lan_address(host: Host, value: str) -> str:
    """Set (or with "" remove) the host's LAN address; returns it in canonical form.

    Only the setting: give it to the nameserver with ``publish_lan_address`` after the
    caller's transaction is committed (the built-in backend writes through its own
    connection, which on SQLite would wait for the caller's write lock).
    """
    try:
        lan = parse_lan_address(value)
    except BadAddress:
        raise InvalidValue(_("Not a usable IP address.")) from None
    host.lan_ip = lan
    return lan


def publish_lan_address(backend: Any, zone: ZoneInfo, name: str, lan: str) -> None:
    """Hand the LAN address to a backend with a split horizon (the built-in nameserver), for
    the record of its family; other backends have none, and it stays a setting of the host."""
    set_lan = getattr(backend, "set_lan", None)
    if set_lan is None:
        return
    try:
        for rdtype, lan_value in lan_values(lan).items():
            set_lan(zone, name, rdtype, lan_value)
    except DNSBackendError as error:
        raise BackendFailed(_("The nameserver did not take the change: ${detail}",
                              mapping={"detail": error.message})) from None


def edit_host(host: Host, *, comment: str, available: bool, netmask_ipv4: int,
              netmask_ipv6: int, clear_abuse: bool = False) -> None:
    """What the owner may change; the abuse flag only goes off (admins set it, and only they
    lift ``abuse_blocked``)."""
    if not 0 <= netmask_ipv4 <= 32 or not 0 <= netmask_ipv6 <= 128:
        raise InvalidValue(_("Invalid netmask."))
    host.comment = comment.strip()[:255]
    host.available = available
    host.netmask_ipv4 = netmask_ipv4
    host.netmask_ipv6 = netmask_ipv6
    if clear_abuse:
        host.abuse = False


def record_names(host: Host, *, related: bool = True) -> list[str]:
    """The host's record names relative to its zone, with those of its related hosts."""
    names = [host.name]
    if related:
        names += [f"{item.name}.{host.name}" for item in host.related_hosts]
    return names


def dns_cleanup(host: Host, names: list[str], default_ttl: int) -> DNSCleanup:
    """What :func:`remove_records` needs to delete ``names`` of the host's zone after commit."""
    return DNSCleanup(host.domain.backend, zone_info(host.domain, default_ttl), names,
                      [f"{name}.{host.domain.name}" for name in names])


def delete_host(dbsession: Session, host: Host, default_ttl: int) -> DeletionReport:
    """Delete the host and its related hosts; the report lists the DNS records to remove once
    the deletion is committed (:func:`..accounts.remove_records`)."""
    if host.abuse_blocked:
        raise InvalidValue(_("A host blocked for abuse cannot be deleted; ask the administrator."))
    report = DeletionReport(host.owner.username if host.owner else "", hosts=[host.fqdn])
    report.dns.append(dns_cleanup(host, record_names(host), default_ttl))
    dbsession.delete(host)
    dbsession.flush()
    return report
