"""What the admin pages do: list (search, sort, keyset pages), edit, delete and bulk-change rows,
write every change to the audit log, and count the status figures.

One table (``KINDS``) describes each kind of row the admin pages handle, so the views stay a few
generic functions and adding a column is one line here.

Pages use keyset pagination (``WHERE (sort, id) > (last sort, last id) ORDER BY sort, id
LIMIT n``): with the unique fqdn/name indexes a page costs the same at row 100 000 as at row 1.
Counter sorts read the table once (no index on the counters: they change on almost every update
and an index would slow the update API down for a page admins rarely open).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pyramid.i18n import TranslationString
from sqlalchemy import delete, func, or_, select, text, tuple_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, joinedload

from .. import __version__
from ..i18n import _
from ..models import AuditEntry, BlacklistedHost, Domain, Host, RelatedHost, Service, User, utcnow
from .accounts import DeletionReport, DNSCleanup
from .admin_maintenance import abuse_cleanup, audit, host_cleanup
from .domains import zone_info
from .errors import InvalidValue

log = logging.getLogger("nsupdate_pyramid.audit")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Field:
    """An editable column: ``kind`` is bool, int or str."""

    name: str
    label: TranslationString
    kind: str = "str"
    minimum: int = 0
    maximum: int = 2**31 - 1
    max_length: int = 255


@dataclass(frozen=True)
class Bulk:
    """A bulk action: set ``column`` to ``value`` on the chosen rows (several columns for resets)."""

    label: TranslationString
    values: Mapping[str, Any]
    # Flagging a host for abuse also removes its records (as nsupdate.info does).
    removes_records: bool = False


@dataclass(frozen=True)
class Kind:
    key: str
    model: Any
    title: TranslationString
    name: Any  # the column that names a row (and the default sort)
    search: tuple[Any, ...]
    sorts: Mapping[str, Any]  # key -> column; "name" is the name column
    columns: tuple[tuple[TranslationString, str], ...]  # list columns: (label, attribute)
    fields: tuple[Field, ...]
    bulk: Mapping[str, Bulk] = field(default_factory=dict)
    creatable: bool = False
    load: tuple[Any, ...] = ()

    def label(self, row: Any) -> str:
        return str(getattr(row, self.name.key))


_FAULT_RESET = Bulk(_("Reset fault counters"),
                    {"client_faults": 0, "server_faults": 0, "api_auth_faults": 0})

KINDS: dict[str, Kind] = {kind.key: kind for kind in (
    Kind("users", User, _("Users"), User.username, (User.username, User.email),
         {"name": User.username, "failed_logins": User.failed_logins},
         ((_("Email"), "email"), (_("Active"), "is_active"), (_("Admin"), "is_admin"),
          (_("Failed logins"), "failed_logins"), (_("Last login"), "last_login")),
         (Field("email", _("Email"), max_length=254), Field("language", _("Language"), max_length=10),
          Field("is_active", _("Active"), "bool"), Field("is_admin", _("Admin"), "bool"),
          Field("failed_logins", _("Failed logins"), "int")),
         {"activate": Bulk(_("Activate"), {"is_active": True}),
          "deactivate": Bulk(_("Deactivate"), {"is_active": False})}),
    Kind("hosts", Host, _("Hosts"), Host.fqdn, (Host.fqdn, Host.comment),
         {"name": Host.fqdn, "client_faults": Host.client_faults,
          "server_faults": Host.server_faults, "api_auth_faults": Host.api_auth_faults,
          "staleness": Host.staleness},
         ((_("Available"), "available"), (_("Abuse"), "abuse"), (_("Abuse blocked"), "abuse_blocked"),
          (_("Client faults"), "client_faults"), (_("Server faults"), "server_faults"),
          (_("Auth faults"), "api_auth_faults"), (_("Last seen"), "last_seen")),
         (Field("comment", _("Comment")), Field("available", _("Available"), "bool"),
          Field("abuse", _("Abuse"), "bool"), Field("abuse_blocked", _("Abuse blocked"), "bool"),
          Field("client_faults", _("Client faults"), "int"),
          Field("server_faults", _("Server faults"), "int"),
          Field("api_auth_faults", _("Auth faults"), "int"),
          Field("netmask_ipv4", _("IPv4 netmask"), "int", 0, 32),
          Field("netmask_ipv6", _("IPv6 netmask"), "int", 0, 128),
          Field("staleness", _("Staleness"), "int")),
         {"set-abuse": Bulk(_("Flag for abuse"), {"abuse": True}, removes_records=True),
          "reset-abuse": Bulk(_("Clear abuse flag"), {"abuse": False}),
          "set-abuse-blocked": Bulk(_("Block for abuse"), {"abuse_blocked": True},
                                    removes_records=True),
          "reset-abuse-blocked": Bulk(_("Lift abuse block"), {"abuse_blocked": False}),
          "set-available": Bulk(_("Make available"), {"available": True}),
          "reset-available": Bulk(_("Make unavailable"), {"available": False}),
          "reset-faults": _FAULT_RESET},
         load=(joinedload(Host.owner), joinedload(Host.domain))),
    Kind("domains", Domain, _("Domains"), Domain.name, (Domain.name, Domain.comment),
         {"name": Domain.name},
         ((_("Public"), "public"), (_("Available"), "available"), (_("Backend"), "backend"),
          (_("Nameserver check"), "check_ok"), (_("Last check"), "last_check")),
         (Field("comment", _("Comment")), Field("public", _("Public"), "bool"),
          Field("available", _("Available"), "bool"),
          Field("nameserver_ip", _("Nameserver address"), max_length=45),
          Field("nameserver2_ip", _("Secondary nameserver address"), max_length=45),
          Field("nameserver_port", _("Nameserver port"), "int", 1, 65535)),
         {"set-available": Bulk(_("Make available"), {"available": True}),
          "reset-available": Bulk(_("Make unavailable"), {"available": False}),
          "set-public": Bulk(_("Make public"), {"public": True}),
          "reset-public": Bulk(_("Make private"), {"public": False})},
         load=(joinedload(Domain.owner),)),
    Kind("related", RelatedHost, _("Related hosts"), RelatedHost.name,
         (RelatedHost.name, RelatedHost.comment), {"name": RelatedHost.name},
         ((_("Host"), "host.fqdn"), (_("Available"), "available"),
          (_("IPv4 interface id"), "interface_id_ipv4"), (_("IPv6 interface id"), "interface_id_ipv6")),
         (Field("comment", _("Comment")), Field("available", _("Available"), "bool"),
          Field("interface_id_ipv4", _("IPv4 interface id"), max_length=15),
          Field("interface_id_ipv6", _("IPv6 interface id"), max_length=39)),
         {"set-available": Bulk(_("Make available"), {"available": True}),
          "reset-available": Bulk(_("Make unavailable"), {"available": False})},
         load=(joinedload(RelatedHost.host),)),
    Kind("services", Service, _("Services"), Service.name, (Service.name, Service.server),
         {"name": Service.name},
         ((_("Server"), "server"), (_("Path"), "path"), (_("TLS"), "secure")),
         (Field("name", _("Name"), max_length=64), Field("server", _("Server")),
          Field("path", _("Path")), Field("secure", _("TLS"), "bool"),
          Field("accept_ipv4", _("Accepts IPv4"), "bool"),
          Field("accept_ipv6", _("Accepts IPv6"), "bool"), Field("comment", _("Comment"))),
         creatable=True),
    Kind("blacklist", BlacklistedHost, _("Blacklisted host names"), BlacklistedHost.name_re,
         (BlacklistedHost.name_re,), {"name": BlacklistedHost.name_re},
         ((_("Created"), "created"),),
         (Field("name_re", _("Pattern (regular expression)")),),
         creatable=True),
)}


def attribute(row: Any, path: str) -> Any:
    """``host.fqdn``-style dotted attribute of a row (None along the way gives None)."""
    value = row
    for part in path.split("."):
        value = getattr(value, part, None)
    return value


# --- listing ------------------------------------------------------------------------------------

@dataclass
class Page:
    rows: list[Any]
    total: int
    sort: str
    descending: bool
    query: str
    next_cursor: str | None  # "after" of the next page, None on the last one


def _cursor_value(column: Any, raw: str) -> Any:
    python_type = column.type.python_type
    return int(raw) if python_type is int else raw


def parse_cursor(kind: Kind, sort: str, cursor: str) -> tuple[Any, int] | None:
    """``<sort value> <id>`` (split at the last space); anything malformed means "first page"."""
    value, _space, row_id = cursor.rpartition(" ")
    try:
        return _cursor_value(kind.sorts[sort], value), int(row_id)
    except (ValueError, KeyError):
        return None


def list_rows(dbsession: Session, kind: Kind, *, query: str = "", sort: str = "name",
              descending: bool = False, cursor: str = "", size: int = PAGE_SIZE) -> Page:
    """One page of rows matching ``query`` (a case-insensitive substring of the name columns)."""
    if sort not in kind.sorts:
        sort = "name"
    column, model = kind.sorts[sort], kind.model
    where: list[Any] = []
    query = query.strip()
    if query:
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(or_(*(func.lower(c).like(pattern, escape="\\") for c in kind.search)))
    total = dbsession.scalar(select(func.count()).select_from(model).where(*where)) or 0
    position = parse_cursor(kind, sort, cursor) if cursor else None
    key = tuple_(column, model.id)
    statement = select(model).options(*kind.load).where(*where)
    if position is not None:
        statement = statement.where(key < tuple_(*position) if descending else key > tuple_(*position))
    order = (column.desc(), model.id.desc()) if descending else (column, model.id)
    rows = list(dbsession.scalars(statement.order_by(*order).limit(size + 1)).unique())
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = f"{getattr(last, column.key)} {last.id}"
    return Page(rows, total, sort, descending, query, next_cursor)


def get_row(dbsession: Session, kind: Kind, row_id: str) -> Any | None:
    if not row_id.isdigit() or len(row_id) > 18:
        return None
    return dbsession.scalars(select(kind.model).options(*kind.load)
                             .where(kind.model.id == int(row_id))).unique().one_or_none()


# --- changes ------------------------------------------------------------------------------------

@dataclass
class Actor:
    """Who makes a change (written to the audit log with it)."""

    user_id: int | None
    username: str


def _record(dbsession: Session, actor: Actor, action: str, kind: Kind, target: str,
            detail: str) -> None:
    audit(dbsession, action, detail, actor=actor.username, actor_id=actor.user_id,
          target_type=kind.key, target=target)
    log.info("admin action=%s kind=%s target=%s actor=%s detail=%s", action, kind.key, target,
             actor.username, detail)


def _parse(field_: Field, raw: str | None) -> Any:
    if field_.kind == "bool":
        return raw in ("on", "1", "true", "yes")
    value = (raw or "").strip()
    if field_.kind == "int":
        try:
            number = int(value)
        except ValueError:
            raise InvalidValue(_("${field}: enter a whole number.",
                                 mapping={"field": field_.name})) from None
        if not field_.minimum <= number <= field_.maximum:
            raise InvalidValue(_("${field}: the number is out of range.",
                                 mapping={"field": field_.name}))
        return number
    if len(value) > field_.max_length:
        raise InvalidValue(_("${field}: too long.", mapping={"field": field_.name}))
    return value


def _validate(kind: Kind, values: dict[str, Any]) -> None:
    if kind.key == "blacklist":
        pattern = values.get("name_re", "")
        if not pattern:
            raise InvalidValue(_("Enter a pattern."))
        try:
            re.compile(pattern)
        except re.error:
            raise InvalidValue(_("This is not a valid regular expression.")) from None
    if kind.key == "services" and not (values.get("name") and values.get("server")):
        raise InvalidValue(_("Name and server are required."))


def parse_form(kind: Kind, form: Mapping[str, str]) -> dict[str, Any]:
    """The kind's editable fields from a submitted form (unchecked boxes are False)."""
    values = {f.name: _parse(f, form.get(f.name)) for f in kind.fields}
    _validate(kind, values)
    return values


def _removals(kind: Kind, row: Any, changes: dict[str, tuple[Any, Any]],
              default_ttl: int) -> list[Any]:
    """A host newly flagged for abuse loses its records (after commit)."""
    if kind.key != "hosts":
        return []
    flagged = any(name in changes and changes[name][1] for name in ("abuse", "abuse_blocked"))
    return [abuse_cleanup(row, default_ttl)] if flagged else []


def edit_row(dbsession: Session, kind: Kind, row: Any, values: dict[str, Any], actor: Actor,
             default_ttl: int) -> DeletionReport:
    """Apply ``values``; the audit entry lists each changed field as ``old -> new``."""
    changes = {name: (getattr(row, name), value) for name, value in values.items()
               if getattr(row, name) != value}
    for name, (_old, new) in changes.items():
        setattr(row, name, new)
    report = DeletionReport(actor.username, dns=_removals(kind, row, changes, default_ttl))
    if changes:
        detail = "; ".join(f"{name}: {old!r} -> {new!r}" for name, (old, new) in changes.items())
        _record(dbsession, actor, "edit", kind, kind.label(row), detail)
    dbsession.flush()
    return report


def create_row(dbsession: Session, kind: Kind, values: dict[str, Any], actor: Actor) -> Any:
    if not kind.creatable:
        raise InvalidValue(_("Rows of this kind are not made here."))
    if dbsession.scalar(select(func.count()).select_from(kind.model)
                        .where(kind.name == values[kind.name.key])):
        raise InvalidValue(_("This name is taken."))
    row = kind.model(**values)
    if kind.key == "blacklist":
        row.created_by_id = actor.user_id
    dbsession.add(row)
    dbsession.flush()
    _record(dbsession, actor, "create", kind, kind.label(row),
            "; ".join(f"{name}: {value!r}" for name, value in values.items()))
    return row


def delete_row(dbsession: Session, kind: Kind, row: Any, actor: Actor,
               default_ttl: int) -> DeletionReport:
    """Delete one row. A host's (or a domain's hosts') records go after commit. A user who owns
    domains must hand them over first: others' hosts may live in them."""
    report = DeletionReport(actor.username)
    label = kind.label(row)
    if kind.key == "users":
        if row.id == actor.user_id:
            raise InvalidValue(_("You cannot delete your own account here."))
        owned = dbsession.scalar(select(func.count()).select_from(Domain)
                                 .where(Domain.owner_id == row.id))
        if owned:
            raise InvalidValue(_("This user owns domains: delete them or give them to someone else first."))
        hosts = list(dbsession.scalars(select(Host).where(Host.owner_id == row.id)))
        report.dns = [host_cleanup(host, default_ttl) for host in hosts]
        report.hosts = [host.fqdn for host in hosts]
        dbsession.execute(delete(Host).where(Host.owner_id == row.id))
    elif kind.key == "hosts":
        report.dns.append(host_cleanup(row, default_ttl))
        report.hosts.append(row.fqdn)
    elif kind.key == "domains":
        hosts = list(dbsession.scalars(select(Host).where(Host.domain_id == row.id)))
        report.dns = [host_cleanup(host, default_ttl) for host in hosts]
        report.hosts = [host.fqdn for host in hosts]
        report.domains_deleted.append(row.name)
    elif kind.key == "related":
        names = [f"{row.name}.{row.host.name}"]
        report.dns.append(DNSCleanup(row.host.domain.backend, zone_info(row.host.domain, default_ttl),
                                     names, [f"{row.name}.{row.host.fqdn}"]))
    detail = f"hosts removed: {len(report.hosts)}" if report.hosts else ""
    dbsession.delete(row)
    dbsession.flush()
    _record(dbsession, actor, "delete", kind, label, detail)
    return report


def bulk_change(dbsession: Session, kind: Kind, action: str, ids: list[int], actor: Actor,
                default_ttl: int) -> tuple[int, DeletionReport]:
    """Apply a bulk action to the rows ``ids``; returns (rows changed, records to remove)."""
    bulk = kind.bulk.get(action)
    if bulk is None:
        raise InvalidValue(_("Unknown action."))
    report = DeletionReport(actor.username)
    if not ids:
        return 0, report
    if bulk.removes_records:
        for row in dbsession.scalars(select(kind.model).options(*kind.load)
                                     .where(kind.model.id.in_(ids))).unique():
            report.dns.append(abuse_cleanup(row, default_ttl))
    changed = dbsession.execute(update(kind.model).where(kind.model.id.in_(ids))
                                .values(dict(bulk.values))
                                .execution_options(synchronize_session=False)).rowcount
    names = list(dbsession.scalars(select(kind.name).where(kind.model.id.in_(ids))
                                   .order_by(kind.name).limit(20)))
    more = f" (+{len(ids) - len(names)} more)" if len(ids) > len(names) else ""
    _record(dbsession, actor, f"bulk {action}", kind, ", ".join(map(str, names)) + more,
            "; ".join(f"{name} = {value!r}" for name, value in bulk.values.items())
            + f"; rows: {changed}")
    dbsession.expire_all()
    return changed, report


# --- audit log ----------------------------------------------------------------------------------

def audit_page(dbsession: Session, *, before: int | None = None,
               size: int = PAGE_SIZE) -> tuple[list[AuditEntry], int | None]:
    """Newest first; returns the entries and the id to continue before (None: no more)."""
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(size + 1)
    if before is not None:
        statement = statement.where(AuditEntry.id < before)
    entries = list(dbsession.scalars(statement))
    if len(entries) > size:
        return entries[:size], entries[size - 1].id
    return entries, None


# --- status -------------------------------------------------------------------------------------

def schema_version(dbsession: Session) -> str:
    try:
        return dbsession.execute(text("SELECT version_num FROM alembic_version")).scalar() or "?"
    except SQLAlchemyError:
        return "?"


def status_figures(dbsession: Session) -> dict[str, Any]:
    """The counts on the status page (README "Operating" explains each one)."""
    now = utcnow()

    def count(model: Any, *where: Any) -> int:
        return dbsession.scalar(select(func.count()).select_from(model).where(*where)) or 0

    def updated_since(delta: timedelta) -> int:
        since = now - delta
        return count(Host, or_(Host.last_update_ipv4 >= since, Host.last_update_ipv6 >= since))

    def seen_since(delta: timedelta) -> int:
        return count(Host, Host.last_seen >= now - delta)

    last_check = dbsession.scalar(select(func.max(Domain.last_check)))
    return {
        "users": count(User), "active_users": count(User, User.is_active.is_(True)),
        "admins": count(User, User.is_admin.is_(True)),
        "logins_day": count(User, User.last_login >= now - timedelta(days=1)),
        "domains": count(Domain), "public_domains": count(Domain, Domain.public.is_(True)),
        "unavailable_domains": count(Domain, Domain.available.is_(False)),
        "hosts": count(Host), "unavailable": count(Host, Host.available.is_(False)),
        "updated_hour": updated_since(timedelta(hours=1)),
        "updated_day": updated_since(timedelta(days=1)),
        "seen_hour": seen_since(timedelta(hours=1)), "seen_day": seen_since(timedelta(days=1)),
        "client_faults": count(Host, Host.client_faults > 0),
        "server_faults": count(Host, Host.server_faults > 0),
        "api_auth_faults": count(Host, Host.api_auth_faults > 0),
        "abuse": count(Host, Host.abuse.is_(True)),
        "abuse_blocked": count(Host, Host.abuse_blocked.is_(True)),
        "stale": count(Host, Host.staleness > 0),
        "check_ok": count(Domain, Domain.check_ok.is_(True)),
        "check_failed": count(Domain, Domain.check_ok.is_(False)),
        "check_never": count(Domain, Domain.check_ok.is_(None)),
        "last_check": last_check,
        "app_version": __version__,
        "schema_version": schema_version(dbsession),
    }


def database_ok(dbsession: Session) -> bool:
    """For the health endpoint: one trivial query."""
    try:
        return dbsession.execute(text("SELECT 1")).scalar() == 1
    except SQLAlchemyError:
        return False

