"""The maintenance jobs behind ``nsupdate-admin faults|domains|hosts|users|testuser``.

They follow nsupdate.info's management commands (options, thresholds, messages), so operators
can keep their cron lines. The functions never see a request: they get a session, the
backends, a :class:`~..mail.Postman` (or None: no mails), an ``out`` callable for the lines
operators read and a ``commit`` callable that ends the current transaction and starts the
next one, so that slow nameserver checks never hold the database's write lock.

Records of hosts that are deleted or flagged for abuse are removed from DNS only after the
change is committed (:func:`..accounts.remove_records`), so a rolled-back run leaves DNS alone.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from ..i18n import _
from ..mail import Postman
from ..models import AuditEntry, Domain, Host, RemoteLogin, User, utcnow
from ..security import passwords
from .accounts import DeletionReport, DNSCleanup
from .domains import zone_info

Out = Callable[[str], None]
Commit = Callable[[], None]
CLI_ACTOR = "nsupdate-admin"
# nsupdate.info's host stale check: no address update for this long makes a host stale ...
STALE_AFTER = timedelta(days=325)
# ... its owner is told at most this often, and each notice raises its staleness by one:
NOTIFY_EVERY = timedelta(days=8)
STALE_UNAVAILABLE = 3  # from this staleness on the host is made unavailable
STALE_DELETE = 5  # and from this one deleted
# A user who neither logged in nor joined for this long is stale (nsupdate.info: 365 days).
USER_STALE_AFTER = timedelta(days=365)
# nsupdate.info counts a missing date as this one.
NEVER = datetime(1970, 1, 2, tzinfo=timezone.utc)
BATCH = 1000


def _noop() -> None:
    return None


class Progress:
    """``done/total`` lines every ``every`` items, for runs over many hosts (off: ``out=None``)."""

    def __init__(self, out: Out | None, label: str, total: int, every: int = BATCH) -> None:
        self.out, self.label, self.total, self.every, self.done = out, label, total, every, 0

    def step(self) -> None:
        self.done += 1
        if self.out is not None and (self.done % self.every == 0 or self.done == self.total):
            self.out(f"{self.label}: {self.done}/{self.total}")


def audit(dbsession: Session, action: str, detail: str, *, actor: str = CLI_ACTOR,
          actor_id: int | None = None, target_type: str = "", target: str = "") -> AuditEntry:
    """Write one audit-log entry (the admin pages and the commands both call this)."""
    entry = AuditEntry(actor=actor, actor_id=actor_id, action=action[:64],
                       target_type=target_type[:32], target=target[:255], detail=detail)
    dbsession.add(entry)
    return entry


def _owner_language(user: User, postman: Postman) -> str:
    return user.language or postman.settings.default_language


def notify(postman: Postman | None, user: User | None, template: str, subject: Any,
           **values: Any) -> bool:
    """Mail ``user`` (if there is a postman and an address); True when a mail was queued."""
    if postman is None or user is None or not user.email:
        return False
    postman.send(user.email, template, subject, _owner_language(user, postman),
                 username=user.username, **values)
    return True


# --- faults -------------------------------------------------------------------------------------

@dataclass
class FaultOptions:
    show_client: bool = False
    show_server: bool = False
    show_api_auth: bool = False
    reset_client: bool = False
    reset_server: bool = False
    reset_api_auth: bool = False
    reset_abuse: bool = False
    reset_abuse_blocked: bool = False
    reset_available: bool = False
    flag_abuse: int | None = None
    notify_user: bool = False
    dry_run: bool = False

    @property
    def shows(self) -> bool:
        return self.show_client or self.show_server or self.show_api_auth


@dataclass
class FaultSummary:
    hosts: int = 0
    flagged: int = 0
    mails: int = 0
    resets: dict[str, int] = field(default_factory=dict)
    dns: list[DNSCleanup] = field(default_factory=list)

    def line(self, dry_run: bool) -> str:
        resets = ", ".join(f"{name} reset on {count}" for name, count in self.resets.items())
        text = (f"faults: {self.hosts} hosts, {self.flagged} flagged for abuse, "
                f"{self.mails} mails" + (f", {resets}" if resets else ""))
        return text + (" (dry run: nothing changed)" if dry_run else "")


# (option, column, value it gets, "needs a reset" condition)
_RESETS: tuple[tuple[str, Any, Any, Any], ...] = (
    ("reset_client", Host.client_faults, 0, Host.client_faults != 0),
    ("reset_server", Host.server_faults, 0, Host.server_faults != 0),
    ("reset_api_auth", Host.api_auth_faults, 0, Host.api_auth_faults != 0),
    ("reset_abuse", Host.abuse, False, Host.abuse.is_(True)),
    ("reset_abuse_blocked", Host.abuse_blocked, False, Host.abuse_blocked.is_(True)),
    ("reset_available", Host.available, True, Host.available.is_(False)),
)


def _hosts_in_batches(dbsession: Session, *where: Any) -> Iterator[Host]:
    """Hosts with owner and domain, by fqdn, fetched in keyset batches (memory stays flat)."""
    last = ""
    while True:
        batch = list(dbsession.scalars(
            select(Host).options(joinedload(Host.owner), joinedload(Host.domain))
            .where(Host.fqdn > last, *where).order_by(Host.fqdn).limit(BATCH)))
        if not batch:
            return
        yield from batch
        last = batch[-1].fqdn


def abuse_cleanup(host: Host, default_ttl: int) -> DNSCleanup:
    """An abusive host's own records go (as in nsupdate.info); published values are cleared so
    its first update after the flag is lifted is sent again."""
    host.published_ipv4 = host.published_ipv6 = ""
    return DNSCleanup(host.domain.backend, zone_info(host.domain, default_ttl), [host.name],
                      [host.fqdn])


def faults(dbsession: Session, options: FaultOptions, out: Out, *, postman: Postman | None,
           default_ttl: int, progress: Out | None = None) -> FaultSummary:
    """Show counters, flag abuse above a threshold, then reset (nsupdate.info's order)."""
    summary = FaultSummary(hosts=dbsession.scalar(select(func.count()).select_from(Host)) or 0)
    if options.shows:
        meter = Progress(progress, "faults", summary.hosts)
        for host in _hosts_in_batches(dbsession):
            columns = [count for wanted, count in (
                (options.show_client, host.client_faults), (options.show_server, host.server_faults),
                (options.show_api_auth, host.api_auth_faults)) if wanted]
            out("".join(f"{count:<6d} " for count in columns) +
                f"{host.owner.username if host.owner else '-'} {host.fqdn}")
            meter.step()
    if options.flag_abuse is not None:
        for host in _hosts_in_batches(dbsession, Host.client_faults > options.flag_abuse):
            owner = host.owner.username if host.owner else "-"
            out(f"Setting abuse flag for host {host.fqdn} (created by {owner}, "
                f"client faults: {host.client_faults})")
            summary.flagged += 1
            if options.dry_run:
                continue
            faults_seen = host.client_faults
            host.abuse = True
            host.client_faults = 0
            summary.dns.append(abuse_cleanup(host, default_ttl))
            if options.notify_user and notify(
                    postman, host.owner, "host_abuse",
                    _("Issue with your host ${fqdn}", mapping={"fqdn": host.fqdn}),
                    fqdn=host.fqdn, comment=host.comment, faults=faults_seen,
                    threshold=options.flag_abuse,
                    host_url=postman.url(f"/hosts/{host.fqdn}/") if postman else ""):
                summary.mails += 1
        dbsession.flush()
    for option, column, value, needs in _RESETS:
        if not getattr(options, option):
            continue
        name = option.removeprefix("reset_").replace("_", "-")
        if options.dry_run:
            count = dbsession.scalar(select(func.count()).select_from(Host).where(needs)) or 0
        else:
            count = dbsession.execute(
                update(Host).where(needs).values({column.key: value})
                .execution_options(synchronize_session=False)).rowcount
        summary.resets[name] = count
    if not options.dry_run and (summary.flagged or any(summary.resets.values())):
        audit(dbsession, "faults", summary.line(False), target_type="host")
    return summary


# --- domains ------------------------------------------------------------------------------------

@dataclass
class DomainSummary:
    checked: int = 0
    ok: int = 0
    failed: int = 0
    flagged: int = 0
    deleted: int = 0
    mails: int = 0

    def line(self, dry_run: bool) -> str:
        text = (f"domains: {self.checked} checked, {self.ok} answered, {self.failed} failed, "
                f"{self.flagged} flagged unavailable, {self.deleted} deleted, {self.mails} mails")
        return text + (" (dry run: nothing changed)" if dry_run else "")


def check_domains(dbsession: Session, backends: Mapping[str, Any], out: Out, *,
                  postman: Postman | None, default_ttl: int, notify_user: bool = False,
                  dry_run: bool = False, commit: Commit = _noop,
                  progress: Out | None = None, summary: DomainSummary | None = None) -> DomainSummary:
    """Ask each available domain's nameserver (through its backend) whether it serves the zone;
    one that does not is flagged unavailable and not public (nsupdate.info's ``--check``).

    Each check runs outside a transaction and its result is committed on its own.
    """
    summary = summary or DomainSummary()
    ids = list(dbsession.scalars(select(Domain.id).where(Domain.available.is_(True))
                                 .order_by(Domain.name)))
    commit()
    meter = Progress(progress, "domains", len(ids), every=10)
    for domain_id in ids:
        domain = dbsession.get(Domain, domain_id)
        if domain is None:  # deleted meanwhile
            continue
        zone = zone_info(domain, default_ttl)
        backend = backends.get(domain.backend)
        commit()  # no transaction (and on SQLite no lock) while we wait for the nameserver
        if backend is None:
            ok, message = False, f"no backend named {domain.backend!r} is configured"
        else:
            try:
                result = backend.check(zone)
                ok, message = result.ok, result.message
            except Exception as error:  # a backend's bug must not stop the other checks
                ok, message = False, f"{type(error).__name__}: {error}"
        summary.checked += 1
        domain = dbsession.get(Domain, domain_id)
        if domain is None:
            continue
        if ok:
            summary.ok += 1
        else:
            summary.failed += 1
            owner = domain.owner.username if domain.owner else "-"
            out(f"Setting unavailable flag for domain {domain.name} (created by {owner}): {message}")
            summary.flagged += 1
        if not dry_run:
            domain.last_check, domain.check_ok, domain.check_result = utcnow(), ok, message[:2000]
            if not ok:
                domain.available = False
                domain.public = False
                audit(dbsession, "domain unavailable", message, target_type="domain",
                      target=domain.name)
                if notify_user and notify(
                        postman, domain.owner, "domain_unavailable",
                        _("Issue with your domain ${domain}", mapping={"domain": domain.name}),
                        domain=domain.name, reason=message,
                        domain_url=postman.url(f"/domains/{domain.name}/") if postman else ""):
                    summary.mails += 1
        commit()
        meter.step()
    return summary


def stale_domains(dbsession: Session, out: Out, *, postman: Postman | None,
                  notify_user: bool = False, dry_run: bool = False,
                  summary: DomainSummary | None = None) -> DomainSummary:
    """nsupdate.info's ``domains --stale-check``: an unavailable domain without hosts is
    deleted; one with hosts is kept (and its owner told, with ``notify_user``)."""
    summary = summary or DomainSummary()
    counts = dict(dbsession.execute(select(Host.domain_id, func.count()).group_by(Host.domain_id))
                  .tuples().all())
    for domain in dbsession.scalars(select(Domain).options(joinedload(Domain.owner))
                                    .order_by(Domain.name)):
        hosts = counts.get(domain.id, 0)
        if domain.available:
            out(f"Domain {domain.name} is available.")
        elif hosts:
            out(f"Domain {domain.name} is not available, but has {hosts} hosts.")
            if notify_user and not dry_run and notify(
                    postman, domain.owner, "domain_unavailable",
                    _("Issue with your domain ${domain}", mapping={"domain": domain.name}),
                    domain=domain.name, reason=domain.check_result, hosts=hosts,
                    domain_url=postman.url(f"/domains/{domain.name}/") if postman else ""):
                summary.mails += 1
        else:
            out(f"Domain {domain.name} is not available and has no hosts -> deleted domain.")
            summary.deleted += 1
            if not dry_run:
                audit(dbsession, "domain deleted (stale)", "unavailable, no hosts",
                      target_type="domain", target=domain.name)
                dbsession.delete(domain)
    dbsession.flush()
    return summary


# --- hosts --------------------------------------------------------------------------------------

@dataclass
class HostFilter:
    domain: str = ""
    owner: str = ""
    abuse: bool = False
    abuse_blocked: bool = False
    unavailable: bool = False
    faults: bool = False
    stale_days: int | None = None

    def where(self) -> list[Any]:
        clauses: list[Any] = []
        if self.domain:
            clauses.append(Host.domain.has(Domain.name == self.domain.lower().rstrip(".")))
        if self.owner:
            clauses.append(Host.owner.has(func.lower(User.username) == self.owner.lower()))
        if self.abuse:
            clauses.append(Host.abuse.is_(True))
        if self.abuse_blocked:
            clauses.append(Host.abuse_blocked.is_(True))
        if self.unavailable:
            clauses.append(Host.available.is_(False))
        if self.faults:
            clauses.append(or_(Host.client_faults > 0, Host.server_faults > 0,
                               Host.api_auth_faults > 0))
        if self.stale_days is not None:
            cutoff = utcnow() - timedelta(days=self.stale_days)
            clauses.append(func.coalesce(Host.last_update_ipv4, NEVER) < cutoff)
            clauses.append(func.coalesce(Host.last_update_ipv6, NEVER) < cutoff)
        return clauses


HOST_COLUMNS = ("fqdn", "owner", "available", "abuse", "abuse_blocked", "client_faults",
                "server_faults", "api_auth_faults", "last_update_ipv4", "last_update_ipv6",
                "last_seen", "staleness", "comment")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return "" if value is None else str(value)


def host_rows(dbsession: Session, host_filter: HostFilter) -> Iterator[list[str]]:
    """The hosts the filter selects, as text cells in HOST_COLUMNS order."""
    for host in _hosts_in_batches(dbsession, *host_filter.where()):
        values = {name: getattr(host, name, None) for name in HOST_COLUMNS}
        values["owner"] = host.owner.username if host.owner else ""
        yield [_cell(values[name]) for name in HOST_COLUMNS]


def csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


@dataclass
class StaleSummary:
    hosts: int = 0
    stale: int = 0
    notified: int = 0
    unavailable: int = 0
    deleted: int = 0
    mails: int = 0
    dns: list[DNSCleanup] = field(default_factory=list)

    def line(self, dry_run: bool) -> str:
        text = (f"hosts: {self.hosts} checked, {self.stale} stale, {self.notified} warned, "
                f"{self.unavailable} made unavailable, {self.deleted} deleted, {self.mails} mails")
        return text + (" (dry run: nothing changed)" if dry_run else "")


def stale_hosts(dbsession: Session, out: Out, *, postman: Postman | None, default_ttl: int,
                backends: Mapping[str, Any], notify_user: bool = False, dry_run: bool = False,
                now: datetime | None = None, progress: Out | None = None) -> StaleSummary:
    """nsupdate.info's ``hosts --stale-check``: a host without address updates for 325 days
    gets a notice every 8 days, each raising its staleness; at 3 it is made unavailable, at 5
    it is deleted. A host updated again starts over at 0."""
    now = now or utcnow()
    summary = StaleSummary(hosts=dbsession.scalar(select(func.count()).select_from(Host)) or 0)
    meter = Progress(progress, "hosts", summary.hosts)
    for host in _hosts_in_batches(dbsession):
        meter.step()
        last = max(host.last_update_ipv4 or NEVER, host.last_update_ipv6 or NEVER)
        if now - last < STALE_AFTER:
            if host.staleness and not dry_run:
                host.staleness = 0
            continue
        summary.stale += 1
        if host.staleness_notified is not None and now - host.staleness_notified < NOTIFY_EVERY:
            continue
        staleness = host.staleness + 1
        head = f"{host.fqdn} has not seen IP updates for a long time; staleness: {staleness}"
        if staleness >= STALE_DELETE:
            message, kind = f"{head} -> deleted host.", "deleted"
            summary.deleted += 1
        elif staleness >= STALE_UNAVAILABLE:
            message, kind = f"{head} -> made host unavailable.", "unavailable"
            summary.unavailable += 1
        else:
            message, kind = f"{head} -> please fix!", "warned"
            summary.notified += 1
        out(message)
        if dry_run:
            continue
        if notify_user and notify(
                postman, host.owner, "host_stale",
                _("Issue with your host ${fqdn}", mapping={"fqdn": host.fqdn}),
                fqdn=host.fqdn, comment=host.comment, staleness=staleness, outcome=kind,
                last_update=last if last > NEVER else None,
                host_url=postman.url(f"/hosts/{host.fqdn}/") if postman else ""):
            summary.mails += 1
        if kind == "deleted":
            if host.domain.backend in backends:
                summary.dns.append(host_cleanup(host, default_ttl))
            audit(dbsession, "host deleted (stale)", message, target_type="host", target=host.fqdn)
            dbsession.delete(host)
            continue
        host.staleness = staleness
        host.staleness_notified = now
        if kind == "unavailable":
            host.available = False
    dbsession.flush()
    return summary


def host_cleanup(host: Host, default_ttl: int) -> DNSCleanup:
    """The records of a host that is going away, its related hosts' included."""
    names = [host.name, *(f"{related.name}.{host.name}" for related in host.related_hosts)]
    return DNSCleanup(host.domain.backend, zone_info(host.domain, default_ttl), names,
                      [f"{name}.{host.domain.name}" for name in names])


def cleanup_report(cleanups: list[DNSCleanup], who: str = CLI_ACTOR) -> DeletionReport:
    """Wrap DNS cleanups for :func:`..accounts.remove_records`."""
    return DeletionReport(who, dns=cleanups)


# --- users --------------------------------------------------------------------------------------

@dataclass
class UserSummary:
    before: tuple[int, int, int] = (0, 0, 0)
    after: tuple[int, int, int] = (0, 0, 0)
    kept: int = 0
    deleted: int = 0

    def line(self, dry_run: bool) -> str:
        text = f"users: {self.deleted} stale deleted, {self.kept} stale kept (they have hosts or domains)"
        return text + (" (dry run: nothing changed)" if dry_run else "")


def _totals(dbsession: Session) -> tuple[int, int, int]:
    return tuple(dbsession.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[return-value]
                 for model in (User, Host, Domain))


def stale_users(dbsession: Session, out: Out, *, dry_run: bool = False,
                now: datetime | None = None) -> UserSummary:
    """nsupdate.info's ``users --stale-check``: accounts not used for a year (neither logged in
    nor joined) are deleted unless they have hosts or domains. Administrators are never deleted;
    never-activated registrations are ``cleanupregistration``'s."""
    now = now or utcnow()
    summary = UserSummary(before=_totals(dbsession))
    out("before: users: {}, hosts: {}, domains: {}".format(*summary.before))
    hosts = dict(dbsession.execute(select(Host.owner_id, func.count()).group_by(Host.owner_id))
                 .tuples().all())
    domains = dict(dbsession.execute(select(Domain.owner_id, func.count())
                                     .group_by(Domain.owner_id)).tuples().all())
    for user in dbsession.scalars(select(User).where(User.is_admin.is_(False),
                                                     User.activated.is_not(None))
                                  .order_by(func.lower(User.username))):
        used = max(user.last_login or NEVER, user.date_joined or NEVER)
        age = now - used
        who = f"'{user.username} {user.email}'"
        if age < USER_STALE_AFTER:
            out(f"{who} kept, was used recently.")
            continue
        years = age.total_seconds() / (365 * 86400)
        if hosts.get(user.id) or domains.get(user.id):
            out(f"{who} hasn't logged in for {years:f}y, but has {hosts.get(user.id, 0)} hosts "
                f"and {domains.get(user.id, 0)} domains -> kept.")
            summary.kept += 1
            continue
        out(f"{who} hasn't logged in for {years:f}y, has no hosts and no domains -> deleted user.")
        summary.deleted += 1
        if not dry_run:
            audit(dbsession, "user deleted (stale)", f"unused for {years:.2f} years",
                  target_type="user", target=user.username)
            dbsession.execute(delete(RemoteLogin).where(RemoteLogin.user_id == user.id))
            dbsession.delete(user)
    dbsession.flush()
    summary.after = _totals(dbsession)
    out("after: users: {}, hosts: {}, domains: {}".format(*summary.after))
    return summary


# --- the public test account --------------------------------------------------------------------

@dataclass
class TestUserSummary:
    created: bool = False
    hosts: int = 0
    domains: int = 0
    dns: list[DNSCleanup] = field(default_factory=list)


def reset_test_user(dbsession: Session, username: str, password: str, email: str,
                    backends: Mapping[str, Any], default_ttl: int, *,
                    dry_run: bool = False) -> TestUserSummary:
    """Give the public test account back its first state: no hosts, its own domains gone (those
    in which others have hosts stay), the known password, no remote logins, default settings.

    nsupdate.info deletes and recreates the user; resetting in place keeps domains other people
    use from losing their owner.
    """
    summary = TestUserSummary()
    user = dbsession.scalars(select(User).where(func.lower(User.username) == username.lower())
                             ).one_or_none()
    if user is None:
        summary.created = True
        if not dry_run:
            user = User(username=username, email=email, password_hash=passwords.hash_password(password),
                        activated=utcnow())
            dbsession.add(user)
            dbsession.flush()
        return summary
    hosts = list(dbsession.scalars(select(Host).options(selectinload(Host.related_hosts),
                                                        joinedload(Host.domain))
                                   .where(Host.owner_id == user.id)))
    summary.hosts = len(hosts)
    summary.dns = [host_cleanup(host, default_ttl) for host in hosts
                   if host.domain.backend in backends]
    owned = list(dbsession.scalars(select(Domain).where(Domain.owner_id == user.id)))
    foreign = set(dbsession.scalars(select(Host.domain_id).where(
        Host.domain_id.in_([d.id for d in owned]), Host.owner_id != user.id)))
    doomed = [domain for domain in owned if domain.id not in foreign]
    summary.domains = len(doomed)
    if dry_run:
        summary.dns = []
        return summary
    dbsession.execute(delete(Host).where(Host.owner_id == user.id))
    for domain in doomed:
        dbsession.delete(domain)
    dbsession.execute(delete(RemoteLogin).where(RemoteLogin.user_id == user.id))
    user.password_hash = passwords.hash_password(password)
    user.email = email
    user.language = ""
    user.is_active = True
    user.is_admin = False
    user.activated = user.activated or utcnow()
    user.failed_logins = 0
    user.last_failed_login = None
    dbsession.flush()
    return summary
