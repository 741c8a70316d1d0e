"""The ``builtin`` backend: records in our own ``zones``/``records`` tables, served by
:mod:`nsupdate_pyramid.nameserver`.

Why it looks the way it does:

- It is on the ``/nic/update`` hot path, so a change is a couple of indexed Core statements
  in one short transaction of its own (no ORM objects): bump the zone's serial (which also
  takes the zone's row lock first, so concurrent changes of one zone queue instead of
  deadlocking), then replace the rows. The nameserver notices the new serial and fetches
  what changed since the serial it holds: every row written carries the new serial, and an
  RRset removed leaves a row in ``record_deletions`` (one insert, only on deletes). Old
  deletions are pruned every ``prune_every`` serials, in the same transaction, keeping the
  last ``keep_deletions`` serials' worth; ``zones.pruned_serial`` tells a nameserver whose
  copy is older than that to reload the zone whole.
- The update API calls backends outside its own write transaction, so the backend opens its
  own, from the app's session factory, read from the registry at each call (tests swap the
  factory per test, and then these writes become savepoints of the test's transaction).
- On SQLite the write takes the database lock at BEGIN (``BEGIN IMMEDIATE``) even when the
  caller is inside one of the API's lock-free reads, which switch the begin mode for their
  thread: a deferred transaction that reads and then writes fails instead of waiting.
- Replacing an RRset keeps the split-horizon value (``lan_data``) of the name's row, so an
  address change does not forget the host's LAN address.
"""
from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from zope.interface import implementer

from ..interfaces import IDNSBackend, IZoneKeeper
from ..models import Domain, Record, Zone, utcnow
from ..models.meta import sqlite_begin
from ..models.zone import RecordDeletion
from .errors import DNSBackendError, DNSConfigError, DNSNotZone, DNSServFail
from .zone import CheckResult, ZoneInfo

log = logging.getLogger(__name__)

ZONES = Zone.__table__
RECORDS = Record.__table__
DOMAINS = Domain.__table__
DELETIONS = RecordDeletion.__table__
#: What the update API publishes; NS rows are written when the zone is created.
RDTYPES = ("A", "AAAA", "TXT")
MAX_DATA = 1024  # records.data / lan_data column size
APEX = "@"
DEFAULT_NAMESERVERS = ("localhost.",)
#: Prune the deletion log when the serial is a multiple of this (amortised: one range delete).
PRUNE_EVERY = 1000
#: Deletions kept, in serials: a nameserver polling every second lags a few serials at most;
#: one that fell further behind (stopped for a long while) reloads the zone whole.
KEEP_DELETIONS = 10_000


def relative_name(name: str, zone: str) -> str:
    """Names are stored lower-case and relative to the zone, ``@`` for the apex.

    An absolute name (trailing dot) must be inside the zone.
    """
    text = name.strip().lower()
    zone = zone.strip().lower().rstrip(".")
    if text.endswith("."):
        bare = text[:-1]
        if bare == zone:
            return APEX
        if not bare.endswith("." + zone):
            raise ValueError(f"{name!r} is not inside the zone {zone}")
        text = bare[: -len(zone) - 1]
    if text in ("", APEX):
        return APEX
    labels = text.split(".")
    if len(text) > 253 or any(not label or len(label) > 63 for label in labels):
        raise ValueError(f"invalid record name {name!r}")
    return text


def _rtype(rdtype: str) -> str:
    rtype = rdtype.strip().upper()
    if rtype not in RDTYPES:
        raise ValueError(f"the builtin backend publishes {', '.join(RDTYPES)}, not {rdtype!r}")
    return rtype


def canonical_value(rtype: str, value: str) -> str:
    """Addresses in canonical text (what the nameserver compares source addresses with)."""
    if rtype in ("A", "AAAA"):
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            raise ValueError(f"invalid {rtype} value {value!r}") from None
        if address.version != (4 if rtype == "A" else 6):
            raise ValueError(f"invalid {rtype} value {value!r}")
        return str(address)
    if len(value) > MAX_DATA:
        raise ValueError(f"{rtype} value longer than {MAX_DATA} characters")
    return value


@implementer(IDNSBackend, IZoneKeeper)
class BuiltinBackend:
    """Publishes into the database the built-in nameserver serves from."""

    prune_every = PRUNE_EVERY
    keep_deletions = KEEP_DELETIONS

    def __init__(self, name: str, *,
                 session_factory: sessionmaker[Session] | None = None,
                 nameservers: Sequence[str] = DEFAULT_NAMESERVERS) -> None:
        self.name = name
        self.nameservers = tuple(nameservers)
        self._factory_of: Callable[[], sessionmaker[Session]] | None = (
            (lambda: session_factory) if session_factory is not None else None)

    @classmethod
    def create_service(cls, name: str, settings: dict[str, Any]) -> BuiltinBackend:
        """No settings of its own: the zones' NS names are ``nameserver.ns``, read at binding."""
        return cls(name)

    def bind_registry(self, registry: Any) -> None:
        """Called by ``config.add_dns_backend``: use the app's database and nameserver settings.

        The session factory is looked up at each call, not kept, because tests replace it.
        """
        self._factory_of = lambda: registry["dbsession_factory"]
        app_settings = registry.get("nsupdate.settings")
        if app_settings is not None:
            self.nameservers = app_settings.nameserver_ns

    # -- IZoneKeeper --------------------------------------------------------------------------

    def create_zone(self, dbsession: Session, domain_id: int | None, zone_name: str) -> None:
        """Add the zone with its NS records in the caller's transaction (domain creation)."""
        zone_id = dbsession.execute(
            insert(ZONES).values(domain_id=domain_id, name=zone_name.lower().rstrip("."), serial=1,
                                 generation=time.time_ns() // 1000, updated=utcnow())
            .returning(ZONES.c.id)).scalar_one()
        dbsession.execute(insert(RECORDS), [
            {"zone_id": zone_id, "name": APEX, "rtype": "NS", "ttl": None, "data": ns, "lan_data": "",
             "serial": 1} for ns in self.nameservers])

    # -- IDNSBackend --------------------------------------------------------------------------

    def update(self, zone: ZoneInfo, name: str, rdtype: str, values: Sequence[str],
               ttl: int | None = None) -> None:
        """Replace the RRset and bump the serial in one transaction."""
        rtype = _rtype(rdtype)
        owner = relative_name(name, zone.name)
        datas = sorted({canonical_value(rtype, value) for value in values})
        if not datas:
            self.delete(zone, name, rdtype)
            return
        where = (RECORDS.c.name == owner, RECORDS.c.rtype == rtype)

        def work(session: Session) -> bool:
            zone_id, serial = self._bump(session, zone)
            rows = (RECORDS.c.zone_id == zone_id, *where)
            if len(datas) == 1:  # the common case: one address, one row to overwrite
                changed = session.execute(update(RECORDS).where(*rows).values(
                    data=datas[0], ttl=ttl, serial=serial)).rowcount
                if changed == 1:
                    return True
            lan = ""
            if rtype != "TXT":
                lan = session.execute(
                    select(RECORDS.c.lan_data).where(*rows, RECORDS.c.lan_data != "").limit(1)
                ).scalar() or ""
            # Replaced, not removed: the new rows carry the serial, no deletion to log.
            session.execute(delete(RECORDS).where(*rows))
            session.execute(insert(RECORDS), [
                {"zone_id": zone_id, "name": owner, "rtype": rtype, "ttl": ttl, "data": data,
                 "lan_data": lan, "serial": serial} for data in datas])
            return True

        self._transaction(zone, f"update of {owner} {rtype}", work)

    def delete(self, zone: ZoneInfo, name: str, rdtype: str) -> None:
        """Remove the RRset; the serial only moves when something was there."""
        rtype = _rtype(rdtype)
        owner = relative_name(name, zone.name)

        def work(session: Session) -> bool:
            zone_id, serial = self._bump(session, zone)
            removed = session.execute(delete(RECORDS).where(
                RECORDS.c.zone_id == zone_id, RECORDS.c.name == owner, RECORDS.c.rtype == rtype)).rowcount
            if removed:
                session.execute(insert(DELETIONS).values(zone_id=zone_id, name=owner, rtype=rtype,
                                                         serial=serial))
            return removed > 0

        self._transaction(zone, f"delete of {owner} {rtype}", work)

    def set_lan(self, zone: ZoneInfo, name: str, rdtype: str, value: str) -> bool:
        """Set (or clear with ``""``) the split-horizon value of the name's A or AAAA rows.

        Clients whose source address is one of the name's published addresses get ``value``
        instead. Returns False, changing nothing, when the name has no such record yet
        (the LAN address needs a public one to hang on): publish first, then set it.
        """
        rtype = _rtype(rdtype)
        if rtype == "TXT":
            raise ValueError("a LAN value exists only for A and AAAA records")
        owner = relative_name(name, zone.name)
        lan = canonical_value(rtype, value) if value.strip() else ""

        def work(session: Session) -> bool:
            zone_id, serial = self._bump(session, zone)
            changed = session.execute(update(RECORDS).where(
                RECORDS.c.zone_id == zone_id, RECORDS.c.name == owner, RECORDS.c.rtype == rtype,
                RECORDS.c.lan_data != lan).values(lan_data=lan, serial=serial)).rowcount
            return changed > 0

        if self._transaction(zone, f"LAN value of {owner} {rtype}", work):
            return True
        return bool(self.query(zone, name, rdtype))  # already set to that value

    def query(self, zone: ZoneInfo, name: str, rdtype: str) -> list[str]:
        """What the nameserver will serve (the public values), sorted."""
        rtype = rdtype.strip().upper()
        owner = relative_name(name, zone.name)
        statement = (select(RECORDS.c.data).join(ZONES, ZONES.c.id == RECORDS.c.zone_id)
                     .where(ZONES.c.name == _zone_key(zone), RECORDS.c.name == owner,
                            RECORDS.c.rtype == rtype).order_by(RECORDS.c.data))
        with self._session(zone, f"query for {owner} {rtype}", write=False) as session:
            return list(session.execute(statement).scalars())

    def check(self, zone: ZoneInfo) -> CheckResult:
        """The zone exists (so the nameserver serves it); there is nothing remote to reach."""
        try:
            with self._session(zone, "check", write=False) as session:
                serial = session.execute(
                    select(ZONES.c.serial).where(ZONES.c.name == _zone_key(zone))).scalar()
        except DNSBackendError as exc:
            return CheckResult(False, exc.message)
        if serial is None:
            return CheckResult(False, f"zone {zone.name}: not in the built-in nameserver's database "
                                      f"(it is added on the first update)")
        return CheckResult(True, f"zone {zone.name}: served by the built-in nameserver, serial {serial}")

    # -- internals ----------------------------------------------------------------------------

    def _bump(self, session: Session, zone: ZoneInfo) -> tuple[int, int]:
        """Increment the serial (taking the zone's row lock); return the zone's id and new serial.

        A zone missing for a domain that exists (created before it used this backend) is
        added on the way; a name with no domain at all is an error. Every ``prune_every``
        serials the old deletions go (rolled back with the rest when nothing changed).
        """
        key = _zone_key(zone)
        statement = (update(ZONES).where(ZONES.c.name == key)
                     .values(serial=ZONES.c.serial + 1, updated=utcnow())
                     .returning(ZONES.c.id, ZONES.c.serial))
        row = session.execute(statement).first()
        if row is None:
            domain_id = session.execute(select(DOMAINS.c.id).where(DOMAINS.c.name == key)).scalar()
            if domain_id is None:
                raise DNSNotZone(f"zone {zone.name}: no such domain for the built-in nameserver")
            log.info("zone %s: added to the built-in nameserver on first use", key)
            self.create_zone(session, domain_id, key)
            row = session.execute(statement).one()
        zone_id, serial = row
        if serial % self.prune_every == 0 and serial > self.keep_deletions:
            self._prune(session, zone_id, serial - self.keep_deletions)
        return zone_id, serial

    @staticmethod
    def _prune(session: Session, zone_id: int, upto: int) -> None:
        """Forget the deletions at or below ``upto``, and say so on the zone."""
        session.execute(delete(DELETIONS).where(DELETIONS.c.zone_id == zone_id,
                                                DELETIONS.c.serial <= upto))
        session.execute(update(ZONES).where(ZONES.c.id == zone_id).values(pruned_serial=upto))

    def _transaction(self, zone: ZoneInfo, what: str, work: Callable[[Session], bool]) -> bool:
        """Run ``work``; commit when it says something changed, else roll back (no serial bump)."""
        with self._session(zone, what, write=True) as session:
            changed = work(session)
            if changed:
                session.commit()
            else:
                session.rollback()
            return changed

    @contextmanager
    def _session(self, zone: ZoneInfo, what: str, *, write: bool) -> Iterator[Session]:
        if self._factory_of is None:
            raise DNSConfigError(f"zone {zone.name}: the builtin backend has no database "
                                 f"(it was not registered through config.add_dns_backend)")
        with sqlite_begin("BEGIN IMMEDIATE" if write else "BEGIN"):
            session = self._factory_of()()
            try:
                session.begin()
                yield session
            except SQLAlchemyError as exc:
                session.rollback()
                reason = getattr(exc, "orig", None) or exc
                raise DNSServFail(f"zone {zone.name}: {what}: the built-in nameserver's database "
                                  f"failed ({type(reason).__name__}: {reason})") from None
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()


def _zone_key(zone: ZoneInfo) -> str:
    return zone.name.strip().lower().rstrip(".")
