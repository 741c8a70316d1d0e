"""RFC 2136 UPDATE requests and their answers in wire format, signed and checked with TSIG
(RFC 8945), for the common case of the update API's hot path.

Why not dnspython's message classes here: rendering and parsing one signed UPDATE with them
took about 0.45 ms of CPU, more than everything else a good update does together, and the
API runs one Python thread at a time. An UPDATE that replaces a few RRsets is simple to
write out, and checking the answer's MAC needs no general parser. Anything unusual (a
truncated or unsigned answer, a TSIG error, an extra record, a name we did not expect) is
handed back to dnspython by returning ``None``, so errors keep dnspython's precise
diagnosis; the tests check both directions against dnspython and real servers.
"""
from __future__ import annotations

import hmac
import os
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass

import dns.name
import dns.tsig

OPCODE_UPDATE = 5
FLAGS_UPDATE = OPCODE_UPDATE << 11
FLAG_QR, FLAG_TC = 0x8000, 0x0200
TYPE_SOA, TYPE_TSIG = 6, 250
CLASS_IN, CLASS_ANY = 1, 255
FUDGE = 300  # seconds of clock difference accepted, as dnspython and BIND use

#: The HMACs RFC 8945 requires, by their wire names; truncated ones are left to dnspython.
HASHES: dict[dns.name.Name, str] = {
    dns.tsig.HMAC_MD5: "md5",
    dns.tsig.HMAC_SHA1: "sha1",
    dns.tsig.HMAC_SHA224: "sha224",
    dns.tsig.HMAC_SHA256: "sha256",
    dns.tsig.HMAC_SHA384: "sha384",
    dns.tsig.HMAC_SHA512: "sha512",
}


@dataclass(frozen=True)
class SigningKey:
    """A TSIG key as the wire needs it (names lower-cased: MACs cover the canonical form)."""

    name: bytes
    algorithm: bytes
    secret: bytes
    digest: str

    @classmethod
    def from_dnspython(cls, key: dns.tsig.Key) -> SigningKey | None:
        digest = HASHES.get(key.algorithm)
        if digest is None:
            return None
        return cls(key.name.canonicalize().to_wire(), key.algorithm.canonicalize().to_wire(),
                   key.secret, digest)


@dataclass(frozen=True)
class RRsetChange:
    """Delete the RRset ``owner``/``rdtype``, then add ``rdatas`` (none: a plain delete)."""

    owner: bytes  # absolute name, wire format
    rdtype: int
    ttl: int
    rdatas: tuple[bytes, ...]


@dataclass(frozen=True)
class Request:
    """A rendered UPDATE: what to send, and what its answer must match."""

    wire: bytes
    id: int
    zone_entry: bytes  # the zone section as sent, lower-cased, for matching the answer
    key: SigningKey | None
    mac: bytes


def render(zone: dns.name.Name, changes: Iterable[RRsetChange], key: SigningKey | None,
           now: float | None = None) -> Request:
    """The UPDATE message, signed when a key is given (MAC over message + TSIG variables)."""
    query_id = int.from_bytes(os.urandom(2), "big")
    zone_entry = zone.canonicalize().to_wire() + struct.pack("!HH", TYPE_SOA, CLASS_IN)
    body = [zone_entry]
    count = 0
    for change in changes:
        body.append(change.owner + struct.pack("!HHIH", change.rdtype, CLASS_ANY, 0, 0))
        for rdata in change.rdatas:
            body.append(change.owner + struct.pack("!HHIH", change.rdtype, CLASS_IN, change.ttl,
                                                   len(rdata)) + rdata)
        count += 1 + len(change.rdatas)
    payload = b"".join(body)
    unsigned = struct.pack("!HHHHHH", query_id, FLAGS_UPDATE, 1, 0, count, 0) + payload
    if key is None:
        return Request(unsigned, query_id, zone_entry, None, b"")
    signed_at = int(time.time() if now is None else now)
    times = struct.pack("!HIH", signed_at >> 32, signed_at & 0xFFFFFFFF, FUDGE)
    variables = (key.name + struct.pack("!HI", CLASS_ANY, 0) + key.algorithm + times
                 + struct.pack("!HH", 0, 0))
    mac = hmac.new(key.secret, unsigned + variables, key.digest).digest()
    rdata = (key.algorithm + times + struct.pack("!H", len(mac)) + mac
             + struct.pack("!HHH", query_id, 0, 0))
    tsig = key.name + struct.pack("!HHIH", TYPE_TSIG, CLASS_ANY, 0, len(rdata)) + rdata
    header = struct.pack("!HHHHHH", query_id, FLAGS_UPDATE, 1, 0, count, 1)
    return Request(header + payload + tsig, query_id, zone_entry, key, mac)


def _skip_name(wire: bytes, offset: int) -> int:
    """The offset after the (possibly compressed) name at ``offset``; ValueError if broken."""
    while True:
        length = wire[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length & 0xC0:
            raise ValueError("unknown label type")
        offset += 1 + length


def _plain_name(wire: bytes, offset: int) -> tuple[bytes, int]:
    """An uncompressed name, lower-cased, and the offset after it; ValueError if compressed."""
    end = offset
    while wire[end]:
        if wire[end] & 0xC0:
            raise ValueError("compressed")
        end += 1 + wire[end]
    return wire[offset:end + 1].lower(), end + 1


def quick_rcode(request: Request, wire: bytes, now: float | None = None) -> int | None:
    """The answer's RCODE when it is a plain, correctly signed answer to ``request``;
    None when anything needs a closer look (then dnspython parses it)."""
    try:
        answer_id, flags, zocount, prcount, upcount, arcount = struct.unpack_from("!HHHHHH", wire)
        if answer_id != request.id or not flags & FLAG_QR or flags & FLAG_TC \
                or (flags >> 11) & 0xF != OPCODE_UPDATE or zocount > 1:
            return None
        offset = 12
        if zocount:
            end = offset + len(request.zone_entry)
            if wire[offset:end].lower() != request.zone_entry:
                return None
            offset = end
        for _ in range(prcount + upcount):
            offset = _skip_name(wire, offset)
            (rdlength,) = struct.unpack_from("!H", wire, offset + 8)
            offset += 10 + rdlength
        key = request.key
        if key is None:
            return flags & 0xF if arcount == 0 and offset == len(wire) else None
        if arcount != 1:
            return None
        tsig_start = offset
        offset = _skip_name(wire, offset)
        rrtype, rrclass, _ttl, rdlength = struct.unpack_from("!HHIH", wire, offset)
        offset += 10
        if rrtype != TYPE_TSIG or rrclass != CLASS_ANY or offset + rdlength != len(wire):
            return None
        algorithm, offset = _plain_name(wire, offset)
        times = wire[offset:offset + 8]
        high, low, fudge, mac_size = struct.unpack_from("!HIHH", wire, offset)
        offset += 10
        mac = wire[offset:offset + mac_size]
        offset += mac_size
        original_id, error, other_size = struct.unpack_from("!HHH", wire, offset)
        rest = wire[offset + 2:]  # error, other length and other data, as the MAC covers them
        if algorithm != key.algorithm or error or original_id != request.id \
                or len(rest) != 4 + other_size:
            return None
        signed_at = (high << 32) | low
        if abs((time.time() if now is None else now) - signed_at) > fudge:
            return None
        header = struct.pack("!HHHHHH", original_id, flags, zocount, prcount, upcount, arcount - 1)
        variables = key.name + struct.pack("!HI", CLASS_ANY, 0) + key.algorithm + times + rest
        expected = hmac.new(key.secret, struct.pack("!H", len(request.mac)) + request.mac + header
                            + wire[12:tsig_start] + variables, key.digest).digest()
        if not hmac.compare_digest(expected, mac):
            return None
        return flags & 0xF
    except (struct.error, IndexError, ValueError):
        return None
