"""RFC 2136 dynamic UPDATE with TSIG, for any real primary nameserver (BIND, PowerDNS, Knot...).

Why it looks the way it does:

- One instance serves every domain that names it, from many threads, so it keeps no
  per-call state: each call builds its own message, keyring and sockets.
- A call has one time budget (``timeout``) that covers every attempt, so a dead
  nameserver delays an update request by at most that much, whatever the retries.
- The three common servers report the same mistake in different ways (BIND and Knot
  answer NOTAUTH with a TSIG error, PowerDNS answers REFUSED without any TSIG, which
  dnspython reports as a FormError): all of them become the same typed error from
  :mod:`nsupdate_pyramid.dns.errors`, with a message naming zone and nameserver, never the secret.
"""
from __future__ import annotations

import base64
import binascii
import functools
import math
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.tsig
import dns.tsigkeyring
import dns.update
from zope.interface import implementer

from ..interfaces import IDNSBackend
from . import updatewire
from .errors import (
    DNSBackendError,
    DNSBadKey,
    DNSConfigError,
    DNSNetworkError,
    DNSNotZone,
    DNSRefused,
    DNSServFail,
    DNSTimeout,
)
from .zone import CheckResult, ZoneInfo

#: The names people write in BIND/Knot/PowerDNS configs, mapped to what goes on the wire.
#: dnspython needs the wire name: plain "hmac-md5" would fail at signing time.
TSIG_ALGORITHMS: dict[str, dns.name.Name] = {
    "hmac-md5": dns.tsig.HMAC_MD5,
    "hmac-md5.sig-alg.reg.int": dns.tsig.HMAC_MD5,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha256-128": dns.tsig.HMAC_SHA256_128,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha384-192": dns.tsig.HMAC_SHA384_192,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
    "hmac-sha512-256": dns.tsig.HMAC_SHA512_256,
}

TCP_MODES = ("auto", "always")
CHECK_LABEL = "_nsupdate-check"
#: Most RRset changes one UPDATE message carries when concurrent requests share it.
MAX_BATCH = 16
#: Above this size a request goes over TCP (no EDNS in UPDATE requests; 512 is the plain limit).
MAX_UDP_REQUEST = 512

#: TSIG failures detected by dnspython while reading a signed answer.
_TSIG_ERRORS: tuple[type[Exception], ...] = (
    dns.tsig.PeerError,  # PeerBadKey, PeerBadSignature, PeerBadTime, PeerBadTruncation
    dns.tsig.BadSignature,
    dns.tsig.BadTime,
    dns.tsig.BadKey,
    dns.tsig.BadAlgorithm,
    dns.message.UnknownTSIGKey,
    dns.message.BadTSIG,
)


def _tsig_error_name(exc: Exception) -> str:
    """The TSIG error as operators know it from server logs (BADSIG, BADKEY, BADTIME)."""
    names = {
        dns.tsig.PeerBadKey: "BADKEY",
        dns.tsig.PeerBadSignature: "BADSIG",
        dns.tsig.PeerBadTime: "BADTIME",
        dns.tsig.PeerBadTruncation: "BADTRUNC",
        dns.tsig.BadSignature: "bad signature on the answer",
        dns.tsig.BadTime: "answer signed at a time outside the allowed fudge",
        dns.tsig.BadKey: "answer signed with another key",
        dns.tsig.BadAlgorithm: "answer signed with another algorithm",
        dns.message.UnknownTSIGKey: "answer signed with an unknown key",
    }
    for cls, name in names.items():
        if isinstance(exc, cls):
            return name
    return type(exc).__name__


@dataclass(frozen=True)
class _Target:
    """Everything one operation needs, resolved and validated once per call."""

    zone: dns.name.Name
    keyring: dict[dns.name.Name, dns.tsig.Key] | None
    keyname: dns.name.Name | None
    label: str  # the zone as people wrote it, for messages

    @functools.cached_property
    def signing_key(self) -> updatewire.SigningKey | None:
        """The key for the fast wire path; None for algorithms only dnspython computes."""
        if self.keyring is None or self.keyname is None:
            return None
        return updatewire.SigningKey.from_dnspython(self.keyring[self.keyname])

    @property
    def signed(self) -> bool:
        return self.keyring is not None


@dataclass
class _Change:
    """One RRset replacement or deletion, waiting to go out in an UPDATE message."""

    owner: dns.name.Name
    zone: dns.name.Name
    rdtype: dns.rdatatype.RdataType
    rdatas: list[dns.rdata.Rdata] | None  # None: delete the RRset
    ttl: int
    deadline: float
    done: bool = False
    error: DNSBackendError | None = None

    @property
    def what(self) -> str:
        """For messages only: built when something went wrong, not on every update."""
        action = "delete" if self.rdatas is None else "update"
        return f"{action} of {_fqdn(self.owner, self.zone)} {dns.rdatatype.to_text(self.rdtype)}"

    def add_to(self, message: dns.update.UpdateMessage) -> None:
        message.delete(self.owner, self.rdtype)
        if self.rdatas:
            message.add(self.owner, self.ttl, *self.rdatas)


@dataclass
class _Batch:
    """Changes for one zone (same server and key) queued while an earlier message is in flight.

    Group commit: the first caller sends at once; callers that arrive meanwhile are sent
    together in the next message. A nameserver does most of its work per message (TSIG,
    journal, serial), so under load this multiplies what it can take, and alone a caller
    waits for nothing.
    """

    ready: threading.Condition = field(default_factory=threading.Condition)
    pending: list[_Change] = field(default_factory=list)
    sending: bool = False


def _parse_timeout(value: Any) -> float:
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        timeout = math.nan
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {value!r}")
    return timeout


def _parse_ttl(value: Any) -> int:
    try:
        ttl = int(str(value).strip())
    except ValueError:
        ttl = -1
    if not 0 <= ttl <= 2**31 - 1:
        raise ValueError(f"default_ttl must be a whole number of seconds (0 to 2147483647), got {value!r}")
    return ttl


@implementer(IDNSBackend)
class RFC2136Backend:
    """Publishes records on a real primary nameserver through RFC 2136 UPDATE messages."""

    def __init__(self, name: str, *, timeout: float | str = 3.0, tcp: str = "auto",
                 default_ttl: int | str = 60) -> None:
        self.name = name
        self.timeout = _parse_timeout(timeout)
        if tcp not in TCP_MODES:
            raise ValueError(f"tcp must be one of {', '.join(TCP_MODES)}, got {tcp!r}")
        self.tcp = tcp
        self.default_ttl = _parse_ttl(default_ttl)
        self._batches: dict[ZoneInfo, _Batch] = {}
        self._batches_lock = threading.Lock()

    @classmethod
    def create_service(cls, name: str, settings: dict[str, Any]) -> RFC2136Backend:
        """Build from the ``dns.backend.<name>.*`` keys, so a typo fails at startup, not at update time."""
        try:
            return cls(
                name,
                timeout=settings.get("timeout", 3.0),
                tcp=str(settings.get("tcp", "auto")).strip().lower(),
                default_ttl=settings.get("default_ttl", 60),
            )
        except ValueError as exc:
            raise ValueError(f"dns.backend.{name}: {exc}") from None

    # -- IDNSBackend -------------------------------------------------------------------------

    def update(self, zone: ZoneInfo, name: str, rdtype: str, values: Sequence[str],
               ttl: int | None = None) -> None:
        """Replace the RRset in one message, so readers never see it half-updated or empty."""
        target = self._target(zone)
        rdtype_value = _rdtype(rdtype)
        owner = _owner(name, target.zone)
        rdatas = [_make_rdata(rdtype_value, value) for value in values]
        self._submit(zone, target, _Change(owner, target.zone, rdtype_value, rdatas,
                                           ttl or zone.ttl or self.default_ttl,
                                           time.monotonic() + self.timeout))

    def delete(self, zone: ZoneInfo, name: str, rdtype: str) -> None:
        """Delete the RRset; servers answer NOERROR when it is absent, which suits an idempotent call."""
        target = self._target(zone)
        owner = _owner(name, target.zone)
        self._submit(zone, target, _Change(owner, target.zone, _rdtype(rdtype), None, 0,
                                           time.monotonic() + self.timeout))

    def query(self, zone: ZoneInfo, name: str, rdtype: str) -> list[str]:
        """Ask the secondary first (spares the primary), the primary if it does not answer."""
        target = self._target(zone, need_key=False)
        rdtype_value = _rdtype(rdtype)
        qname = _owner(name, target.zone).derelativize(target.zone)
        servers = [server.strip() for server in (zone.nameserver2, zone.nameserver) if server.strip()]
        if not servers:
            raise DNSConfigError(f"zone {target.label}: no nameserver configured")
        request = dns.message.make_query(qname, rdtype_value)
        request.flags &= ~dns.flags.RD
        response, server = self._exchange(zone, target, request, servers, f"query for {qname} {rdtype}")
        rcode = response.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            return []
        if rcode != dns.rcode.NOERROR:
            raise _rcode_error(rcode, target, server, zone.port, f"query for {qname} {rdtype}", update=False)
        rrset = response.get_rrset(response.answer, qname, dns.rdataclass.IN, rdtype_value)
        return sorted(_rdata_text(rdata) for rdata in rrset) if rrset else []

    def check(self, zone: ZoneInfo) -> CheckResult:
        """Prove the whole path (reachable, authoritative, key accepted) without touching real hosts."""
        try:
            target = self._target(zone)
            unsigned = replace(target, keyring=None, keyname=None)  # queries go out unsigned
            server = zone.nameserver.strip()
            request = dns.message.make_query(target.zone, dns.rdatatype.SOA)
            request.flags &= ~dns.flags.RD
            what = f"SOA query for {target.label}"
            response, _ = self._exchange(zone, unsigned, request, [server], what)
            rcode = response.rcode()
            if rcode != dns.rcode.NOERROR:
                raise _rcode_error(rcode, unsigned, server, zone.port, what, update=False)
            if not response.flags & dns.flags.AA:
                return CheckResult(False, f"zone {target.label}: {_where(server, zone.port)} answered "
                                          f"but is not authoritative for the zone (no AA flag)")
            if not response.get_rrset(response.answer, target.zone, dns.rdataclass.IN, dns.rdatatype.SOA):
                return CheckResult(False, f"zone {target.label}: {_where(server, zone.port)} "
                                          f"has no SOA record for the zone")
            self.update(zone, CHECK_LABEL, "TXT", [f"nsupdate check {uuid.uuid4().hex}"], ttl=1)
            self.delete(zone, CHECK_LABEL, "TXT")
        except DNSBackendError as exc:
            return CheckResult(False, exc.message)
        how = f"with TSIG key {zone.tsig_key_name}" if target.signed else "without TSIG"
        return CheckResult(True, f"zone {target.label}: {_where(server, zone.port)} is authoritative "
                                 f"and accepts updates {how}")

    # -- internals ---------------------------------------------------------------------------

    def _target(self, zone: ZoneInfo, *, need_key: bool = True) -> _Target:
        return _validated_target(zone, need_key)

    def _submit(self, zone: ZoneInfo, target: _Target, change: _Change) -> None:
        """Queue the change; whoever finds no message in flight sends what is queued."""
        with self._batches_lock:
            batch = self._batches.setdefault(zone, _Batch())
        with batch.ready:
            batch.pending.append(change)
        while True:
            with batch.ready:
                while batch.sending and not change.done:
                    left = change.deadline - time.monotonic()
                    if left <= 0 and change in batch.pending:  # a message in flight took our budget
                        batch.pending.remove(change)
                        raise DNSTimeout(f"zone {target.label}: {change.what}: no answer from "
                                         f"{_where(zone.nameserver.strip(), zone.port)}, "
                                         f"timed out after {self.timeout:g} s")
                    # Once taken into a message, its deadline (ours at the latest) bounds the wait.
                    batch.ready.wait(max(left, 0.01))
                if change.done:
                    break
                batch.sending = True
                changes, batch.pending = batch.pending[:MAX_BATCH], batch.pending[MAX_BATCH:]
            try:
                self._send_changes(zone, target, changes)
            except BaseException:
                for each in changes:  # nobody may take a crash for a success
                    each.error = DNSServFail(f"zone {target.label}: {each.what}: internal error")
                raise
            finally:
                with batch.ready:
                    for each in changes:
                        each.done = True
                    batch.sending = False
                    batch.ready.notify_all()
        if change.error is not None:
            raise change.error

    def _send_changes(self, zone: ZoneInfo, target: _Target, changes: list[_Change]) -> None:
        """One message for all; if it is refused, each alone, so every caller learns its own fate."""
        try:
            self._send_update(zone, target, changes, changes[0].what if len(changes) == 1
                              else f"update of {len(changes)} names")
        except DNSBackendError as error:
            if len(changes) == 1 or error.trips_breaker:  # the server or key, not one name
                for change in changes:  # one instance each: threads raise them concurrently
                    change.error = error if len(changes) == 1 else type(error)(error.message)
                return
            for change in changes:
                try:
                    self._send_update(zone, target, [change], change.what)
                except DNSBackendError as own:
                    change.error = own

    def _send_update(self, zone: ZoneInfo, target: _Target, changes: list[_Change],
                     what: str) -> None:
        server = zone.nameserver.strip()
        rcode = self._send_update_fast(zone, target, changes, what)
        if rcode is not None:
            if rcode != dns.rcode.NOERROR:
                raise _rcode_error(rcode, target, server, zone.port, what, update=True)
            return
        message = dns.update.UpdateMessage(target.zone, keyring=target.keyring, keyname=target.keyname)
        for change in changes:
            change.add_to(message)
        deadline = min(change.deadline for change in changes)
        large = len(changes) > 1 and len(message.to_wire()) > MAX_UDP_REQUEST
        response, _ = self._exchange(zone, target, message, [server], what, deadline=deadline,
                                     tcp=large)
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            raise _rcode_error(rcode, target, server, zone.port, what, update=True)

    def _send_update_fast(self, zone: ZoneInfo, target: _Target, changes: list[_Change],
                          what: str) -> int | None:
        """The UPDATE over UDP in hand-made wire format (see updatewire); the answer's RCODE.

        None when this path does not apply (TCP wanted, a large message, a key algorithm
        only dnspython computes, a truncated answer): then dnspython sends it as before.
        """
        if self.tcp == "always" or (target.signed and target.signing_key is None):
            return None
        request = updatewire.render(target.zone, (
            updatewire.RRsetChange(change.owner.derelativize(target.zone).to_wire(), change.rdtype,
                                   change.ttl, tuple(r.to_digestable() for r in change.rdatas or ()))
            for change in changes), target.signing_key)
        if len(request.wire) > MAX_UDP_REQUEST:
            return None
        server = zone.nameserver.strip()
        where = _where(server, zone.port)
        deadline = min(change.deadline for change in changes)

        def exchange() -> bytes:
            with socket.socket(dns.inet.af_for_address(server), socket.SOCK_DGRAM) as sock:
                # Connected: "port unreachable" is reported at once, other senders are dropped.
                sock.connect((server, zone.port))
                sock.send(request.wire)
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise dns.exception.Timeout
                    sock.settimeout(left)
                    try:
                        wire = sock.recv(65535)
                    except TimeoutError:
                        raise dns.exception.Timeout from None
                    if wire[:2] == request.wire[:2]:  # a late answer to an earlier try: ignore
                        return wire

        try:
            wire = _guarded(exchange, target, where, what, self.timeout)
        except DNSNetworkError:
            return None  # e.g. UDP refused: the usual path tries TCP too
        rcode = updatewire.quick_rcode(request, wire)
        if rcode is not None:
            return rcode
        # Anything but a plain signed answer: let dnspython read it, for its precise errors.
        response = _guarded(lambda: dns.message.from_wire(
            wire, keyring=target.keyring, request_mac=request.mac or b""), target, where, what,
            self.timeout)
        if response.flags & dns.flags.TC:
            return None
        if response.opcode() != dns.opcode.UPDATE or not response.flags & dns.flags.QR or (
                response.zone and response.zone[0].name != target.zone):
            raise DNSServFail(f"zone {target.label}: {what}: {where} sent an answer that does not "
                              f"match the request")
        return response.rcode()

    def _exchange(self, zone: ZoneInfo, target: _Target, message: dns.message.Message,
                  servers: list[str], what: str, *, deadline: float | None = None,
                  tcp: bool = False) -> tuple[dns.message.Message, str]:
        """Send to each server in turn until one answers, sharing one deadline among them.

        Each server gets an equal share of what is left, so a silent first server still leaves
        time for the second. Only silence and network errors move on to the next server: an
        answer, even an error, is the server's final word.
        """
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        failures: list[DNSBackendError] = []
        for index, server in enumerate(servers):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            share = remaining / (len(servers) - index)
            try:
                return self._send(message, server, zone.port, time.monotonic() + share, target, what,
                                  tcp=tcp), server
            except (DNSTimeout, DNSNetworkError) as exc:
                failures.append(exc)
        if len(failures) == 1:
            raise failures[0]
        if failures and all(isinstance(exc, DNSNetworkError) for exc in failures):
            raise DNSNetworkError("; ".join(exc.message for exc in failures))
        places = " or ".join(_where(server, zone.port) for server in servers)
        raise DNSTimeout(f"zone {target.label}: {what}: no answer from {places}, "
                         f"timed out after {self.timeout:g} s")

    def _send(self, message: dns.message.Message, server: str, port: int, deadline: float,
              target: _Target, what: str, *, tcp: bool = False) -> dns.message.Message:
        """One server, UDP first unless told otherwise, TCP when UDP cannot carry the answer."""
        where = _where(server, port)

        def remaining() -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise dns.exception.Timeout
            return left

        def guarded(send: Callable[[], dns.message.Message]) -> dns.message.Message:
            return _guarded(send, target, where, what, self.timeout)

        def over_tcp() -> dns.message.Message:
            return guarded(lambda: dns.query.tcp(message, server, timeout=remaining(), port=port))

        def over_udp() -> dns.message.Message:
            # A connected socket, so the kernel reports "port unreachable" at once (an unconnected
            # one would wait out the whole timeout) and drops datagrams from any other address.
            with socket.socket(dns.inet.af_for_address(server), socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.connect((server, port))
                return dns.query.udp(message, server, timeout=remaining(), port=port, sock=sock,
                                     raise_on_truncation=True)

        if tcp or self.tcp == "always":
            return over_tcp()
        try:
            return guarded(over_udp)
        except (dns.message.Truncated, DNSNetworkError):
            return over_tcp()


# -- helpers ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _validated_target(zone: ZoneInfo, need_key: bool) -> _Target:
    """Validate the zone's settings up front: a bad secret must not look like a network failure.

    Cached per zone settings (ZoneInfo is an immutable value): parsing the names and building
    the keyring on every update cost a third of the round trip. Failures are not cached.
    """
    label = zone.name or "(unnamed)"
    try:
        zone_name = dns.name.from_text(zone.name.strip() or ".")
    except dns.exception.DNSException as exc:
        raise DNSConfigError(f"zone {label}: not a valid DNS name ({exc})") from None
    if zone_name == dns.name.root:
        raise DNSConfigError(f"zone {label}: no zone name configured")
    for server in (zone.nameserver, zone.nameserver2):
        if server.strip():
            try:
                dns.inet.af_for_address(server.strip())
            except ValueError:
                raise DNSConfigError(
                    f"zone {label}: nameserver {server!r} is not an IP address") from None
    if not zone.nameserver.strip() and need_key:
        raise DNSConfigError(f"zone {label}: no primary nameserver configured")
    if not 0 < zone.port < 65536:
        raise DNSConfigError(f"zone {label}: nameserver port {zone.port} out of range")
    if not need_key or not zone.tsig_secret.strip():
        return _Target(zone_name, None, None, label)
    return _Target(zone_name, *_keyring(zone, label), label)


def _keyring(zone: ZoneInfo, label: str) -> tuple[dict[dns.name.Name, dns.tsig.Key], dns.name.Name]:
    """Check key name, algorithm and secret here, as dnspython would accept a garbled secret silently."""
    algorithm_text = zone.tsig_algorithm.strip().lower().rstrip(".")
    algorithm = TSIG_ALGORITHMS.get(algorithm_text)
    if algorithm is None:
        known = ", ".join(name for name in TSIG_ALGORITHMS if "." not in name)
        raise DNSConfigError(f"zone {label}: unknown TSIG algorithm {zone.tsig_algorithm!r} (known: {known})")
    secret = "".join(zone.tsig_secret.split())
    try:
        if not base64.b64decode(secret, validate=True):
            raise ValueError("empty")
    except (binascii.Error, ValueError):
        raise DNSConfigError(f"zone {label}: the TSIG secret of key {zone.tsig_key_name or '(unnamed)'} "
                             f"is not valid base64") from None
    key_name = zone.tsig_key_name.strip()
    if not key_name:
        raise DNSConfigError(f"zone {label}: a TSIG secret is set but no key name")
    try:
        keyring = dns.tsigkeyring.from_text({key_name: (algorithm.to_text(), secret)})
    except dns.exception.DNSException as exc:
        raise DNSConfigError(
            f"zone {label}: TSIG key name {key_name!r} is not a valid DNS name ({exc})") from None
    (keyname,) = keyring
    return keyring, keyname


def _guarded(send: Callable[[], Any], target: _Target, where: str, what: str, timeout: float) -> Any:
    """Run one exchange with a server; every way it can fail becomes a typed backend error."""
    try:
        return send()
    except dns.exception.Timeout:
        raise DNSTimeout(f"zone {target.label}: {what}: no answer from {where}, "
                         f"timed out after {timeout:g} s") from None
    except dns.message.Truncated:
        raise
    except (OSError, EOFError, dns.query.UnexpectedSource) as exc:
        raise DNSNetworkError(
            f"zone {target.label}: {what}: cannot reach {where} ({_reason(exc)})") from None
    except _TSIG_ERRORS as exc:
        raise _bad_key(target, where, what, _tsig_error_name(exc)) from None
    except dns.query.BadResponse:
        raise DNSServFail(f"zone {target.label}: {what}: {where} sent an answer that does not "
                          f"match the request") from None
    except dns.exception.FormError as exc:
        if target.signed:
            # PowerDNS rejects a bad key with a plain REFUSED that carries no TSIG at all.
            raise _bad_key(target, where, what, "the answer carries no TSIG signature") from None
        raise DNSServFail(
            f"zone {target.label}: {what}: malformed answer from {where} ({exc})") from None
    except NotImplementedError as exc:  # an algorithm dnspython cannot compute
        raise DNSConfigError(f"zone {target.label}: {exc}") from None
    except dns.exception.DNSException as exc:
        raise DNSServFail(f"zone {target.label}: {what}: {where} failed ({exc})") from None


def _rdtype(rdtype: str) -> dns.rdatatype.RdataType:
    try:
        return dns.rdatatype.from_text(rdtype)
    except dns.exception.DNSException:
        raise ValueError(f"unknown record type {rdtype!r}") from None


@functools.lru_cache(maxsize=4096)
def _owner(name: str, zone: dns.name.Name) -> dns.name.Name:
    """Names are relative to the zone; an absolute name (trailing dot) is left to the server to judge."""
    text = name.strip()
    if text in ("", "@"):
        return dns.name.empty
    try:
        owner = dns.name.from_text(text, origin=None)
    except dns.exception.DNSException as exc:
        raise ValueError(f"invalid record name {name!r}: {exc}") from None
    return owner


def _fqdn(owner: dns.name.Name, zone: dns.name.Name) -> str:
    return owner.derelativize(zone).to_text()


def _make_rdata(rdtype: dns.rdatatype.RdataType, value: str) -> dns.rdata.Rdata:
    """TXT values are taken literally (quotes, spaces, backslashes), split in 255-byte strings."""
    if rdtype == dns.rdatatype.TXT:
        data = value.encode("utf-8")
        chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)
    try:
        if rdtype == dns.rdatatype.A:  # the common case, without the zone-file tokenizer
            return dns.rdtypes.IN.A.A(dns.rdataclass.IN, rdtype, value.strip())
        if rdtype == dns.rdatatype.AAAA:
            return dns.rdtypes.IN.AAAA.AAAA(dns.rdataclass.IN, rdtype, value.strip())
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype, value.strip())
    except (dns.exception.DNSException, ValueError) as exc:
        raise ValueError(f"invalid {dns.rdatatype.to_text(rdtype)} value {value!r}: {exc}") from None


def _rdata_text(rdata: dns.rdata.Rdata) -> str:
    """TXT as the plain string that was stored (strings joined, unquoted); others in canonical text."""
    if rdata.rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", errors="replace")
    return rdata.to_text()


def _reason(exc: Exception) -> str:
    """"Connection refused" rather than "[Errno 111] Connection refused"."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _where(server: str, port: int) -> str:
    return f"[{server}]:{port}" if ":" in server else f"{server}:{port}"


def _bad_key(target: _Target, where: str, what: str, detail: str) -> DNSBadKey:
    if not target.signed:
        return DNSBadKey(f"zone {target.label}: {what}: {where} requires a TSIG key ({detail}): "
                         f"set key name, algorithm and secret")
    return DNSBadKey(f"zone {target.label}: {what}: TSIG key {target.keyname} rejected by {where} "
                     f"({detail}): check key name, algorithm and secret")


def _rcode_error(rcode: int, target: _Target, server: str, port: int, what: str, *,
                 update: bool) -> DNSBackendError:
    where = _where(server, port)
    text = dns.rcode.to_text(rcode)
    if rcode == dns.rcode.REFUSED:
        if not update:
            return DNSRefused(f"zone {target.label}: {what}: refused by {where} (REFUSED): "
                              f"is it a nameserver of the zone?")
        who = f"TSIG key {target.keyname}" if target.signed else "unsigned updates"
        return DNSRefused(f"zone {target.label}: {what}: refused by {where} (REFUSED): the server does not "
                          f"allow {who} to change this name")
    if rcode == dns.rcode.NOTAUTH:
        if not update:
            return DNSBadKey(
                f"zone {target.label}: {what}: {where} is not authoritative for the zone (NOTAUTH)")
        return _bad_key(target, where, what, "NOTAUTH")
    if rcode == dns.rcode.NOTZONE:
        return DNSNotZone(f"zone {target.label}: {what}: {where} says the name is not in the zone (NOTZONE)")
    return DNSServFail(f"zone {target.label}: {what}: {where} answered {text}")
