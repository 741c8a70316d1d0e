"""Proof that the lab fixtures give a working BIND and PostgreSQL, before other tests rely on them."""

import uuid

import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest
import sqlalchemy as sa

from tests.fixtures.bind import BindServer
from tests.fixtures.postgres import create_database


def unique_label(prefix: str) -> str:
    """A host label nobody else uses, because tests share one zone and never reset it."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def send(server: BindServer, update: dns.update.UpdateMessage) -> int:
    """Send an UPDATE over TCP and return the rcode, as the rfc2136 backend will."""
    return dns.query.tcp(update, server.host, port=server.port, timeout=5).rcode()


def test_bind_answers_soa(bind_server: BindServer) -> None:
    assert len(bind_server.query(bind_server.zone, "SOA")) == 1
    assert bind_server.query(f"ns1.{bind_server.zone}", "A") == ["127.0.0.1"]
    assert bind_server.query(bind_server.other_zone, "SOA")


def test_signed_update_replaces_a_record(bind_server: BindServer) -> None:
    name = unique_label("signed")
    fqdn = f"{name}.{bind_server.zone}"
    assert bind_server.query(fqdn, "A") == []
    for address in ("192.0.2.1", "192.0.2.2"):  # the second replace must not leave the first behind
        update = dns.update.UpdateMessage(bind_server.zone, keyring=bind_server.keyring())
        update.replace(name, 60, "A", address)
        assert send(bind_server, update) == dns.rcode.NOERROR
        assert bind_server.query(fqdn, "A") == [address]


def test_wrong_secret_is_rejected(bind_server: BindServer) -> None:
    keyring = dns.tsigkeyring.from_text({bind_server.key_name: (bind_server.algorithm, "d3Jvbmcgc2VjcmV0")})
    name = unique_label("badsig")
    update = dns.update.UpdateMessage(bind_server.zone, keyring=keyring)
    update.replace(name, 60, "A", "192.0.2.3")
    with pytest.raises(dns.tsig.PeerBadSignature):
        send(bind_server, update)
    assert bind_server.query(f"{name}.{bind_server.zone}", "A") == []


def test_key_of_other_zone_is_refused(bind_server: BindServer) -> None:
    name = unique_label("otherkey")
    update = dns.update.UpdateMessage(bind_server.zone, keyring=bind_server.other_keyring())
    update.replace(name, 60, "A", "192.0.2.4")
    assert send(bind_server, update) == dns.rcode.REFUSED
    # ...while the same key may update its own zone.
    update = dns.update.UpdateMessage(bind_server.other_zone, keyring=bind_server.other_keyring())
    update.replace(name, 60, "A", "192.0.2.4")
    assert send(bind_server, update) == dns.rcode.NOERROR
    assert bind_server.query(f"{name}.{bind_server.other_zone}", "A") == ["192.0.2.4"]


def test_unsigned_update_is_refused(bind_server: BindServer) -> None:
    name = unique_label("unsigned")
    update = dns.update.UpdateMessage(bind_server.zone)
    update.replace(name, 60, "A", "192.0.2.5")
    assert send(bind_server, update) == dns.rcode.REFUSED
    assert bind_server.query(f"{name}.{bind_server.zone}", "A") == []


def test_postgresql_url_works(postgresql_url: str) -> None:
    engine = sa.create_engine(postgresql_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("select version()")).scalar_one()
            database = conn.execute(sa.text("select current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert version.startswith("PostgreSQL ")
    assert database == sa.engine.make_url(postgresql_url).database


def test_create_database_gives_a_usable_database(postgresql_url: str) -> None:
    name = f"nsu_fresh_{uuid.uuid4().hex[:8]}"
    url = create_database(postgresql_url, name)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create table t (x int)"))
            conn.execute(sa.text("insert into t values (42)"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("select current_database()")).scalar_one() == name
            assert conn.execute(sa.text("select x from t")).scalar_one() == 42
    finally:
        engine.dispose()
    # Asking again gives an empty database again (e.g. a rerun against an external server).
    engine = sa.create_engine(create_database(postgresql_url, name))
    try:
        with engine.connect() as conn:
            assert not sa.inspect(conn).has_table("t")
    finally:
        engine.dispose()
