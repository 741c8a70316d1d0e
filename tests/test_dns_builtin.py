"""The builtin backend writes the zones/records tables the built-in nameserver serves, bumping the
zone's serial with every change in the same transaction (on SQLite and PostgreSQL)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from zope.interface.verify import verifyClass, verifyObject

from nsupdate_pyramid import main
from nsupdate_pyramid.dns.builtin import BuiltinBackend, relative_name
from nsupdate_pyramid.dns.errors import DNSNotZone
from nsupdate_pyramid.dns.zone import ZoneInfo
from nsupdate_pyramid.interfaces import IDNSBackend, IZoneKeeper
from nsupdate_pyramid.models import Domain, Record, Zone
from nsupdate_pyramid.models.zone import RecordDeletion
from nsupdate_pyramid.services import domains as domain_service

ZONE = ZoneInfo(name="dyn.example.org")


@pytest.fixture
def backend(session_factory: sessionmaker[Session]) -> BuiltinBackend:
    return BuiltinBackend("builtin", session_factory=session_factory,
                          nameservers=("ns1.example.org.", "ns2.example.org."))


@pytest.fixture
def zone(dbsession: Session, make_user: Any, backend: BuiltinBackend) -> ZoneInfo:
    owner = make_user("zoneowner")
    domain_service.create_domain(dbsession, ZONE.name, owner, backend="builtin", dns_backend=backend)
    dbsession.commit()
    return ZONE


def serial(dbsession: Session, name: str = ZONE.name) -> int:
    dbsession.expire_all()
    return dbsession.execute(select(Zone.serial).where(Zone.name == name)).scalar_one()


def rows(dbsession: Session, name: str, rtype: str) -> list[tuple[str, str]]:
    return [tuple(row) for row in dbsession.execute(
        select(Record.data, Record.lan_data).join(Zone)
        .where(Zone.name == ZONE.name, Record.name == name, Record.rtype == rtype)
        .order_by(Record.data))]


def test_interfaces() -> None:
    assert verifyClass(IDNSBackend, BuiltinBackend)
    assert verifyClass(IZoneKeeper, BuiltinBackend)
    assert verifyObject(IDNSBackend, BuiltinBackend("b"))


def test_names_are_relative_and_lower_case() -> None:
    assert relative_name("Home", "dyn.example.org") == "home"
    assert relative_name("", "dyn.example.org") == "@"
    assert relative_name("dyn.example.org.", "dyn.example.org") == "@"
    assert relative_name("a.B.dyn.example.org.", "dyn.example.org") == "a.b"
    with pytest.raises(ValueError, match="not inside the zone"):
        relative_name("home.other.org.", "dyn.example.org")


def test_new_domain_gets_its_zone_with_ns_records(zone: ZoneInfo, dbsession: Session) -> None:
    assert serial(dbsession) == 1
    assert rows(dbsession, "@", "NS") == [("ns1.example.org.", ""), ("ns2.example.org.", "")]


def test_other_backends_get_no_zone(dbsession: Session, make_user: Any) -> None:
    domain_service.create_domain(dbsession, "plain.example.org", make_user("plain"), backend="memory")
    dbsession.commit()
    assert dbsession.execute(select(Zone).where(Zone.name == "plain.example.org")).first() is None


def test_update_query_delete_bump_the_serial(zone: ZoneInfo, backend: BuiltinBackend,
                                             dbsession: Session) -> None:
    backend.update(zone, "home", "A", ["192.0.2.1"], 60)
    assert serial(dbsession) == 2
    assert backend.query(zone, "home", "A") == ["192.0.2.1"]
    backend.update(zone, "HOME", "A", ["192.0.2.2"])  # the one-row fast path
    assert backend.query(zone, "home", "A") == ["192.0.2.2"]
    assert serial(dbsession) == 3
    backend.update(zone, "home", "AAAA", ["2001:DB8::0:1", "2001:db8::2"])
    assert backend.query(zone, "home", "AAAA") == ["2001:db8::1", "2001:db8::2"]
    backend.update(zone, "home", "AAAA", ["2001:db8::3"])
    assert backend.query(zone, "home", "AAAA") == ["2001:db8::3"]
    backend.update(zone, "home", "TXT", ['say "hi" \\ there'])
    assert backend.query(zone, "home", "TXT") == ['say "hi" \\ there']
    before = serial(dbsession)
    backend.delete(zone, "home", "A")
    assert backend.query(zone, "home", "A") == []
    assert serial(dbsession) == before + 1
    backend.delete(zone, "home", "A")  # nothing there: no change, no new serial
    assert serial(dbsession) == before + 1
    backend.update(zone, "home", "TXT", [])  # empty RRset = delete
    assert backend.query(zone, "home", "TXT") == []


def test_bad_values_change_nothing(zone: ZoneInfo, backend: BuiltinBackend, dbsession: Session) -> None:
    for rdtype, value in [("A", "2001:db8::1"), ("AAAA", "192.0.2.1"), ("A", "01.2.3.4"),
                          ("A", "nonsense"), ("TXT", "x" * 1025)]:
        with pytest.raises(ValueError):
            backend.update(zone, "home", rdtype, [value])
    with pytest.raises(ValueError, match="publishes A, AAAA, TXT"):
        backend.update(zone, "home", "MX", ["10 mail"])
    assert serial(dbsession) == 1


def test_lan_value_is_kept_across_updates(zone: ZoneInfo, backend: BuiltinBackend,
                                          dbsession: Session) -> None:
    assert backend.set_lan(zone, "nas", "A", "192.168.1.10") is False  # nothing published yet
    backend.update(zone, "nas", "A", ["203.0.113.5"])
    assert backend.set_lan(zone, "nas", "A", "192.168.1.10") is True
    assert rows(dbsession, "nas", "A") == [("203.0.113.5", "192.168.1.10")]
    assert backend.set_lan(zone, "nas", "A", "192.168.1.10") is True  # same value again
    backend.update(zone, "nas", "A", ["203.0.113.6"])
    assert rows(dbsession, "nas", "A") == [("203.0.113.6", "192.168.1.10")]
    backend.update(zone, "nas", "A", ["203.0.113.7", "203.0.113.8"])  # the general path
    assert rows(dbsession, "nas", "A") == [("203.0.113.7", "192.168.1.10"), ("203.0.113.8", "192.168.1.10")]
    assert backend.query(zone, "nas", "A") == ["203.0.113.7", "203.0.113.8"]
    backend.set_lan(zone, "nas", "A", "")
    assert rows(dbsession, "nas", "A") == [("203.0.113.7", ""), ("203.0.113.8", "")]
    with pytest.raises(ValueError):
        backend.set_lan(zone, "nas", "A", "fd00::1")
    with pytest.raises(ValueError):
        backend.set_lan(zone, "nas", "TXT", "x")


def test_zone_of_an_older_domain_is_added_on_first_update(dbsession: Session, make_user: Any,
                                                          backend: BuiltinBackend) -> None:
    domain_service.create_domain(dbsession, "late.example.org", make_user("late"), backend="memory")
    dbsession.commit()
    late = ZoneInfo(name="late.example.org")
    assert backend.check(late).ok is False
    backend.update(late, "h", "A", ["192.0.2.9"])
    assert backend.query(late, "h", "A") == ["192.0.2.9"]
    assert serial(dbsession, "late.example.org") == 2
    assert backend.check(late).ok is True
    with pytest.raises(DNSNotZone):
        backend.update(ZoneInfo(name="nowhere.example"), "h", "A", ["192.0.2.9"])


def test_check_and_deleting_the_domain_removes_the_zone(zone: ZoneInfo, backend: BuiltinBackend,
                                                        dbsession: Session) -> None:
    backend.update(zone, "home", "A", ["192.0.2.1"])
    result = backend.check(zone)
    assert result.ok and "serial 2" in result.message
    zone_id = dbsession.execute(select(Zone.id).where(Zone.name == zone.name)).scalar_one()
    dbsession.execute(delete(Domain).where(Domain.name == zone.name))
    dbsession.commit()
    assert dbsession.execute(select(Zone.id).where(Zone.id == zone_id)).first() is None
    assert dbsession.execute(select(Record.id).where(Record.zone_id == zone_id)).first() is None


def test_registered_backend_uses_the_app_database(settings: dict[str, str], dbengine: Any) -> None:
    """add_dns_backend hands the backend the registry: the app's sessions, nameserver.ns."""
    app = main({}, **{**settings, "dns.backends": "builtin = nsupdate_pyramid.dns.builtin:BuiltinBackend",
                      "nsupdate.default_backend": "builtin", "nameserver.ns": "ns.example.net"})
    backend = app.registry["nsupdate.dns_backends"]["builtin"]
    assert isinstance(backend, BuiltinBackend)
    assert backend.nameservers == ("ns.example.net.",)
    assert backend.check(ZoneInfo(name="unknown.example")).ok is False


def record_serials(dbsession: Session, name: str) -> list[tuple[str, int]]:
    dbsession.expire_all()
    return [tuple(row) for row in dbsession.execute(
        select(Record.rtype, Record.serial).join(Zone)
        .where(Zone.name == ZONE.name, Record.name == name).order_by(Record.rtype, Record.data))]


def deletions(dbsession: Session) -> list[tuple[str, str, int]]:
    return [tuple(row) for row in dbsession.execute(
        select(RecordDeletion.name, RecordDeletion.rtype, RecordDeletion.serial).join(
            Zone, Zone.id == RecordDeletion.zone_id)
        .where(Zone.name == ZONE.name).order_by(RecordDeletion.serial))]


def test_every_change_is_stamped_with_its_serial(zone: ZoneInfo, backend: BuiltinBackend,
                                                 dbsession: Session) -> None:
    """What the nameserver's incremental refresh reads: rows by serial, and removed RRsets."""
    assert record_serials(dbsession, "@") == [("NS", 1), ("NS", 1)]
    backend.update(zone, "home", "A", ["192.0.2.1"])  # insert
    backend.update(zone, "home", "AAAA", ["2001:db8::1"])
    assert record_serials(dbsession, "home") == [("A", 2), ("AAAA", 3)]
    backend.update(zone, "home", "A", ["192.0.2.2"])  # the one-row fast path
    backend.update(zone, "home", "AAAA", ["2001:db8::1", "2001:db8::2"])  # replaced
    assert record_serials(dbsession, "home") == [("A", 4), ("AAAA", 5), ("AAAA", 5)]
    assert backend.set_lan(zone, "home", "A", "192.168.0.2")
    assert record_serials(dbsession, "home")[0] == ("A", 6)
    assert deletions(dbsession) == []  # replacing is not removing
    backend.delete(zone, "home", "AAAA")
    backend.delete(zone, "home", "AAAA")  # nothing there: no serial, no log
    backend.update(zone, "home", "TXT", [])  # nothing there either
    assert deletions(dbsession) == [("home", "AAAA", 7)]
    assert serial(dbsession) == 7


def test_old_deletions_are_pruned(zone: ZoneInfo, backend: BuiltinBackend, dbsession: Session) -> None:
    backend.prune_every, backend.keep_deletions = 4, 3
    for index in range(4):  # serials 2..9: an update and a delete each
        backend.update(zone, f"h{index}", "A", ["192.0.2.1"])
        backend.delete(zone, f"h{index}", "A")
    # At serial 8 the deletions up to 5 went: h0 (3) and h1 (5); h2 (7) and h3 (9) stay.
    assert deletions(dbsession) == [("h2", "A", 7), ("h3", "A", 9)]
    dbsession.expire_all()
    assert dbsession.execute(select(Zone.pruned_serial).where(Zone.name == ZONE.name)).scalar_one() == 5
