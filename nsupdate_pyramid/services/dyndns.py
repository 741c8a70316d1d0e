"""The dyndns2 decision logic (DESIGN.md section 6), free of Pyramid.

The hot path is one indexed SELECT of the host joined with its domain, one
hash check, at most one DNS message per address and one UPDATE of the host
row; ``nochg`` is decided from what we last published, without asking DNS.
Counters are incremented in SQL (``x = x + 1``) so concurrent requests do not
lose faults.
"""
from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, exists, select

from ..dns.errors import DNSBackendError
from ..dns.zone import ZoneInfo
from ..models import Domain, Host, RelatedHost, ServiceConfig
from ..security import secrets
from ..settings import AppSettings, normalize_fqdn
from . import results
from .addresses import (
    BadAddress,
    is_network_address,
    is_usable,
    lan_values,
    parse_address_list,
    parse_lan_address,
    rdtype_of,
)
from .breaker import CircuitBreaker
from .hoststore import Delta, HostStore, LazyConnection, write_delta
from .ipaddr import IPAddress, parse_address
from .rawsql import Prepared
from .related import BadInterfaceId, related_address
from .thirdparty import ServiceCall, calls_for

log = logging.getLogger(__name__)

# The one word answered when any address failed, most important first.
FAILURE_PRIORITY = ("abuse", "badagent", "badauth", "notfqdn", "nohost", "dnserr")
UPDATE, DELETE = "update", "delete"


@dataclass(frozen=True)
class Answer:
    body: str
    status: int = 200
    challenge: bool = False  # send WWW-Authenticate: Basic


BADAUTH = Answer("badauth", 401, challenge=True)
ABUSE_FORBIDDEN = Answer("abuse", 403)

_HOST_COLUMNS = (
    Host.id, Host.fqdn, Host.name, Host.owner_id, Host.update_secret_hash, Host.available,
    Host.abuse, Host.abuse_blocked, Host.published_ipv4, Host.published_ipv6,
    Host.published_prefix_ipv4, Host.published_prefix_ipv6, Host.netmask_ipv4, Host.netmask_ipv6,
    Host.recent_auth_failures, Host.last_auth_failure, Host.domain_id, Host.lan_ip,
    Domain.name.label("domain_name"), Domain.backend, Domain.nameserver_ip, Domain.nameserver2_ip,
    Domain.nameserver_port, Domain.tsig_key_name, Domain.tsig_algorithm, Domain.tsig_secret,
    Domain.ttl.label("domain_ttl"),
)
# Whether the host has related hosts or third-party services comes along (two indexed EXISTS,
# a few microseconds): most hosts have neither, and then a good update asks nothing more.
HOST_QUERY = (
    select(*_HOST_COLUMNS,
           exists().where(RelatedHost.host_id == Host.id).label("has_related"),
           exists().where(ServiceConfig.host_id == Host.id).label("has_services"))
    .join(Domain, Host.domain_id == Domain.id)
    .where(Host.fqdn == bindparam("fqdn"))
)
# After a lost race (see _apply): two updates of one host must not interleave (DNS set by one,
# "published" by the other), so the host row (not the domain's) stays locked until commit.
LOCKED_HOST_QUERY = HOST_QUERY.with_for_update(of=Host)
PREPARED_HOST_QUERY = Prepared(HOST_QUERY)
#: What a publishing request's decisions rest on; its write only applies if they are unchanged.
PUBLISHED_COLUMNS = ("published_ipv4", "published_ipv6", "published_prefix_ipv4",
                     "published_prefix_ipv6", "lan_ip")
#: The split-horizon (LAN) address a client may send along with its public one.
LAN_PARAM = "lanip"


RELATED_QUERY = (
    select(RelatedHost.name, RelatedHost.interface_id_ipv4, RelatedHost.interface_id_ipv6)
    .where(RelatedHost.host_id == bindparam("host_id"), RelatedHost.available.is_(True))
    .order_by(RelatedHost.name)
)


# What a stored fqdn can look like; anything else cannot name a host (and a NUL would even
# make PostgreSQL refuse the query), so it is not looked up at all.
PLAUSIBLE_FQDN = re.compile(r"^[a-z0-9_.-]{1,253}$")


def load_host(connection: Any, fqdn: str, *, lock: bool = False) -> Row[Any] | None:
    """The host and what we need of its domain, by its (normalised) fqdn: one indexed query."""
    if not PLAUSIBLE_FQDN.match(fqdn):
        return None
    if lock:
        return connection.execute(LOCKED_HOST_QUERY, {"fqdn": fqdn}).one_or_none()
    return PREPARED_HOST_QUERY.execute(connection, {"fqdn": fqdn}).one_or_none()


def zone_of(host: Row[Any], default_ttl: int) -> ZoneInfo:
    return ZoneInfo(
        name=host.domain_name, nameserver=host.nameserver_ip, nameserver2=host.nameserver2_ip,
        port=host.nameserver_port, tsig_key_name=host.tsig_key_name,
        tsig_algorithm=host.tsig_algorithm, tsig_secret=host.tsig_secret,
        ttl=host.domain_ttl or default_ttl)


@dataclass
class UpdateEnv:
    """What one API request needs besides its parameters."""

    store: HostStore
    settings: AppSettings
    backend_for: Callable[[str], Any]
    breaker: CircuitBreaker
    now: datetime
    tls: bool
    client_address: str
    # Gets the third-party calls of successful updates once they are committed.
    forward: Callable[[list[ServiceCall]], None] | None = None
    # Told (host id, fqdn, address) once a request's flagging of its host for abuse is committed.
    flagged: Callable[[int, str, str], None] | None = None


class NeedsWrite(Exception):
    """The request has to publish something: run it again in a write transaction."""


@dataclass
class HostChanges:
    """Column values and counter increments of one host, written with one UPDATE."""

    host_id: int
    values: dict[str, Any] = field(default_factory=dict)
    increments: dict[str, int] = field(default_factory=dict)

    def add(self, counter: str, amount: int = 1) -> None:
        self.increments[counter] = self.increments.get(counter, 0) + amount

    def copy(self) -> HostChanges:
        return HostChanges(self.host_id, dict(self.values), dict(self.increments))

    def record(self, store: HostStore) -> None:
        """Bookkeeping only (counters, messages, last_seen): buffered."""
        store.bookkeeper.record(self.host_id, self.values, self.increments)

    def save(self, connection: Connection, store: HostStore,
             expect: Mapping[str, Any] | None = None) -> bool:
        """Inside a write transaction, together with what the buffer still holds for the host.

        With ``expect`` (column values as read), nothing is written and False is returned when
        another request changed them in the meantime.
        """
        pending = store.bookkeeper.take(self.host_id)
        delta = Delta()
        if pending is not None:
            delta.merge(pending.values, pending.increments)
        delta.merge(self.values, self.increments)
        if write_delta(connection, self.host_id, delta, expect):
            return True
        if pending is not None:
            store.bookkeeper.put_back({self.host_id: pending})
        return False


@dataclass(frozen=True)
class Outcome:
    word: str  # good, nochg, deleted or a failure word
    value: str = ""  # the address (good/nochg) or record type (deleted)


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """(user, password) from ``Authorization: Basic ...``; None when missing or broken."""
    if not header:
        return None
    scheme, _, payload = header.strip().partition(" ")
    if scheme.lower() != "basic" or not payload.strip():
        return None
    try:
        decoded = base64.b64decode(payload.strip(), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def combine(outcomes: list[Outcome]) -> Answer:
    """One word if any address failed; else ``good a,b`` / ``nochg a,b`` / ``deleted A,AAAA``;
    mixed successes: one line each, good lines first, then nochg, then deleted."""
    words = [outcome.word for outcome in outcomes]
    for word in FAILURE_PRIORITY:
        if word in words:
            return Answer(word)
    if len(set(words)) == 1:
        return Answer(f"{words[0]} {','.join(outcome.value for outcome in outcomes)}")
    lines = [f"{outcome.word} {outcome.value}" for kind in ("good", "nochg", "deleted")
             for outcome in outcomes if outcome.word == kind]
    return Answer("\n".join(lines))


class HostUpdater:
    """Applies one request's addresses to one authenticated host."""

    def __init__(self, env: UpdateEnv, host: Row[Any], changes: HostChanges,
                 connection: Connection | LazyConnection | None = None) -> None:
        self.env = env
        self.host = host
        self.changes = changes
        # None: a read-only first pass that raises NeedsWrite before anything is published.
        # Otherwise what related hosts and services are read from while publishing.
        self.connection = connection
        self.calls: list[ServiceCall] = []
        self.flagged_for = ""  # the bad address with which this request flagged the host
        self.fqdn = host.fqdn
        self.lan_given = False  # the request carries lanip=
        # What this request has published so far (a later address of the same family wins).
        self.published = {4: host.published_ipv4, 6: host.published_ipv6}
        self.prefixes = {4: host.published_prefix_ipv4, 6: host.published_prefix_ipv6}

    @functools.cached_property
    def zone(self) -> ZoneInfo:
        """Only requests that talk to DNS need it."""
        return zone_of(self.host, self.env.settings.default_ttl)

    def _stamp(self, message: str) -> str:
        return results.stamp(self.env.now, message)

    def client_message(self, message: str, *, fault: bool) -> None:
        self.changes.values["client_result_msg"] = self._stamp(message)
        if fault:
            self.changes.add("client_faults")

    def server_fault(self, message: str) -> None:
        self.changes.values["server_result_msg"] = self._stamp(message)
        self.changes.add("server_faults")

    def run(self, params: Mapping[str, str], mode: str) -> Answer:
        try:
            addresses = parse_address_list(params)
        except BadAddress as bad:
            self.client_message(results.bad_ip(self.fqdn, bad.value), fault=True)
            return Answer("dnserr")
        if not addresses:
            try:
                addresses = [parse_address(self.env.client_address)]
            except ValueError:
                self.client_message(results.bad_ip(self.fqdn, self.env.client_address), fault=True)
                return Answer("dnserr")
        lan = params.get(LAN_PARAM) if mode == UPDATE else None
        if lan is not None:
            try:
                lan = parse_lan_address(lan)
            except BadAddress as bad:
                self.client_message(results.bad_ip(self.fqdn, bad.value), fault=True)
                return Answer("dnserr")
        self.lan_given = lan is not None
        handle = self.update_address if mode == UPDATE else self.delete_address
        answer = combine([handle(address) for address in addresses])
        if lan is not None and lan != self.host.lan_ip and self._gate(UPDATE) is None:
            self._publishing()
            self.changes.values["lan_ip"] = lan
            self.push_lan(lan, ("A", "AAAA"))
        return answer

    def push_lan(self, lan: str, rdtypes: tuple[str, ...]) -> None:
        """Hand the LAN address to a backend that answers it to the host's own network
        (the built-in nameserver); others have no split horizon and keep only the setting."""
        set_lan = getattr(self.backend(), "set_lan", None)
        if set_lan is None:
            return
        values = lan_values(lan)
        for rdtype in rdtypes:
            self._dns(UPDATE, lan, lambda rdtype=rdtype: set_lan(
                self.zone, self.host.name, rdtype, values[rdtype]))

    def _gate(self, action: str) -> Outcome | None:
        if self.flagged_for:  # an earlier address of this request: its message stays
            return Outcome("abuse")
        if self.host.abuse or self.host.abuse_blocked:
            self.client_message(results.abusive(self.fqdn, action), fault=False)
            return Outcome("abuse")
        if not self.host.available:
            self.client_message(results.unavailable(self.fqdn, action), fault=False)
            return Outcome("nohost")
        return None

    def _breaker_open(self, action: str, address: str) -> bool:
        reason = self.env.breaker.blocked(self.host.domain_id)
        if reason is None:
            return False
        detail = f"nameserver paused after repeated failures: {reason}"
        self.server_fault(results.dns_error(self.fqdn, action, detail, address, self.env.tls))
        return True

    def _publishing(self) -> None:
        if self.connection is None:
            raise NeedsWrite

    def _dns(self, action: str, address: str, call: Callable[[], Any]) -> bool:
        """Run one backend call; record a server fault and feed the breaker when it fails."""
        self._publishing()
        try:
            call()
        except DNSBackendError as error:
            log.warning("%s: %s failed: %s", self.fqdn, action, error.message)
            self.server_fault(results.dns_error(self.fqdn, action, error.message, address,
                                                self.env.tls))
            if error.trips_breaker:
                self.env.breaker.failure(self.host.domain_id, error.message)
            return False
        self.env.breaker.success(self.host.domain_id)
        return True

    def backend(self) -> Any:
        return self.env.backend_for(self.host.backend)

    def update_address(self, address: IPAddress) -> Outcome:
        gate = self._gate(UPDATE)
        if gate is not None:
            return gate
        text, family, tls = str(address), address.version, self.env.tls
        if not is_usable(address):
            self.client_message(results.bad_ip(self.fqdn, text), fault=True)
            return Outcome("dnserr")
        if any(address in network for network in self.env.settings.bad_ips):
            return self._blacklisted(text)
        netmask = self.host.netmask_ipv4 if family == 4 else self.host.netmask_ipv6
        if is_network_address(address, netmask):
            return self._prefix(address)
        if self.published[family] == text and not self.env.settings.nochg_verify_dns:
            self.client_message(results.no_change(self.fqdn, text, tls), fault=True)
            return Outcome("nochg", text)
        rdtype = rdtype_of(address)
        if self.env.settings.nochg_verify_dns:  # ask the nameserver, not our memory
            self._publishing()
            if self._dns_has(rdtype, text):
                self.published[family] = text
                self.changes.values[f"published_ipv{family}"] = text
                self.client_message(results.no_change(self.fqdn, text, tls), fault=True)
                return Outcome("nochg", text)
        if self._breaker_open(UPDATE, text):
            return Outcome("dnserr")
        if not self._dns(UPDATE, text, lambda: self.backend().update(
                self.zone, self.host.name, rdtype, [text], self.zone.ttl)):
            # Whatever DNS holds now is unknown: make sure the next update is sent.
            self.published[family] = ""
            self.changes.values[f"published_ipv{family}"] = ""
            return Outcome("dnserr")
        self.published[family] = text
        self.changes.values.update({
            f"published_ipv{family}": text,
            f"last_update_ipv{family}": self.env.now,
            f"tls_update_ipv{family}": tls,
        })
        self.client_message(results.good(self.fqdn, text, tls), fault=False)
        lan = self.host.lan_ip
        if lan and not self.lan_given and parse_address(lan).version == family:
            self.push_lan(lan, (rdtype,))  # a re-created record gets its LAN value back
        self.update_related(address)
        if self.host.has_services:
            self.calls.extend(calls_for(self.connection, self.host.id, address))
        return Outcome("good", text)

    def _dns_has(self, rdtype: str, text: str) -> bool:
        try:
            return self.backend().query(self.zone, self.host.name, rdtype) == [text]
        except DNSBackendError as error:
            log.warning("%s: query failed: %s", self.fqdn, error.message)
            return False

    def _prefix(self, network: IPAddress) -> Outcome:
        """A bare network address: related hosts follow it, the host's own record stays."""
        text, family, tls = str(network), network.version, self.env.tls
        if self.prefixes[family] == text:
            self.client_message(results.no_change(self.fqdn, text, tls), fault=True)
            return Outcome("nochg", text)
        self._publishing()
        self.prefixes[family] = text
        self.changes.values[f"published_prefix_ipv{family}"] = text
        self.client_message(results.prefix(self.fqdn, text, tls), fault=False)
        self.update_related(network)
        return Outcome("good", text)

    def update_related(self, address: IPAddress) -> None:
        """Point the related hosts into the new prefix; failures are faults, not answers."""
        if not self.host.has_related:
            return
        family = address.version
        netmask = self.host.netmask_ipv4 if family == 4 else self.host.netmask_ipv6
        rdtype = rdtype_of(address)
        rows = self.connection.execute(RELATED_QUERY, {"host_id": self.host.id}).all()
        for row in rows:
            interface_id = row.interface_id_ipv4 if family == 4 else row.interface_id_ipv6
            name = f"{row.name}.{self.host.name}"
            backend, zone = self.backend(), self.zone
            try:
                if not interface_id.strip():
                    backend.delete(zone, name, rdtype)
                    continue
                target = str(related_address(address, netmask, interface_id))
                backend.update(zone, name, rdtype, [target], zone.ttl)
            except BadInterfaceId as error:
                log.warning("%s: related host %s skipped: %s", self.fqdn, name, error)
            except DNSBackendError as error:
                log.warning("%s: related host %s: %s", self.fqdn, name, error.message)
                self.server_fault(results.related_dns_error(f"{name}.{self.zone.name}", UPDATE,
                                                            error.message))

    def _blacklisted(self, text: str) -> Outcome:
        self._publishing()
        self.flagged_for = text  # the gate let it through: the host was not flagged before
        self.changes.values.update({"abuse": True, "abuse_blocked": True,
                                    "published_ipv4": "", "published_ipv6": ""})
        self.client_message(results.blacklisted_ip(self.fqdn, text), fault=True)
        for rdtype in ("A", "AAAA"):  # an abusive host must not keep pointing anywhere
            self._dns(DELETE, text, lambda rdtype=rdtype: self.backend().delete(
                self.zone, self.host.name, rdtype))
        return Outcome("abuse")

    def delete_address(self, address: IPAddress) -> Outcome:
        """The address only selects the family whose record goes."""
        gate = self._gate(DELETE)
        if gate is not None:
            return gate
        rdtype, family, text = rdtype_of(address), address.version, str(address)
        if self._breaker_open(DELETE, text):
            return Outcome("dnserr")
        if not self._dns(DELETE, text, lambda: self.backend().delete(
                self.zone, self.host.name, rdtype)):
            return Outcome("dnserr")
        self.published[family] = ""
        self.changes.values.update({
            f"published_ipv{family}": "",
            f"last_update_ipv{family}": self.env.now,
            f"tls_update_ipv{family}": self.env.tls,
        })
        self.client_message(results.deleted(self.fqdn, rdtype, self.env.tls), fault=False)
        return Outcome("deleted", rdtype)


def _locked_out(env: UpdateEnv, host: Row[Any]) -> bool:
    """Too many wrong secrets lately (counting what the buffer has not written yet)."""
    settings, bookkeeper = env.settings, env.store.bookkeeper
    limit = settings.api_auth_max_failures
    failures = bookkeeper.effective(host.id, "recent_auth_failures", host.recent_auth_failures)
    last = bookkeeper.effective(host.id, "last_auth_failure", host.last_auth_failure)
    if limit <= 0 or failures < limit or last is None:
        return False
    return env.now - last < timedelta(seconds=settings.api_auth_lockout)


def _auth_failure(env: UpdateEnv, host: Row[Any]) -> None:
    changes = HostChanges(host.id)
    quiet = timedelta(seconds=env.settings.api_auth_lockout)
    last = env.store.bookkeeper.effective(host.id, "last_auth_failure", host.last_auth_failure)
    if last is not None and env.now - last >= quiet:
        changes.values["recent_auth_failures"] = 1  # a new window starts
    else:
        changes.add("recent_auth_failures")
    changes.add("api_auth_faults")
    changes.values["last_auth_failure"] = env.now
    changes.values["api_auth_result_msg"] = results.stamp(env.now, results.auth_failure(host.fqdn))
    changes.record(env.store)


def _apply(env: UpdateEnv, host: Row[Any], changes: HostChanges,
           attempt: Callable[[HostUpdater], Answer]) -> Answer:
    """Run ``attempt`` on the row as read; only if it has to publish, publish and then write.

    Bookkeeping-only answers never take a write lock. A publishing request keeps the host
    row unlocked while it talks to DNS (on SQLite a lock would stop every writer, on
    PostgreSQL it costs round trips) and writes only if what it decided on is unchanged;
    if another request got there first, it runs again on the locked, fresh row.
    """
    first_pass = changes.copy()
    try:
        answer = attempt(HostUpdater(env, host, first_pass))
    except NeedsWrite:
        pass
    else:
        first_pass.record(env.store)
        return answer
    store = env.store
    with store.host_lock(host.id):  # this process's updates of one host, in order
        optimistic = changes.copy()
        with store.lazy_read() as connection:
            updater = HostUpdater(env, host, optimistic, connection)
            answer = attempt(updater)
        expect = {column: getattr(host, column) for column in PUBLISHED_COLUMNS}
        if updater.flagged_for:  # only one request may flag (and mail) a host that is not yet
            expect.update(abuse=host.abuse, abuse_blocked=host.abuse_blocked)
        with store.write_one() as connection:
            saved = optimistic.save(connection, store, expect)
        if not saved:
            updater, answer = _apply_locked(env, host.fqdn, changes, attempt)
            if updater is None:
                return answer
    if updater.calls and env.forward is not None:
        env.forward(updater.calls)
    if updater.flagged_for and env.flagged is not None:
        env.flagged(host.id, updater.fqdn, updater.flagged_for)
    return answer


def _apply_locked(env: UpdateEnv, fqdn: str, changes: HostChanges,
                  attempt: Callable[[HostUpdater], Answer]) -> tuple[HostUpdater | None, Answer]:
    """The slow, sure way after a lost race: decide, publish and write on the locked row."""
    store = env.store
    if store.single_writer:
        # SQLite: the write lock stops every writer, so never hold it across a DNS round trip;
        # the host lock orders this process's updates, the table is re-read fresh.
        with store.read() as connection:
            fresh = load_host(connection, fqdn)
            if fresh is None:  # deleted in the meantime
                return None, Answer("nohost")
            updater = HostUpdater(env, fresh, changes, connection)
            answer = attempt(updater)
        with store.write() as connection:
            changes.save(connection, store)
        return updater, answer
    with store.write() as connection:  # the row lock orders updates across processes too
        locked = load_host(connection, fqdn, lock=True)
        if locked is None:
            return None, Answer("nohost")
        updater = HostUpdater(env, locked, changes, connection)
        answer = attempt(updater)
        changes.save(connection, store)
    return updater, answer


def _read_host(env: UpdateEnv, fqdn: str) -> Row[Any] | None:
    with env.store.read_raw() as connection:
        return load_host(connection, fqdn)


def _authenticate(env: UpdateEnv, fqdn: str, secret: str) -> tuple[Row[Any] | None, HostChanges | None]:
    """(host, its first changes) when the secret is right; (None, None) means badauth."""
    host = _read_host(env, fqdn)
    if host is None:
        secrets.verify_secret(None, secret)  # the same work as for a real host
        return None, None
    if _locked_out(env, host):
        return None, None
    if not secrets.verify_secret(host.update_secret_hash, secret):
        _auth_failure(env, host)
        return None, None
    changes = HostChanges(host.id)
    changes.values["last_seen"] = env.now
    if env.store.bookkeeper.effective(host.id, "recent_auth_failures", host.recent_auth_failures):
        changes.values["recent_auth_failures"] = 0
    if secrets.needs_rehash(host.update_secret_hash):
        changes.values["update_secret_hash"] = secrets.hash_secret(secret)
    return host, changes


def handle_basic_auth_request(env: UpdateEnv, params: Mapping[str, str], authorization: str | None,
                              user_agent: str | None, mode: str) -> Answer:
    """``/nic/update`` and ``/nic/delete``: checks in the order of DESIGN.md section 6."""
    settings = env.settings
    hostname = params.get("hostname")
    if hostname is not None and normalize_fqdn(hostname) in settings.bad_hosts:
        return ABUSE_FORBIDDEN
    credentials = parse_basic_auth(authorization)
    if credentials is None:
        return BADAUTH
    fqdn = normalize_fqdn(credentials[0])
    if "." not in fqdn:
        return Answer("notfqdn")
    if fqdn in settings.bad_hosts:
        return ABUSE_FORBIDDEN
    host, changes = _authenticate(env, fqdn, credentials[1])
    if host is None or changes is None:
        return BADAUTH
    changes.values["api_auth_result_msg"] = results.stamp(env.now, results.auth_success(fqdn))
    agent = user_agent if user_agent is not None else "unknown"

    def attempt(updater: HostUpdater) -> Answer:
        if hostname is not None and normalize_fqdn(hostname) != updater.fqdn:
            updater.client_message(results.wrong_host(hostname, updater.fqdn), fault=True)
            return Answer("notfqdn" if "." not in hostname else "nohost")
        if agent in settings.bad_agents:
            updater.client_message(results.bad_agent(updater.fqdn, agent), fault=True)
            return Answer("badagent")
        return updater.run(params, mode)

    return _apply(env, host, changes, attempt)


def handle_owner_request(env: UpdateEnv, params: Mapping[str, str], user_id: int,
                         mode: str) -> Answer:
    """``/nic/update_authorized`` and ``/nic/delete_authorized``: the logged-in owner's hosts only."""
    hostname = params.get("hostname")
    if not hostname:
        return Answer("nohost")
    host = _read_host(env, normalize_fqdn(hostname))
    if host is None or host.owner_id != user_id:
        return Answer("nohost")
    return _apply(env, host, HostChanges(host.id), lambda updater: updater.run(params, mode))


def handle_key_request(env: UpdateEnv, fqdn: str, key: str, params: Mapping[str, str]) -> Answer:
    """django-dynamic-dns's ``POST /dynamicdns/update/<fqdn>/`` with ``key`` and optional ``ip``."""
    host, changes = _authenticate(env, normalize_fqdn(fqdn), key)
    if host is None or changes is None:
        return BADAUTH
    # ``ip`` is the public address; ``lanip`` the one answered to the host's own network.
    address = {"myip": params.get("ip", "")}
    if LAN_PARAM in params:
        address[LAN_PARAM] = params[LAN_PARAM]
    return _apply(env, host, changes, lambda updater: updater.run(address, UPDATE))
