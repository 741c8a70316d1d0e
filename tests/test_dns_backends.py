"""The DNS backend contract, proven against real BIND, PowerDNS and Knot (and the memory backend).

The three servers reject the same mistakes with different answers (dnslab.md section 7), so every
failure case runs against each of them: the update API must see the same typed error whichever
server a domain uses. Small in-process fakes cover what real servers will not do on demand
(stay silent, truncate, answer without authority).
"""
from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from zope.interface.verify import verifyClass, verifyObject

from nsupdate_pyramid.dns.errors import (
    DNSBadKey,
    DNSConfigError,
    DNSNetworkError,
    DNSNotZone,
    DNSRefused,
    DNSServFail,
    DNSTimeout,
)
from nsupdate_pyramid.dns.memory import MemoryBackend
from nsupdate_pyramid.dns.rfc2136 import RFC2136Backend
from nsupdate_pyramid.dns.zone import ZoneInfo
from nsupdate_pyramid.interfaces import IDNSBackend
from tests.fixtures.bind import TSIG_ALGORITHMS
from tests.fixtures.net import free_port

SERVERS = {"bind": "bind_server", "pdns": "pdns_server", "knot": "knot_server"}
WRONG_SECRET = "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldA=="  # valid base64, not the server's key
#: A loopback address nobody listens on: the lab servers bind 127.0.0.1 only, and Linux routes all
#: of 127/8 to lo, so packets there get "port unreachable" at once.
UNUSED_LOOPBACK = "127.0.0.2"


def unique(prefix: str) -> str:
    """A host label nobody else uses, as the zones are shared by the whole session and never reset."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def zone_of(server: Any, **changes: Any) -> ZoneInfo:
    """The ZoneInfo a Domain row pointing at this lab server would produce."""
    zone = ZoneInfo(
        name=server.zone,
        nameserver=server.host,
        port=server.port,
        tsig_key_name=server.key_name,
        tsig_algorithm=server.algorithm,
        tsig_secret=server.secret,
        ttl=60,
    )
    return replace(zone, **changes)


def make_backend(**settings: str) -> RFC2136Backend:
    return RFC2136Backend.create_service("rfc2136", {"timeout": "2", **settings})


@dataclass
class Target:
    """A backend plus a zone it serves, and (for real servers) the server to check results on."""

    kind: str
    backend: Any
    zone: ZoneInfo
    server: Any = None

    def published(self, name: str, rdtype: str) -> list[str]:
        """What a resolver would get: asked of the server itself, not through the backend under test."""
        if self.server is None:
            return sorted(self.backend.query(self.zone, name, rdtype))
        fqdn = self.zone.name if name in ("", "@") else f"{name}.{self.zone.name}"
        return self.server.query(fqdn, rdtype)


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(SERVERS[request.param])


@pytest.fixture(params=[*SERVERS, "memory"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "memory":
        return Target("memory", MemoryBackend("memory"), ZoneInfo(name="ddns.test."))
    server = request.getfixturevalue(SERVERS[request.param])
    return Target(request.param, make_backend(), zone_of(server), server)


def txt_published(server: Any, fqdn: str) -> list[str]:
    """TXT values as the joined, unquoted strings a client would read (over TCP: long ones need it)."""
    response = dns.query.tcp(dns.message.make_query(fqdn, "TXT"), server.host, port=server.port, timeout=2)
    rrset = response.get_rrset(response.answer, dns.name.from_text(fqdn), dns.rdataclass.IN,
                               dns.rdatatype.TXT)
    return sorted(b"".join(rdata.strings).decode() for rdata in rrset) if rrset else []


def ttl_published(server: Any, fqdn: str, rdtype: str) -> int:
    response = dns.query.udp(dns.message.make_query(fqdn, rdtype), server.host, port=server.port, timeout=2)
    (rrset,) = response.answer
    return rrset.ttl


# -- interface and settings -------------------------------------------------------------------


def test_backends_implement_the_interface() -> None:
    verifyClass(IDNSBackend, RFC2136Backend)
    verifyClass(IDNSBackend, MemoryBackend)
    verifyObject(IDNSBackend, make_backend())


def test_settings_defaults() -> None:
    backend = RFC2136Backend.create_service("ns", {})
    assert (backend.name, backend.timeout, backend.tcp, backend.default_ttl) == ("ns", 3.0, "auto", 60)
    backend = RFC2136Backend.create_service("ns", {"timeout": "0.5", "tcp": "Always", "default_ttl": "300"})
    assert (backend.timeout, backend.tcp, backend.default_ttl) == (0.5, "always", 300)


@pytest.mark.parametrize(("key", "value", "words"), [
    ("timeout", "soon", "timeout"),
    ("timeout", "0", "timeout"),
    ("timeout", "-1", "timeout"),
    ("timeout", "nan", "timeout"),
    ("tcp", "sometimes", "tcp must be one of auto, always"),
    ("default_ttl", "1.5", "default_ttl"),
    ("default_ttl", "-5", "default_ttl"),
])
def test_bad_settings_fail_clearly(key: str, value: str, words: str) -> None:
    with pytest.raises(ValueError, match=words) as excinfo:
        RFC2136Backend.create_service("ns", {key: value})
    assert "dns.backend.ns" in str(excinfo.value)
    assert repr(value) in str(excinfo.value)


# -- the contract, on every backend -------------------------------------------------------------


def test_replace_a_keeps_only_the_latest(target: Target) -> None:
    name = unique("replace")
    for address in ("192.0.2.1", "192.0.2.2"):
        target.backend.update(target.zone, name, "A", [address])
        assert target.published(name, "A") == [address]
        assert target.backend.query(target.zone, name, "A") == [address]


def test_aaaa(target: Target) -> None:
    name = unique("six")
    target.backend.update(target.zone, name, "AAAA", ["2001:db8::1"])
    target.backend.update(target.zone, name, "AAAA", ["2001:db8::2"])
    assert target.published(name, "AAAA") == ["2001:db8::2"]
    assert target.backend.query(target.zone, name, "AAAA") == ["2001:db8::2"]


@pytest.mark.parametrize("value", [
    "hello world",
    'say "hi"; \\ backslash \\"',
    "  leading and trailing spaces  ",
    "v=spf1 -all",
    "ünïcödé ✓",
    "x" * 600,  # more than one 255-byte character-string
])
def test_txt_values_round_trip_exactly(target: Target, value: str) -> None:
    name = unique("txt")
    target.backend.update(target.zone, name, "TXT", [value])
    assert target.backend.query(target.zone, name, "TXT") == [value]
    if target.server is not None:
        assert txt_published(target.server, f"{name}.{target.zone.name}") == [value]


def test_multiple_values(target: Target) -> None:
    name = unique("multi")
    values = ["192.0.2.30", "192.0.2.10", "192.0.2.20"]
    target.backend.update(target.zone, name, "A", values)
    assert target.published(name, "A") == sorted(values)
    assert sorted(target.backend.query(target.zone, name, "A")) == sorted(values)
    target.backend.update(target.zone, name, "A", ["192.0.2.40"])
    assert target.published(name, "A") == ["192.0.2.40"]


def test_delete_and_delete_of_absent_rrset(target: Target) -> None:
    name = unique("delete")
    target.backend.update(target.zone, name, "A", ["192.0.2.5"])
    target.backend.delete(target.zone, name, "A")
    assert target.published(name, "A") == []
    assert target.backend.query(target.zone, name, "A") == []
    target.backend.delete(target.zone, name, "A")  # already gone: no error
    target.backend.delete(target.zone, unique("never"), "AAAA")  # never existed: no error


def test_other_types_are_left_alone(target: Target) -> None:
    name = unique("types")
    target.backend.update(target.zone, name, "A", ["192.0.2.6"])
    target.backend.update(target.zone, name, "AAAA", ["2001:db8::6"])
    target.backend.update(target.zone, name, "TXT", ["note"])
    target.backend.update(target.zone, name, "A", ["192.0.2.7"])
    target.backend.delete(target.zone, name, "TXT")
    assert target.published(name, "A") == ["192.0.2.7"]
    assert target.published(name, "AAAA") == ["2001:db8::6"]
    assert target.backend.query(target.zone, name, "TXT") == []


def test_unknown_name_queries_empty(target: Target) -> None:
    assert target.backend.query(target.zone, unique("nobody"), "A") == []


def test_check_ok_on_a_good_zone(target: Target) -> None:
    result = target.backend.check(target.zone)
    assert result.ok, result.message
    assert result.message


# -- rfc2136 specifics, on the three real servers -------------------------------------------------


def test_query_is_sorted_and_canonical(server: Any) -> None:
    backend, zone, name = make_backend(), zone_of(server), unique("canon")
    backend.update(zone, name, "AAAA", ["2001:DB8:0:0::B", "2001:db8::a"])
    assert backend.query(zone, name, "AAAA") == ["2001:db8::a", "2001:db8::b"]


def test_apex_names(server: Any) -> None:
    backend, zone, value = make_backend(), zone_of(server), unique("apex")
    backend.update(zone, "@", "TXT", [value])
    assert value in backend.query(zone, "", "TXT")
    assert value in txt_published(server, server.zone)
    backend.delete(zone, "", "TXT")
    assert backend.query(zone, "@", "TXT") == []


def test_ttl_from_call_then_zone_then_default(server: Any) -> None:
    backend, name = make_backend(default_ttl="77"), unique("ttl")
    fqdn = f"{name}.{server.zone}"
    backend.update(zone_of(server, ttl=300), name, "A", ["192.0.2.8"], ttl=123)
    assert ttl_published(server, fqdn, "A") == 123
    backend.update(zone_of(server, ttl=300), name, "A", ["192.0.2.8"])
    assert ttl_published(server, fqdn, "A") == 300
    backend.update(zone_of(server, ttl=0), name, "A", ["192.0.2.8"])
    assert ttl_published(server, fqdn, "A") == 77


def test_tcp_always(server: Any) -> None:
    backend, zone, name = make_backend(tcp="always"), zone_of(server), unique("tcp")
    backend.update(zone, name, "A", ["192.0.2.9"])
    assert backend.query(zone, name, "A") == ["192.0.2.9"]
    assert backend.check(zone).ok


@pytest.mark.parametrize("algorithm", TSIG_ALGORITHMS)
def test_every_tsig_algorithm(server: Any, algorithm: str) -> None:
    key_name, secret = server.algorithm_key(algorithm)
    zone = zone_of(server, tsig_key_name=key_name, tsig_algorithm=algorithm, tsig_secret=secret)
    name = unique(algorithm)
    make_backend().update(zone, name, "A", ["192.0.2.11"])
    assert server.query(f"{name}.{server.zone}", "A") == ["192.0.2.11"]


@pytest.mark.parametrize("tcp", ["auto", "always"])
@pytest.mark.parametrize(("case", "changes"), [
    ("wrong secret", {"tsig_secret": WRONG_SECRET}),
    ("unknown key name", {"tsig_key_name": "no-such-key."}),
    ("wrong algorithm", {"tsig_algorithm": "hmac-sha512"}),
])
def test_rejected_key_is_bad_key(server: Any, tcp: str, case: str, changes: dict[str, str]) -> None:
    zone, name = zone_of(server, **changes), unique("badkey")
    with pytest.raises(DNSBadKey) as excinfo:
        make_backend(tcp=tcp).update(zone, name, "A", ["192.0.2.12"])
    message = str(excinfo.value)
    assert "TSIG key" in message
    assert "check key name, algorithm and secret" in message
    assert server.zone in message
    assert f"{server.host}:{server.port}" in message
    assert zone.tsig_secret not in message
    assert server.query(f"{name}.{server.zone}", "A") == []


def test_unsigned_update_is_refused(server: Any, request: pytest.FixtureRequest) -> None:
    """BIND and PowerDNS answer REFUSED, Knot NOTAUTH: both mean "no key, no update"."""
    name = unique("unsigned")
    with pytest.raises((DNSRefused, DNSBadKey)) as excinfo:
        make_backend().update(zone_of(server, tsig_key_name="", tsig_secret=""), name, "A", ["192.0.2.13"])
    expected = DNSBadKey if request.node.callspec.params["server"] == "knot" else DNSRefused
    assert type(excinfo.value) is expected
    assert server.query(f"{name}.{server.zone}", "A") == []


def test_key_of_another_zone_is_refused(bind_server: Any) -> None:
    zone = zone_of(bind_server, tsig_key_name=bind_server.other_key_name,
                   tsig_secret=bind_server.other_key_secret)
    with pytest.raises(DNSRefused, match="other-key"):
        make_backend().update(zone, unique("other"), "A", ["192.0.2.14"])


def test_name_outside_the_zone(server: Any) -> None:
    with pytest.raises(DNSNotZone, match="NOTZONE"):
        make_backend().update(zone_of(server), f"{unique('away')}.other.test.", "A", ["192.0.2.15"])


@pytest.mark.parametrize("changes", [
    {"tsig_secret": "not base64 at all!"},
    {"tsig_secret": "===="},
    {"tsig_algorithm": "hmac-sha3"},
    {"tsig_key_name": ""},
    {"nameserver": "ns1.example.org"},
    {"nameserver": ""},
])
def test_unusable_settings_are_config_errors(bind_server: Any, changes: dict[str, str]) -> None:
    zone = zone_of(bind_server, **changes)
    backend = make_backend()
    with pytest.raises(DNSConfigError) as excinfo:
        backend.update(zone, unique("config"), "A", ["192.0.2.16"])
    assert zone.tsig_secret not in str(excinfo.value)
    result = backend.check(zone)
    assert not result.ok
    assert result.message == str(excinfo.value)


def test_invalid_values_are_caller_errors(bind_server: Any) -> None:
    with pytest.raises(ValueError, match="invalid A value"):
        make_backend().update(zone_of(bind_server), unique("value"), "A", ["2001:db8::1"])
    with pytest.raises(ValueError, match="unknown record type"):
        make_backend().update(zone_of(bind_server), unique("value"), "NOPE", ["x"])


def test_check_with_bad_key(server: Any) -> None:
    result = make_backend().check(zone_of(server, tsig_secret=WRONG_SECRET))
    assert not result.ok
    assert "TSIG key" in result.message
    assert WRONG_SECRET not in result.message
    assert server.query(f"_nsupdate-check.{server.zone}", "TXT") == []


def test_check_zone_not_served(server: Any) -> None:
    result = make_backend().check(zone_of(server, name="example.invalid."))
    assert not result.ok
    assert "REFUSED" in result.message


def test_check_leaves_nothing_behind(server: Any) -> None:
    assert make_backend().check(zone_of(server)).ok
    assert server.query(f"_nsupdate-check.{server.zone}", "TXT") == []


def test_one_backend_many_threads(server: Any) -> None:
    backend, zone = make_backend(), zone_of(server)
    names = [unique("thread") for _ in range(8)]

    def work(index: int) -> list[str]:
        backend.update(zone, names[index], "A", [f"192.0.2.{100 + index}"])
        backend.update(zone, names[index], "TXT", [f"thread {index}"])
        return backend.query(zone, names[index], "A")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    assert results == [[f"192.0.2.{100 + index}"] for index in range(8)]


class CountingBackend(RFC2136Backend):
    """Counts the UPDATE messages that go out and how many changes each carried."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages: list[int] = []

    def _send_update(self, zone: ZoneInfo, target: Any, changes: list[Any], what: str) -> None:
        self.messages.append(len(changes))
        super()._send_update(zone, target, changes, what)


def counting_backend(**settings: str) -> CountingBackend:
    return CountingBackend.create_service("rfc2136", {"timeout": "2", **settings})


def test_concurrent_updates_share_messages(server: Any) -> None:
    """Group commit: callers arriving while a message is in flight go out together in the next."""
    backend, zone = counting_backend(), zone_of(server)
    names = [unique("batch") for _ in range(48)]
    start = threading.Barrier(16)

    def work(index: int) -> None:
        if index < 16:
            start.wait()
        backend.update(zone, names[index], "A", [f"192.0.2.{index + 1}"])
        if index % 3 == 0:
            backend.update(zone, names[index], "TXT", [f"change {index}"])

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, range(48)))
    for index, name in enumerate(names):
        assert server.query(f"{name}.{zone.name}", "A") == [f"192.0.2.{index + 1}"]
        if index % 3 == 0:
            assert txt_published(server, f"{name}.{zone.name}") == [f"change {index}"]
    assert sum(backend.messages) == 48 + 16
    assert len(backend.messages) < 48 + 16  # some messages carried several changes
    assert max(backend.messages) <= 16


def test_a_refused_name_fails_alone(bind_server: Any) -> None:
    """One bad change in a shared message must not take the good ones down with it."""
    backend, zone = counting_backend(), zone_of(bind_server)
    good = [unique("ok") for _ in range(6)]
    results: dict[str, Exception | None] = {}
    start = threading.Barrier(7)

    def work(name: str) -> None:
        start.wait()
        try:
            backend.update(zone, name, "A", ["192.0.2.77"])
            results[name] = None
        except Exception as error:
            results[name] = error

    with ThreadPoolExecutor(7) as pool:
        list(pool.map(work, [*good, "outside.example.org."]))
    assert isinstance(results.pop("outside.example.org."), DNSNotZone)
    assert results == dict.fromkeys(good)
    for name in good:
        assert bind_server.query(f"{name}.{zone.name}", "A") == ["192.0.2.77"]


def test_queued_callers_keep_their_own_budget() -> None:
    """Behind a message to a silent server, a waiting caller still fails within its budget."""
    port = free_port()
    zone = ZoneInfo(name="ddns.test.", nameserver="127.0.0.1", port=port)
    backend = make_backend(timeout="0.4")
    with silent_udp("127.0.0.1", port), silent_tcp("127.0.0.1", port):
        def work(index: int) -> tuple[type[Exception], float]:
            started = time.monotonic()
            with pytest.raises(DNSTimeout) as excinfo:
                backend.update(zone, f"queued{index}", "A", ["192.0.2.22"])
            return type(excinfo.value), time.monotonic() - started

        with ThreadPoolExecutor(6) as pool:
            outcomes = list(pool.map(work, range(6)))
    assert all(kind is DNSTimeout and elapsed < 0.4 + 0.3 for kind, elapsed in outcomes)


# -- nameserver2 and unreachable servers --------------------------------------------------------


def test_query_asks_nameserver2_first(server: Any) -> None:
    backend, name = make_backend(), unique("ns2")
    backend.update(zone_of(server), name, "A", ["192.0.2.17"])
    # The primary is unreachable: the answer can only have come from nameserver2.
    zone = zone_of(server, nameserver=UNUSED_LOOPBACK, nameserver2=server.host)
    assert backend.query(zone, name, "A") == ["192.0.2.17"]


def test_query_falls_back_to_the_primary(server: Any) -> None:
    name = unique("fallback")
    # Set up with the usual budget: Knot now and then holds an UPDATE answer until the next whole second.
    make_backend().update(zone_of(server), name, "A", ["192.0.2.18"])
    zone = zone_of(server, nameserver2=UNUSED_LOOPBACK)
    start = time.monotonic()
    assert make_backend(timeout="1").query(zone, name, "A") == ["192.0.2.18"]
    assert time.monotonic() - start < 0.5  # "port unreachable" moved on at once, no waiting


def test_silent_nameserver2_leaves_time_for_the_primary(bind_server: Any) -> None:
    backend, name = make_backend(timeout="1"), unique("silent2")
    make_backend().update(zone_of(bind_server), name, "A", ["192.0.2.19"])
    with silent_udp("127.0.0.3", bind_server.port):
        start = time.monotonic()
        answer = backend.query(zone_of(bind_server, nameserver2="127.0.0.3"), name, "A")
        elapsed = time.monotonic() - start
    assert answer == ["192.0.2.19"]
    assert 0.4 < elapsed < 1 + 0.5  # half the budget waited on nameserver2, then the primary answered


@pytest.mark.parametrize("tcp", ["auto", "always"])
def test_nothing_listening_fails_within_the_budget(tcp: str) -> None:
    zone = ZoneInfo(name="ddns.test.", nameserver="127.0.0.1", port=free_port(),
                    tsig_key_name="ddns-key.", tsig_algorithm="hmac-sha256", tsig_secret=WRONG_SECRET)
    backend = make_backend(timeout="1", tcp=tcp)
    for call in (lambda: backend.update(zone, "dead", "A", ["192.0.2.20"]),
                 lambda: backend.delete(zone, "dead", "A"),
                 lambda: backend.query(zone, "dead", "A")):
        start = time.monotonic()
        with pytest.raises((DNSTimeout, DNSNetworkError)) as excinfo:
            call()
        assert time.monotonic() - start < 1 + 0.5
        assert f"127.0.0.1:{zone.port}" in str(excinfo.value)
        assert "ddns.test." in str(excinfo.value)
    result = backend.check(zone)
    assert not result.ok
    assert f"127.0.0.1:{zone.port}" in result.message


@pytest.mark.parametrize("tcp", ["auto", "always"])
def test_silent_nameserver_times_out_within_the_budget(tcp: str) -> None:
    port = free_port()
    zone = ZoneInfo(name="ddns.test.", nameserver="127.0.0.1", nameserver2="127.0.0.1", port=port)
    backend = make_backend(timeout="0.3", tcp=tcp)
    with silent_udp("127.0.0.1", port), silent_tcp("127.0.0.1", port):
        for call in (lambda: backend.update(zone, "quiet", "A", ["192.0.2.21"]),
                     lambda: backend.query(zone, "quiet", "A")):
            start = time.monotonic()
            with pytest.raises(DNSTimeout, match=r"timed out after 0\.3 s"):
                call()
            assert 0.25 < time.monotonic() - start < 0.3 + 0.5


# -- answers the real servers will not give on demand ---------------------------------------------


def test_truncated_udp_answer_is_retried_over_tcp() -> None:
    def handle(request: dns.message.Message, over_tcp: bool) -> dns.message.Message:
        response = dns.message.make_response(request)
        response.flags |= dns.flags.AA
        if over_tcp:
            response.answer.append(dns.rrset.from_text(request.question[0].name, 60, "IN", "A", "192.0.2.22"))
        else:
            response.flags |= dns.flags.TC
        return response

    with fake_nameserver(handle) as port:
        zone = ZoneInfo(name="ddns.test.", nameserver="127.0.0.1", port=port)
        assert make_backend().query(zone, "big", "A") == ["192.0.2.22"]


def test_check_wants_an_authoritative_answer() -> None:
    def handle(request: dns.message.Message, over_tcp: bool) -> dns.message.Message:
        response = dns.message.make_response(request)  # no AA: e.g. a resolver's cached copy
        soa = "ns1.ddns.test. hostmaster.ddns.test. 1 3600 600 86400 60"
        response.answer.append(dns.rrset.from_text(request.question[0].name, 60, "IN", "SOA", soa))
        return response

    with fake_nameserver(handle) as port:
        result = make_backend().check(ZoneInfo(name="ddns.test.", nameserver="127.0.0.1", port=port))
    assert not result.ok
    assert "not authoritative" in result.message


@pytest.mark.parametrize(("rcode", "error", "words"), [
    (dns.rcode.SERVFAIL, DNSServFail, "SERVFAIL"),
    (dns.rcode.NXDOMAIN, DNSServFail, "NXDOMAIN"),
    (dns.rcode.REFUSED, DNSRefused, "REFUSED"),
    (dns.rcode.NOTAUTH, DNSBadKey, "NOTAUTH"),
    (dns.rcode.NOTZONE, DNSNotZone, "NOTZONE"),
])
def test_update_rcodes(rcode: int, error: type[Exception], words: str) -> None:
    def handle(request: dns.message.Message, over_tcp: bool) -> dns.message.Message:
        response = dns.message.make_response(request)
        response.set_rcode(rcode)
        return response

    with fake_nameserver(handle) as port:
        zone = ZoneInfo(name="ddns.test.", nameserver="127.0.0.1", port=port)
        with pytest.raises(error, match=words):
            make_backend().update(zone, "host", "A", ["192.0.2.23"])


# -- fakes ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def silent_udp(host: str, port: int) -> Iterator[None]:
    """A UDP socket that takes queries and never answers (no ICMP refusal either): pure silence."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, port))
        yield


@contextlib.contextmanager
def silent_tcp(host: str, port: int) -> Iterator[None]:
    """A TCP socket whose backlog completes connections that then never get an answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, port))
        sock.listen(8)
        yield


Handler = Callable[[dns.message.Message, bool], dns.message.Message]


@contextlib.contextmanager
def fake_nameserver(handle: Handler) -> Iterator[int]:
    """A tiny UDP+TCP DNS server on a free loopback port, answering with ``handle(request, over_tcp)``."""
    port = free_port()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp.bind(("127.0.0.1", port))
    tcp.bind(("127.0.0.1", port))
    tcp.listen(8)
    udp.settimeout(0.05)
    tcp.settimeout(0.05)
    stop = threading.Event()

    def serve_udp() -> None:
        while not stop.is_set():
            try:
                wire, peer = udp.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            udp.sendto(handle(dns.message.from_wire(wire), False).to_wire(), peer)

    def serve_tcp() -> None:
        while not stop.is_set():
            try:
                conn, _ = tcp.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(2)
                (length,) = struct.unpack("!H", conn.recv(2))
                wire = conn.recv(length)
                answer = handle(dns.message.from_wire(wire), True).to_wire()
                conn.sendall(struct.pack("!H", len(answer)) + answer)

    threads = [threading.Thread(target=serve, daemon=True) for serve in (serve_udp, serve_tcp)]
    for thread in threads:
        thread.start()
    try:
        yield port
    finally:
        stop.set()
        for thread in threads:
            thread.join(1)
        udp.close()
        tcp.close()
