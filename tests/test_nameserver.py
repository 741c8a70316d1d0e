"""The built-in nameserver, queried with dig and dnspython over loopback, on SQLite and PostgreSQL:
every answer kind, UDP and TCP, EDNS and truncation, zone transfers (with TSIG), split horizon,
changes from the web process within a second, database outages, BIND as a real secondary
receiving our NOTIFY, the console script and the embedded mode."""
from __future__ import annotations

import asyncio
import base64
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.xfr
import dns.zone
import pytest
import webtest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from nsupdate_pyramid import main
from nsupdate_pyramid.dns.builtin import BuiltinBackend
from nsupdate_pyramid.dns.zone import ZoneInfo
from nsupdate_pyramid.models import User, Zone, get_engine, get_session_factory
from nsupdate_pyramid.nameserver import refresher as refresher_module
from nsupdate_pyramid.nameserver.config import ServerConfig
from nsupdate_pyramid.nameserver.fastpath import AnswerCache, question_key
from nsupdate_pyramid.nameserver.listeners import QueryHandler
from nsupdate_pyramid.nameserver.refresher import Refresher
from nsupdate_pyramid.nameserver.source import ZoneSource
from nsupdate_pyramid.nameserver.zonedata import Snapshot, ZoneData
from nsupdate_pyramid.services import domains as domain_service
from nsupdate_pyramid.services import hosts as host_service
from nsupdate_pyramid.services import users as user_service
from nsupdate_pyramid.settings import parse_settings
from tests.fixtures.bind import NAMED
from tests.fixtures.nameserver import (
    OWNER,
    ZONE,
    NameserverLab,
    fresh_database,
    named_conf,
    nameserver_settings,
    start_nameserver,
    write_ini,
)
from tests.fixtures.net import free_port, ipv6_loopback_usable, stop_process, wait_for_soa
from tests.fixtures.postgres import _admin_connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def dig(port: int, *args: str, server: str = "127.0.0.1") -> str:
    result = subprocess.run(["dig", f"@{server}", "-p", str(port), "+norec", "+time=2", "+tries=1", *args],
                            capture_output=True, text=True, timeout=15, check=False)
    return result.stdout


def fqdn(label: str) -> str:
    return f"{label}.{ZONE}"


def serial(lab: NameserverLab) -> int:
    with lab.session() as session:
        return session.execute(select(Zone.serial).where(Zone.name == ZONE)).scalar_one()


# -- answers ----------------------------------------------------------------------------------


def test_a_aaaa_txt_answers_are_authoritative_with_the_configured_ttl(ns_lab: NameserverLab) -> None:
    ns_lab.backend.update(ns_lab.zone, "basic", "A", ["192.0.2.10"])
    ns_lab.backend.update(ns_lab.zone, "basic", "AAAA", ["2001:db8::10"])
    ns_lab.backend.update(ns_lab.zone, "basic", "TXT", ["hello world"])
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("basic"), "TXT") == ['"hello world"'])
    for tcp in (False, True):
        response = ns_lab.query(fqdn("basic"), "A", tcp=tcp)
        assert response.flags & dns.flags.AA
        assert not response.flags & dns.flags.RA
        answer = [(rrset.ttl, [r.to_text() for r in rrset]) for rrset in response.answer]
        assert answer == [(1, ["192.0.2.10"])]
    assert ns_lab.values(fqdn("basic"), "AAAA") == ["2001:db8::10"]
    out = dig(ns_lab.port, fqdn("basic"), "A")
    assert "flags: qr aa;" in out and "status: NOERROR" in out
    assert dig(ns_lab.port, "+noall", "+answer", fqdn("basic"), "A").split() == [
        f"{fqdn('basic')}.", "1", "IN", "A", "192.0.2.10"]
    assert dig(ns_lab.port, "+short", "+tcp", fqdn("basic"), "AAAA").strip() == "2001:db8::10"
    if ipv6_loopback_usable():
        assert dig(ns_lab.port, "+short", fqdn("basic"), "A", server="::1").strip() == "192.0.2.10"


def test_soa_and_ns_of_the_apex(ns_lab: NameserverLab) -> None:
    soa = ns_lab.query(ZONE, "SOA").answer[0][0]
    assert (soa.mname.to_text(), soa.rname.to_text()) == ("ns1.dyn.test.", f"hostmaster.{ZONE}.")
    assert soa.serial == serial(ns_lab)
    assert (soa.refresh, soa.retry, soa.expire, soa.minimum) == (300, 60, 1209600, 60)
    assert ns_lab.values(ZONE, "NS") == ["ns1.dyn.test.", "ns2.example.net."]


def test_nxdomain_and_nodata_carry_the_soa(ns_lab: NameserverLab) -> None:
    ns_lab.backend.update(ns_lab.zone, "only-a.deep", "A", ["192.0.2.11"])
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("only-a.deep")) == ["192.0.2.11"])
    for name, rdtype, rcode in [(fqdn("missing"), "A", dns.rcode.NXDOMAIN),
                                (fqdn("only-a.deep"), "AAAA", dns.rcode.NOERROR),
                                (fqdn("deep"), "A", dns.rcode.NOERROR)]:  # empty non-terminal
        response = ns_lab.query(name, rdtype)
        assert response.rcode() == rcode, name
        assert response.answer == []
        assert response.flags & dns.flags.AA
        [authority] = response.authority
        assert authority.rdtype == dns.rdatatype.SOA and authority.ttl == 1  # min(ttl, minimum)
    assert "status: NXDOMAIN" in dig(ns_lab.port, fqdn("missing"), "A")


def test_names_outside_our_zones_are_refused(ns_lab: NameserverLab) -> None:
    for name in ("example.com", "test", "."):
        response = ns_lab.query(name, "A")
        assert response.rcode() == dns.rcode.REFUSED
        assert not response.flags & dns.flags.AA
    assert "status: REFUSED" in dig(ns_lab.port, "www.example.com", "A")


def test_any_gets_one_rrset(ns_lab: NameserverLab) -> None:
    ns_lab.backend.update(ns_lab.zone, "anyhost", "A", ["192.0.2.12"])
    ns_lab.backend.update(ns_lab.zone, "anyhost", "TXT", ["x"])
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("anyhost"), "TXT") == ['"x"'])
    response = ns_lab.query(fqdn("anyhost"), "ANY")
    assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.A]
    assert ns_lab.query(fqdn("nothing-here"), "ANY").rcode() == dns.rcode.NXDOMAIN


def test_edns_payload_size_and_truncation(ns_lab: NameserverLab) -> None:
    """15 strings of 200 bytes: over 512 and 1232 bytes, under 4096."""
    texts = [f"{i:02d}" + "t" * 198 for i in range(15)]
    ns_lab.backend.update(ns_lab.zone, "big", "TXT", texts)
    ns_lab.wait_for(lambda: len(ns_lab.query(fqdn("big"), "TXT", tcp=True).answer) == 1)
    plain = ns_lab.query(fqdn("big"), "TXT")  # no EDNS: 512 bytes at most
    assert plain.flags & dns.flags.TC and plain.edns == -1
    small = ns_lab.query(fqdn("big"), "TXT", payload=1232)
    assert small.flags & dns.flags.TC and small.edns == 0 and small.payload == 1232
    large = ns_lab.query(fqdn("big"), "TXT", payload=4096)
    assert not large.flags & dns.flags.TC and len(large.answer[0]) == 15
    assert len(ns_lab.query(fqdn("big"), "TXT", tcp=True).answer[0]) == 15
    out = dig(ns_lab.port, "+bufsize=1232", fqdn("big"), "TXT")
    assert "Truncated, retrying in TCP mode" in out
    assert sum(line.split()[3:4] == ["TXT"] for line in out.splitlines() if not line.startswith(";")) == 15
    badvers = dns.message.make_query(fqdn("big"), "TXT", use_edns=1)
    assert dns.query.udp(badvers, "127.0.0.1", port=ns_lab.port, timeout=2).rcode() == dns.rcode.BADVERS


def test_split_horizon_by_source_address(ns_lab: NameserverLab) -> None:
    """The host's published address is 127.0.0.2: a client from there gets the LAN address."""
    ns_lab.backend.update(ns_lab.zone, "nas", "A", ["127.0.0.2"])
    assert ns_lab.backend.set_lan(ns_lab.zone, "nas", "A", "192.168.1.10")
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("nas"), source="127.0.0.2") == ["192.168.1.10"])
    assert ns_lab.values(fqdn("nas"), source="127.0.0.3") == ["127.0.0.2"]
    assert ns_lab.values(fqdn("nas"), source="127.0.0.2", tcp=True) == ["192.168.1.10"]
    # The public address moves on; the LAN address stays for clients behind the new one.
    ns_lab.backend.update(ns_lab.zone, "nas", "A", ["127.0.0.3"])
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("nas"), source="127.0.0.3") == ["192.168.1.10"])
    assert ns_lab.values(fqdn("nas"), source="127.0.0.2") == ["127.0.0.3"]
    # Zone transfers carry the public data only.
    axfr = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ZONE, port=ns_lab.port, timeout=2))
    assert [r.to_text() for r in axfr.find_rdataset("nas", "A")] == ["127.0.0.3"]


def test_changes_are_served_within_a_second(ns_lab: NameserverLab) -> None:
    ns_lab.backend.update(ns_lab.zone, "fast", "A", ["192.0.2.20"])
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("fast")) == ["192.0.2.20"])
    ns_lab.backend.update(ns_lab.zone, "fast", "A", ["192.0.2.21"])
    assert ns_lab.wait_for(lambda: ns_lab.values(fqdn("fast")) == ["192.0.2.21"]) < 1.0
    ns_lab.backend.delete(ns_lab.zone, "fast", "A")
    ns_lab.wait_for(lambda: ns_lab.query(fqdn("fast")).rcode() == dns.rcode.NXDOMAIN)


def test_nic_update_then_dig(ns_lab: NameserverLab) -> None:
    """The whole path: /nic/update through the app (builtin backend), then dig answers."""
    with ns_lab.session() as session:
        owner = user_service.get_user_by_username(session, OWNER)
        _host, secret = host_service.create_host(session, fqdn("router"), owner)
        session.commit()
    client = webtest.TestApp(ns_lab.app, extra_environ={"REMOTE_ADDR": "192.0.2.7"})
    client.authorization = ("Basic", (fqdn("router"), secret))
    assert client.get("/nic/update", {"myip": "198.51.100.33"}).text == "good 198.51.100.33"
    ns_lab.wait_for(lambda: dig(ns_lab.port, "+short", fqdn("router"), "A").strip() == "198.51.100.33")
    assert client.get("/nic/update", {"myip": "198.51.100.34"}).text == "good 198.51.100.34"
    ns_lab.wait_for(lambda: dig(ns_lab.port, "+short", fqdn("router"), "A").strip() == "198.51.100.34")


# -- zone transfers ---------------------------------------------------------------------------


def test_axfr_allowed_and_refused(ns_lab: NameserverLab) -> None:
    ns_lab.backend.update(ns_lab.zone, "xfr", "A", ["192.0.2.30"])
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("xfr")) == ["192.0.2.30"])
    zone = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ZONE, port=ns_lab.port, timeout=2))
    assert zone.get_rdataset("@", "SOA")[0].serial == serial(ns_lab)
    assert [r.to_text() for r in zone.find_rdataset("xfr", "A")] == ["192.0.2.30"]
    out = dig(ns_lab.port, ZONE, "AXFR")
    records = [line.split() for line in out.splitlines() if line and not line.startswith(";")]
    assert [f"xfr.{ZONE}.", "1", "IN", "A", "192.0.2.30"] in records
    assert [record[3] for record in records].count("SOA") == 2
    # 127.0.0.4 is not in nameserver.axfr_allow (127.0.0.1/32).
    with pytest.raises(dns.xfr.TransferError):
        dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ZONE, port=ns_lab.port, timeout=2, source="127.0.0.4"))
    assert "Transfer failed" in dig(ns_lab.port, "-b", "127.0.0.4", ZONE, "AXFR")
    # Not over UDP, and not for a zone we do not have.
    response = dns.query.udp(dns.message.make_query(ZONE, "AXFR"), "127.0.0.1", port=ns_lab.port, timeout=2)
    assert response.rcode() == dns.rcode.NOTIMP
    with pytest.raises(dns.xfr.TransferError):
        dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "example.com", port=ns_lab.port, timeout=2))


def test_ixfr_is_answered_with_the_whole_zone(ns_lab: NameserverLab) -> None:
    zone = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ZONE, port=ns_lab.port, timeout=2,
                                           rdtype=dns.rdatatype.IXFR, serial=1))
    assert zone.get_rdataset("@", "NS") is not None
    response = dns.query.udp(dns.message.make_query(ZONE, "IXFR"), "127.0.0.1", port=ns_lab.port, timeout=2)
    assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.SOA]


def test_axfr_with_tsig(ns_lab: NameserverLab) -> None:
    secret = base64.b64encode(os.urandom(32)).decode()
    port = free_port()
    settings = nameserver_settings(ns_lab.url, port, **{
        "nameserver.listen": f"127.0.0.1:{port}", "nameserver.axfr_key": f"hmac-sha256:xfr-key:{secret}"})
    engine = get_engine(settings)
    server = start_nameserver(settings, engine)
    try:
        good = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", secret)})
        wrong = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", base64.b64encode(b"w" * 32).decode())})
        zone = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ZONE, port=port, timeout=2, keyring=good))
        assert zone.get_rdataset("@", "SOA") is not None
        with pytest.raises(dns.xfr.TransferError):  # unsigned: refused
            dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ZONE, port=port, timeout=2))
        with pytest.raises(dns.xfr.TransferError, match="NOTAUTH"):
            dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ZONE, port=port, timeout=2, keyring=wrong))
        assert "XFR size" in dig(port, "-y", f"hmac-sha256:xfr-key:{secret}", ZONE, "AXFR")
        # Plain queries need no key.
        assert sorted(dig(port, "+short", ZONE, "NS").split()) == ["ns1.dyn.test.", "ns2.example.net."]
    finally:
        server.stop()
        engine.dispose()


# -- robustness -------------------------------------------------------------------------------


def test_malformed_packets_never_stop_it(ns_lab: NameserverLab) -> None:
    rng = random.Random(5)
    valid = dns.message.make_query(fqdn("basic"), "A").to_wire()
    packets = [b"", b"\x00", valid[:11], valid[:13], valid[:-3],
               # a name that points at itself (compression loop), and one with far too many labels
               valid[:12] + b"\xc0\x0c\x00\x01\x00\x01",
               valid[:12] + b"\x01a" * 200 + b"\x00\x00\x01\x00\x01"]
    packets += [rng.randbytes(rng.randrange(1, 600)) for _ in range(2000)]
    packets += [valid[:2] + bytes([rng.randrange(256) & 0x7F]) + valid[3:12] + rng.randbytes(40)
                for _ in range(500)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in packets:
            sock.sendto(packet, ("127.0.0.1", ns_lab.port))
    with socket.create_connection(("127.0.0.1", ns_lab.port), timeout=2) as conn:
        conn.sendall(b"\x00\x05abcde\x00\x40" + b"z" * 10)  # garbage, then a short frame
    # The burst may overflow the socket's receive buffer (the kernel drops what does not fit):
    # ask until the backlog is worked off; the server itself must still be there.
    ns_lab.wait_for(lambda: _answers(ns_lab, fqdn("loop")), timeout=10)
    assert ns_lab.query(ZONE, "SOA", tcp=True).rcode() == dns.rcode.NOERROR
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(valid[:12] + b"\xc0\x0c\x00\x01\x00\x01", ("127.0.0.1", ns_lab.port))
        answer = sock.recv(512)
        assert answer[:2] == valid[:2] and answer[3] & 0x0F == dns.rcode.FORMERR


def _answers(lab: NameserverLab, name: str) -> bool:
    try:
        response = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=lab.port, timeout=0.2)
    except dns.exception.Timeout:
        return False
    return response.rcode() == dns.rcode.NXDOMAIN


def test_serves_the_last_copy_while_the_database_is_gone(db_url: str, tmp_path: Path) -> None:
    url = fresh_database(db_url, tmp_path, "nsu_ns_outage")
    port = free_port()
    settings = nameserver_settings(url, port, **{"nameserver.listen": f"127.0.0.1:{port}"})
    engine = get_engine(settings)
    factory = get_session_factory(engine)
    backend = BuiltinBackend("builtin", session_factory=factory)
    with factory() as session:
        owner = user_service.create_user(session, "outage", "outage@example.org", "x" * 12)
        domain_service.create_domain(session, "gone.test", owner, backend="builtin", dns_backend=backend)
        session.commit()
    zone = ZoneInfo(name="gone.test")
    backend.update(zone, "h", "A", ["192.0.2.40"])
    server = start_nameserver(settings, engine)
    try:
        def answer() -> list[str]:
            response = dns.query.udp(dns.message.make_query("h.gone.test", "A"), "127.0.0.1", port=port,
                                     timeout=2)
            return [r.to_text() for rrset in response.answer for r in rrset]

        assert answer() == ["192.0.2.40"]
        if url.startswith("sqlite"):
            engine.dispose()
            Path(url[len("sqlite:///"):]).unlink()
        else:
            with _admin_connection(url) as admin:
                admin.execute("DROP DATABASE nsu_ns_outage WITH (FORCE)")
        refresher = server.server.refresher
        deadline = time.monotonic() + 5
        while not refresher.failing and time.monotonic() < deadline:
            time.sleep(0.05)
        assert refresher.failing
        for _ in range(20):
            assert answer() == ["192.0.2.40"]
    finally:
        server.stop()
        engine.dispose()


# -- BIND as a secondary ----------------------------------------------------------------------

SECONDARY_ZONE = """\
key "xfr-key." {{ algorithm hmac-sha256; secret "{secret}"; }};
zone "{zone}" {{
    type secondary;
    primaries {{ 127.0.0.1 port {primary} key "xfr-key."; }};
}};
"""


def test_bind_secondary_gets_notify_and_transfers(ns_lab: NameserverLab, tmp_path: Path) -> None:
    """BIND transfers our zone (TSIG-signed) and, told by our NOTIFY, each change at once
    (its refresh is 300 s, so only the NOTIFY can explain a change arriving in seconds)."""
    secret = base64.b64encode(os.urandom(32)).decode()
    bind_port, our_port = free_port(), free_port()
    settings = nameserver_settings(ns_lab.url, our_port, **{
        "nameserver.listen": f"127.0.0.1:{our_port}", "nameserver.axfr_key": f"xfr-key:{secret}",
        "nameserver.notify": f"127.0.0.1:{bind_port}"})
    engine = get_engine(settings)
    server = start_nameserver(settings, engine)
    (tmp_path / "named.conf").write_text(named_conf(tmp_path, bind_port, SECONDARY_ZONE.format(
        secret=secret, zone=ZONE, primary=our_port)))
    with open(tmp_path / "named.log", "wb") as log:
        named = subprocess.Popen([NAMED, "-g", "-4", "-c", str(tmp_path / "named.conf")],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_soa(named, bind_port, f"{ZONE}.")
        ns_lab.backend.update(ns_lab.zone, "secondary", "A", ["192.0.2.50"])
        deadline = time.monotonic() + 5
        while dig(bind_port, "+short", fqdn("secondary"), "A").strip() != "192.0.2.50":
            assert time.monotonic() < deadline, (tmp_path / "named.log").read_text()[-2000:]
            time.sleep(0.05)
        assert "notify" in (tmp_path / "named.log").read_text().lower()
        bind_soa = dig(bind_port, "+short", ZONE, "SOA").split()
        assert int(bind_soa[2]) == serial(ns_lab)
    finally:
        stop_process(named)
        server.stop()
        engine.dispose()


# -- running it ------------------------------------------------------------------------------

def test_console_script_serves_and_stops_on_sigterm(ns_lab: NameserverLab, tmp_path: Path) -> None:
    port = free_port()
    ini = write_ini(tmp_path / "ns.ini", nameserver_settings(
        ns_lab.url, port, **{"nameserver.listen": f"127.0.0.1:{port}"}))
    proc = subprocess.Popen([str(BIN / "nsupdate-nameserver"), str(ini)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_soa(proc, port, f"{ZONE}.")
        assert sorted(dig(port, "+short", ZONE, "NS").split()) == ["ns1.dyn.test.", "ns2.example.net."]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "nameserver listening on 127.0.0.1" in err
    finally:
        stop_process(proc)
    # The port of the running lab server is taken: one line, status 1.
    busy = write_ini(tmp_path / "busy.ini", nameserver_settings(
        ns_lab.url, ns_lab.port, **{"nameserver.listen": f"127.0.0.1:{ns_lab.port}"}))
    result = subprocess.run([str(BIN / "nsupdate-nameserver"), str(busy)], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"nsupdate-nameserver: cannot listen on 127.0.0.1:{ns_lab.port}: Address already in use")


def test_embedded_only_when_asked(ns_lab: NameserverLab) -> None:
    assert "nsupdate.nameserver" not in ns_lab.app.registry  # the test apps never start one
    port = free_port()
    settings = nameserver_settings(ns_lab.url, port, **{
        "nameserver.listen": f"127.0.0.1:{port}", "nameserver.embedded": "true"})
    quiet = main({"start_nameserver": "false"}, **settings)  # what nsupdate-admin does
    assert "nsupdate.nameserver" not in quiet.registry
    app = main({}, **settings)
    try:
        assert sorted(dig(port, "+short", ZONE, "NS").split()) == ["ns1.dyn.test.", "ns2.example.net."]
    finally:
        app.registry["nsupdate.nameserver"].stop()
        app.registry["dbsession_factory"].kw["bind"].dispose()
        quiet.registry["dbsession_factory"].kw["bind"].dispose()


def test_admin_domain_add_with_builtin_creates_the_zone(ns_lab: NameserverLab, tmp_path: Path) -> None:
    ini = write_ini(tmp_path / "admin.ini", nameserver_settings(
        ns_lab.url, free_port(), **{"nameserver.embedded": "true"}))
    result = subprocess.run([str(BIN / "nsupdate-admin"), str(ini), "domain", "add", "cli.test",
                             "--owner", OWNER, "--backend", "builtin"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "nameserver listening" not in result.stderr  # tools never start the embedded server
    ns_lab.wait_for(lambda: ns_lab.values("cli.test", "NS") == ["ns1.dyn.test.", "ns2.example.net."])


# -- the fast path: kept answers --------------------------------------------------------------


def _wire(name: str, rdtype: str = "A", *, qid: int = 4321, rd: bool = True, payload: int | None = None,
          options: list[dns.edns.Option] | None = None, do: bool = False) -> bytes:
    edns = {} if payload is None and not do else {"use_edns": 0, "payload": payload or 1232,
                                                  "ednsflags": dns.flags.DO if do else 0}
    message = dns.message.make_query(name, rdtype, options=options, **edns)
    message.id = qid
    if not rd:
        message.flags &= ~dns.flags.RD
    return message.to_wire()


def _lab_handler(lab: NameserverLab) -> QueryHandler:
    """A handler of its own (its own cache) over the running server's current snapshot."""
    server = lab.server.server
    return QueryHandler(server.config, lambda: server.snapshot)


def _slow(handler: QueryHandler, data: bytes, tcp: bool = False) -> bytes | None:
    """The full dnspython answer: from an empty cache, which this call then leaves behind."""
    handler.cache = AnswerCache()
    return b"".join(handler.tcp(data, "127.0.0.1")) if tcp else handler.udp(data, "127.0.0.1")


def test_kept_answers_are_byte_identical_to_the_slow_path(ns_lab: NameserverLab) -> None:
    ns_lab.backend.update(ns_lab.zone, "fp", "A", ["192.0.2.60", "192.0.2.61"])
    ns_lab.backend.update(ns_lab.zone, "fp", "AAAA", ["2001:db8::60"])
    ns_lab.backend.update(ns_lab.zone, "fp", "TXT", ["fast path"])
    ns_lab.backend.update(ns_lab.zone, "only-a.fp-deep", "A", ["192.0.2.62"])
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("only-a.fp-deep")) == ["192.0.2.62"])
    handler = _lab_handler(ns_lab)
    questions = [(fqdn("fp"), "A"), (fqdn("FP").upper(), "AAAA"), (fqdn("Fp"), "TXT"),
                 (fqdn("no-such-fp"), "A"), (fqdn("fp"), "MX"), (fqdn("fp-deep"), "A"), (ZONE, "SOA"),
                 (ZONE, "NS"), (fqdn("fp"), "ANY"), ("example.com", "A")]
    for name, rdtype in questions:
        for variant in ({}, {"rd": False}, {"payload": 1232}, {"payload": 4096, "do": True}):
            first = _wire(name, rdtype, qid=1, **variant)
            handler.cache = AnswerCache()
            handler.udp(first, "127.0.0.1")  # kept
            for qid, case in ((2, name), (65535, name.swapcase())):
                query = _wire(case, rdtype, qid=qid, **variant)
                kept = handler.udp(query, "127.0.0.1")
                assert handler.cache.answers, (name, rdtype, variant)
                _same(kept, _slow(handler, query), query)
                handler.udp(first, "127.0.0.1")
            tcp = _wire(name, rdtype, qid=7, **variant)
            _slow(handler, tcp, tcp=True)
            _same(b"".join(handler.tcp(tcp, "127.0.0.1")), _slow(handler, tcp, tcp=True), tcp)


def _same(kept: bytes | None, slow: bytes | None, query: bytes) -> None:
    """Header and question byte for byte; the records the same (dnspython shuffles the order
    within an RRset on each write, so several addresses are equal as sets, not as bytes)."""
    assert kept is not None and slow is not None
    assert kept[:len(query)] == slow[:len(query)] and kept[:2] == query[:2]
    assert len(kept) == len(slow)
    assert dns.message.from_wire(kept) == dns.message.from_wire(slow)


def test_kept_answers_keep_the_case_and_id_as_sent(ns_lab: NameserverLab) -> None:
    """DNS 0x20: the question and the names pointing at it come back in the client's case."""
    ns_lab.backend.update(ns_lab.zone, "casey", "A", ["192.0.2.63"])
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("casey")) == ["192.0.2.63"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        for qid, name in ((1, fqdn("casey")), (2, fqdn("CaSeY").upper()), (3, fqdn("cAsEy")),
                          (4, fqdn("nx-CaSe")), (5, fqdn("nx-CaSe").upper())):
            query = _wire(name, qid=qid)
            sock.sendto(query, ("127.0.0.1", ns_lab.port))
            answer = sock.recv(4096)
            end = len(query)
            assert answer[:2] == query[:2] and answer[12:end] == query[12:end], name
            response = dns.message.from_wire(answer)
            # Owners are pointers into the question: the name, or for NXDOMAIN the zone's SOA.
            owner = (response.answer or response.authority)[0].name.to_text()
            assert owner == (f"{name}." if response.answer else f"{name}."[-len(ZONE) - 1:]), name


def test_kept_answers_honour_the_edns_payload_size(ns_lab: NameserverLab) -> None:
    texts = [f"{i:02d}" + "k" * 198 for i in range(15)]
    ns_lab.backend.update(ns_lab.zone, "bigkept", "TXT", texts)
    ns_lab.wait_for(lambda: len(ns_lab.query(fqdn("bigkept"), "TXT", tcp=True).answer) == 1)
    for _ in range(3):  # the first asks fill the cache, the later ones come from it
        assert ns_lab.query(fqdn("bigkept"), "TXT").flags & dns.flags.TC
        small = ns_lab.query(fqdn("bigkept"), "TXT", payload=1232)
        assert small.flags & dns.flags.TC and small.payload == 1232
        large = ns_lab.query(fqdn("bigkept"), "TXT", payload=4096)
        assert not large.flags & dns.flags.TC and len(large.answer[0]) == 15
        assert len(ns_lab.query(fqdn("bigkept"), "TXT", tcp=True).answer[0]) == 15


def test_a_new_serial_empties_the_kept_answers(ns_lab: NameserverLab) -> None:
    ns_lab.backend.update(ns_lab.zone, "moving", "A", ["192.0.2.70"])
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("moving")) == ["192.0.2.70"])
    for _ in range(3):
        assert ns_lab.values(fqdn("moving")) == ["192.0.2.70"]
    cache = ns_lab.server.server.handler.cache
    assert any(key.startswith(b"\x06moving") for key in cache.answers)
    ns_lab.backend.update(ns_lab.zone, "moving", "A", ["192.0.2.71"])
    assert ns_lab.wait_for(lambda: ns_lab.values(fqdn("moving")) == ["192.0.2.71"]) < 1.0
    ns_lab.backend.delete(ns_lab.zone, "moving", "A")
    ns_lab.wait_for(lambda: ns_lab.query(fqdn("moving")).rcode() == dns.rcode.NXDOMAIN)


def test_split_horizon_names_are_never_kept(ns_lab: NameserverLab) -> None:
    ns_lab.backend.update(ns_lab.zone, "lanbox", "A", ["127.0.0.2"])
    assert ns_lab.backend.set_lan(ns_lab.zone, "lanbox", "A", "192.168.1.20")
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("lanbox"), source="127.0.0.2") == ["192.168.1.20"])
    for _ in range(3):
        assert ns_lab.values(fqdn("lanbox"), source="127.0.0.3") == ["127.0.0.2"]
        assert ns_lab.values(fqdn("lanbox"), source="127.0.0.2") == ["192.168.1.20"]
        assert ns_lab.values(fqdn("lanbox"), source="127.0.0.2", tcp=True) == ["192.168.1.20"]
    cache = ns_lab.server.server.handler.cache
    assert not any(key.startswith(b"\x06lanbox") for key in cache.answers)


def test_only_ordinary_queries_take_the_fast_path() -> None:
    plain = _wire("host.dyn.test")
    key, end = question_key(plain, False)
    assert end == len(plain)
    assert question_key(_wire("HOST.Dyn.Test", qid=9), False)[0] == key  # case and id: same key
    assert question_key(plain, True)[0] != key  # transport
    assert question_key(_wire("host.dyn.test", rd=False), False)[0] != key
    with_edns = {question_key(_wire("host.dyn.test", payload=p, do=do), False)[0]
                 for p in (512, 1232, 4096) for do in (False, True)}
    assert len(with_edns) == 6 and key not in with_edns
    cookie = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"12345678")
    assert question_key(_wire("host.dyn.test", payload=1232, options=[cookie]), False) is not None
    notify = dns.message.make_query("dyn.test", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    two = dns.message.make_query("host.dyn.test", "A")
    two.question.append(dns.message.make_query("x.dyn.test", "A").question[0])
    signed = dns.message.make_query("host.dyn.test", "A")
    signed.use_tsig(dns.tsigkeyring.from_text({"k.": ("hmac-sha256", base64.b64encode(b"k" * 32).decode())}))
    ecs = dns.edns.ECSOption("192.0.2.0", 24)
    padding = dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 8)
    unusual = [notify.to_wire(), two.to_wire(), signed.to_wire(),
               _wire("host.dyn.test", payload=1232, options=[ecs]),
               _wire("host.dyn.test", payload=1232, options=[padding]),
               dns.message.make_query("host.dyn.test", "A", use_edns=1).to_wire(),
               _wire("dyn.test", "AXFR"), _wire("dyn.test", "IXFR"),
               dns.message.make_query("host.dyn.test", "A", rdclass="CH").to_wire(),
               plain + b"junk", plain[:-1], plain[:12] + b"\xc0\x0c\x00\x01\x00\x01",
               plain[:2] + bytes([plain[2] | 0x80]) + plain[3:]]  # a response
    for data in unusual:
        assert question_key(data, False) is None, data


# -- incremental refreshes ------------------------------------------------------------------------


def _same_as_a_full_load(zone: ZoneData, source: ZoneSource, zone_id: int, config: ServerConfig) -> None:
    """The patched copy holds exactly what loading the zone afresh gives."""
    fresh = source.load(zone.origin.to_text(omit_final_dot=True), zone_id, config)
    assert fresh is not None
    assert zone.serial == fresh.serial
    assert zone.nodes == fresh.nodes
    assert zone.lan == fresh.lan
    assert zone.below == fresh.below and zone.ents == fresh.ents
    assert zone.wildcards == fresh.wildcards
    assert (zone.soa, zone.negative_soa) == (fresh.soa, fresh.negative_soa)


@dataclass
class RefresherLab:
    """A Refresher alone (no sockets), driven one poll at a time, over a database of its own."""

    factory: sessionmaker[Session]
    backend: BuiltinBackend
    source: ZoneSource
    config: ServerConfig
    refresher: Refresher
    owner_id: int
    published: list[Snapshot]
    forgotten: list[tuple[bytes, set[bytes], bool]]

    def refresh(self) -> None:
        assert asyncio.run(self.refresher.refresh())

    def zone(self, name: str = "inc.test") -> ZoneData:
        return self.refresher.snapshot.zones[dns.name.from_text(name)]

    def zone_id(self, name: str = "inc.test") -> int:
        with self.factory() as session:
            return session.execute(select(Zone.id).where(Zone.name == name)).scalar_one()

    def check(self, name: str = "inc.test") -> None:
        _same_as_a_full_load(self.zone(name), self.source, self.zone_id(name), self.config)

    def sql(self, statement: str, **params: object) -> None:
        with self.factory() as session:
            session.execute(text(statement), params)
            session.commit()

    def add_domain(self, name: str) -> None:
        with self.factory() as session:
            owner = session.get(User, self.owner_id)
            domain_service.create_domain(session, name, owner, backend="builtin", dns_backend=self.backend)
            session.commit()


@pytest.fixture
def refresher_lab(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RefresherLab]:
    url = fresh_database(db_url, tmp_path, "nsu_ns_inc_" + os.urandom(4).hex())
    settings = nameserver_settings(url, free_port())
    engine = get_engine(settings)
    factory = get_session_factory(engine)
    backend = BuiltinBackend("builtin", session_factory=factory, nameservers=("ns1.inc.test.",))
    with factory() as session:
        owner = user_service.create_user(session, "inc", "inc@example.org", "x" * 12)
        session.commit()
        owner_id = owner.id
    config = ServerConfig.from_settings(parse_settings(settings))
    source = ZoneSource.from_engine(engine)
    published: list[Snapshot] = []
    forgotten: list[tuple[bytes, set[bytes], bool]] = []
    refresher = Refresher(source, config, published.append, lambda zone: None,
                          lambda zone, keys, everything: forgotten.append(
                              (zone.origin_wire, set(keys), everything)))
    lab = RefresherLab(factory, backend, source, config, refresher, owner_id, published, forgotten)
    lab.add_domain("inc.test")
    try:
        yield lab
    finally:
        refresher.close()
        engine.dispose()


INC = ZoneInfo(name="inc.test")


def test_changes_are_patched_in_and_equal_a_full_load(refresher_lab: RefresherLab) -> None:
    lab, backend = refresher_lab, refresher_lab.backend
    lab.refresh()
    assert lab.refresher.loads == 1
    zone = lab.zone()
    steps = [
        lambda: backend.update(INC, "home", "A", ["192.0.2.1"]),  # a new name
        lambda: backend.update(INC, "home", "A", ["192.0.2.2"]),  # a new address
        lambda: backend.update(INC, "home", "AAAA", ["2001:db8::1", "2001:db8::2"]),  # a second type
        lambda: backend.update(INC, "home", "A", ["192.0.2.3", "192.0.2.4"]),  # replaced by two
        lambda: backend.set_lan(INC, "home", "A", "192.168.1.3"),  # LAN value set
        lambda: backend.set_lan(INC, "home", "A", "192.168.1.4"),  # ... changed
        lambda: backend.update(INC, "home", "TXT", ['a "quoted" text']),
        lambda: backend.update(INC, "x.deep.sub", "A", ["192.0.2.9"]),  # empty non-terminals
        lambda: backend.delete(INC, "home", "AAAA"),  # one type removed
        lambda: backend.set_lan(INC, "home", "A", ""),  # LAN value cleared
        lambda: backend.delete(INC, "x.deep.sub", "A"),  # the name and its ENTs gone
        lambda: backend.delete(INC, "home", "TXT"),
        lambda: backend.delete(INC, "home", "A"),  # nothing left of home
    ]
    for number, step in enumerate(steps):
        before = lab.zone().serial
        step()
        lab.refresh()
        assert lab.zone() is zone, number  # patched in place, not rebuilt
        assert lab.zone().serial > before, number
        lab.check()
        if number == 7:
            assert zone.ents == {b"\x04deep\x03sub", b"\x03sub"}
    assert lab.refresher.loads == 1 and lab.refresher.patches == len(steps)
    assert lab.published == lab.published[:1]  # one snapshot: the first load
    assert b"\x04home" not in zone.nodes and not zone.ents and not zone.lan
    origin = zone.origin_wire
    assert [keys for _, keys, _ in lab.forgotten] == [
        {b"\x04home"}] * 7 + [{b"\x01x\x04deep\x03sub"}] + [{b"\x04home"}] * 2 + [
        {b"\x01x\x04deep\x03sub"}] + [{b"\x04home"}] * 2
    assert all(wire == origin and not everything for wire, _, everything in lab.forgotten)


def test_a_wildcard_appearing_forgets_every_kept_answer(refresher_lab: RefresherLab) -> None:
    lab = refresher_lab
    lab.refresh()
    lab.backend.update(INC, "*.pool", "A", ["192.0.2.50"])
    lab.refresh()
    lab.check()
    assert lab.zone().has_wildcards and lab.forgotten[-1][2] is True
    lab.backend.update(INC, "*.pool", "A", ["192.0.2.51"])  # a new value only: no name came or went
    lab.refresh()
    assert lab.forgotten[-1][2] is False
    lab.backend.delete(INC, "*.pool", "A")
    lab.refresh()
    lab.check()
    assert not lab.zone().has_wildcards and lab.forgotten[-1][2] is True
    assert lab.refresher.loads == 1


def test_unknown_gaps_reload_the_zone_whole(refresher_lab: RefresherLab,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    lab, backend = refresher_lab, refresher_lab.backend
    backend.update(INC, "keep", "A", ["192.0.2.1"])
    lab.refresh()
    assert lab.refresher.loads == 1
    # The serial went backwards (restored from a backup, edited by hand).
    backend.update(INC, "back", "A", ["192.0.2.2"])
    lab.sql("UPDATE zones SET serial = serial - 5 WHERE name = 'inc.test'")
    lab.refresh()
    assert lab.refresher.loads == 2
    lab.check()
    # Deletions pruned past our serial: the removed name must not survive in our copy.
    backend.prune_every, backend.keep_deletions = 2, 1
    first = lab.zone()
    backend.delete(INC, "keep", "A")
    for index in range(3):
        backend.update(INC, f"more{index}", "A", ["192.0.2.3"])
    lab.refresh()
    assert lab.refresher.loads == 3 and lab.zone() is not first
    assert b"\x04keep" not in lab.zone().nodes
    lab.check()
    # More names changed than a patch is worth.
    monkeypatch.setattr(refresher_module, "PATCH_MIN", 2)
    backend.prune_every, backend.keep_deletions = 1000, 10_000
    for index in range(3):
        backend.update(INC, f"bulk{index}", "A", ["192.0.2.4"])
    lab.refresh()
    assert lab.refresher.loads == 4
    lab.check()
    # A zone added: loaded; the same name removed and created again (a new id): loaded whole.
    lab.add_domain("other.test")
    lab.refresh()
    assert lab.refresher.loads == 5 and dns.name.from_text("other.test") in lab.refresher.snapshot.zones
    backend.update(ZoneInfo(name="other.test"), "h", "A", ["192.0.2.5"])
    lab.sql("DELETE FROM domains WHERE name = 'other.test'")
    lab.refresh()
    assert dns.name.from_text("other.test") not in lab.refresher.snapshot.zones
    lab.add_domain("other.test")
    lab.refresh()
    assert lab.refresher.loads == 6
    assert lab.zone("other.test").nodes.keys() == {b""}  # h went with the old zone
    lab.check("other.test")
    lab.sql("DELETE FROM domains WHERE name = 'other.test'")
    lab.add_domain("other.test")
    backend.update(ZoneInfo(name="other.test"), "h2", "A", ["192.0.2.6"])  # serial above ours
    lab.refresh()
    assert lab.refresher.loads == 7
    lab.check("other.test")
    patches = lab.refresher.patches
    backend.update(INC, "again", "A", ["192.0.2.7"])
    lab.refresh()
    assert lab.refresher.patches == patches + 1
    lab.check()


def test_the_kept_answers_of_unchanged_names_survive_a_patch() -> None:
    cache = AnswerCache()
    origin = dns.name.from_text("dyn.test").to_wire()
    kept = {}
    for name, soa in (("a", False), ("b", False), ("nx", True), ("c.other", False)):
        query = _wire(f"{name}.dyn.test" if name != "c.other" else "c.other.test")
        key, end = question_key(query, False)
        cache.keep(key, end, query, soa)  # the query stands in for its answer
        kept[name] = key
    tcp_key, end = question_key(_wire("a.dyn.test"), True)
    cache.keep(tcp_key, end, _wire("a.dyn.test"))
    cache.forget(origin, [b"\x01a"])
    assert set(cache.answers) == {kept["b"], kept["c.other"]}  # "a" changed, "nx" carried the SOA
    assert set(cache.by_name) == {b"\x01b" + origin, dns.name.from_text("c.other.test").to_wire()}
    assert not cache.with_soa
    cache.forget(origin, [], everything=True)
    assert not cache.answers and not cache.by_name


def test_a_busy_zone_is_patched_and_its_hot_answers_stay_kept(ns_lab: NameserverLab) -> None:
    """Update, replace, delete, LAN value and TXT through the running server: each served
    within a second, without a whole reload, and the copy then equals a full load."""
    backend, zone = ns_lab.backend, ns_lab.zone
    backend.update(zone, "steady", "A", ["192.0.2.80"])
    ns_lab.wait_for(lambda: ns_lab.values(fqdn("steady")) == ["192.0.2.80"])
    refresher = ns_lab.server.server.refresher
    loads, patches = refresher.loads, refresher.patches
    cache = ns_lab.server.server.handler.cache
    steady = next(key for key in cache.answers if key.startswith(b"\x06steady"))
    checks = [
        (lambda: backend.update(zone, "busy", "A", ["192.0.2.81"]),
         lambda: ns_lab.values(fqdn("busy")) == ["192.0.2.81"]),
        (lambda: backend.update(zone, "busy", "A", ["192.0.2.82", "192.0.2.83"]),
         lambda: ns_lab.values(fqdn("busy")) == ["192.0.2.82", "192.0.2.83"]),
        (lambda: backend.update(zone, "busy", "A", ["127.0.0.2"]),
         lambda: ns_lab.values(fqdn("busy")) == ["127.0.0.2"]),
        (lambda: backend.set_lan(zone, "busy", "A", "192.168.1.80"),
         lambda: ns_lab.values(fqdn("busy"), source="127.0.0.2") == ["192.168.1.80"]),
        (lambda: backend.update(zone, "busy", "TXT", ["v=1 busy"]),
         lambda: ns_lab.values(fqdn("busy"), "TXT") == ['"v=1 busy"']),
        (lambda: backend.delete(zone, "busy", "A"),
         lambda: ns_lab.values(fqdn("busy")) == []),
        (lambda: backend.delete(zone, "busy", "TXT"),
         lambda: ns_lab.query(fqdn("busy")).rcode() == dns.rcode.NXDOMAIN),
    ]
    for change, visible in checks:
        change()
        assert ns_lab.wait_for(visible) < 1.0
    assert refresher.loads == loads and refresher.patches > patches
    assert steady in cache.answers  # an unchanged name's kept answer outlived every patch
    server = ns_lab.server.server
    with ns_lab.session() as session:
        zone_id = session.execute(select(Zone.id).where(Zone.name == ZONE)).scalar_one()
    current = server.snapshot.zones[dns.name.from_text(ZONE)]
    ns_lab.wait_for(lambda: current.serial == serial(ns_lab))
    _same_as_a_full_load(current, ZoneSource.from_engine(ns_lab.engine), zone_id, server.config)
