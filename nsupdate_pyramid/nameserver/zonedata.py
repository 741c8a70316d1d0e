"""The in-memory copy of the zones: built once per zone load, read by every query, never changed.

Compact on purpose (100k records must fit in tens of MiB, not hundreds): a name is a key of
plain bytes, its lower-cased wire form relative to the zone's origin (``b"\\x04host"``), and
its records are packed bytes (type, then rdata in wire form), one ``bytes`` for the usual
single record, a tuple of them otherwise. No dnspython object per record: the slow path builds
the RRsets of the names it is asked about, the fast path (:mod:`.fastpath`) keeps whole answers.

What is computed at load time: the SOA (plus its negative-caching variant), the split-horizon
variants and the empty non-terminals (which answer NODATA rather than NXDOMAIN).
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from .config import ServerConfig

log = logging.getLogger(__name__)

IN = dns.rdataclass.IN
A, AAAA, TXT, SOA = dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.TXT, dns.rdatatype.SOA
ADDRESS_TYPES = (A, AAAA)
TYPE = struct.Struct("!H")
WILDCARD_LABEL = b"\x01*"
APEX = b""

#: Packed records of one name: one ``type + rdata`` bytes, or a tuple of them.
Packed = bytes | tuple[bytes, ...]


@dataclass(frozen=True)
class RecordRow:
    """One row of the records table, as the source reads it."""

    name: str
    rtype: str
    data: str
    lan_data: str = ""


def make_rdata(rdtype: dns.rdatatype.RdataType, text: str, origin: dns.name.Name) -> dns.rdata.Rdata:
    """TXT is stored as the literal string (split in 255-byte pieces); others in master-file text."""
    if rdtype == TXT:
        data = text.encode("utf-8")
        chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
        return dns.rdtypes.ANY.TXT.TXT(IN, TXT, chunks)
    return dns.rdata.from_text(IN, rdtype, text, origin=origin, relativize=False)


def rdata_wire(rdtype: dns.rdatatype.RdataType, text: str, origin: dns.name.Name) -> bytes:
    """The rdata of one stored value in wire form; addresses without dnspython (the bulk)."""
    if rdtype == A:
        return socket.inet_pton(socket.AF_INET, text.strip())
    if rdtype == AAAA:
        return socket.inet_pton(socket.AF_INET6, text.strip())
    return make_rdata(rdtype, text, origin).to_wire()


def address_text(rdtype: int, wire: bytes) -> str:
    """The canonical text of an A/AAAA rdata: what source addresses are compared with."""
    return str(ipaddress.ip_address(wire)) if rdtype in ADDRESS_TYPES else ""


def name_key(name: dns.name.Name, origin_wire: bytes) -> bytes | None:
    """``name``'s key in a zone whose origin has the wire form ``origin_wire``; None if outside."""
    wire = name.to_wire().lower()  # type: ignore[union-attr]  # without a file: bytes
    if not wire.endswith(origin_wire):
        return None
    key = wire[:len(wire) - len(origin_wire)]
    return key if _on_label_boundary(key) else None


def _on_label_boundary(key: bytes) -> bool:
    position = 0
    while position < len(key):
        position += key[position] + 1
    return position == len(key)


def parent_key(key: bytes) -> bytes:
    """The key of the parent name (the apex's parent is the apex)."""
    return key[key[0] + 1:] if key else key


def packed_records(packed: Packed | None) -> tuple[bytes, ...]:
    if packed is None:
        return ()
    return (packed,) if isinstance(packed, bytes) else packed


def soa_rrset(origin: dns.name.Name, serial: int, config: ServerConfig, ttl: int) -> dns.rrset.RRset:
    mname = config.soa_mname or (config.ns[0] if config.ns else dns.name.from_text("localhost."))
    rname = config.soa_rname or dns.name.from_text("hostmaster", origin)
    text = (f"{mname} {rname} {serial % 2**32} {config.soa_refresh} {config.soa_retry} "
            f"{config.soa_expire} {config.soa_minimum}")
    return dns.rrset.from_rdata(origin, ttl, dns.rdata.from_text(IN, SOA, text))


@dataclass(frozen=True)
class ZoneData:
    origin: dns.name.Name
    #: The origin's wire form, lower-case: keys are relative to it.
    origin_wire: bytes
    serial: int
    ttl: int
    soa: dns.rrset.RRset
    negative_soa: dns.rrset.RRset
    nodes: dict[bytes, Packed]
    #: Split horizon: key -> (published addresses as text, packed A/AAAA records answered to
    #: clients whose source address is one of them). Only names whose LAN value differs.
    lan: dict[bytes, tuple[frozenset[str], tuple[bytes, ...]]] = field(default_factory=dict)
    #: Empty non-terminals: names without records that have names with records below them.
    ents: frozenset[bytes] = frozenset()
    has_wildcards: bool = False

    def key(self, name: dns.name.Name) -> bytes | None:
        return name_key(name, self.origin_wire)

    def exists(self, key: bytes) -> bool:
        return key in self.nodes or key in self.ents or key == APEX

    def varies(self, key: bytes) -> bool:
        """Whether the answers for this name depend on the client's source address."""
        return key in self.lan

    def rdtypes(self, key: bytes) -> list[int]:
        """The types the name has, in the order stored (the apex: SOA first)."""
        types = [SOA] if key == APEX else []
        for record in packed_records(self.nodes.get(key)):
            rdtype = TYPE.unpack_from(record)[0]
            if rdtype not in types:
                types.append(rdtype)
        return types

    def rrset(self, key: bytes, owner: dns.name.Name, rdtype: int,
              source: str = "") -> dns.rrset.RRset | None:
        """The RRset of ``rdtype`` at ``key``, owned by ``owner`` (the name as asked, also for a
        wildcard's answer); the LAN variant for a client coming from the name's address."""
        if rdtype == SOA and key == APEX:
            return self.soa
        records = packed_records(self.nodes.get(key))
        variant = self.lan.get(key)
        if variant is not None and rdtype in ADDRESS_TYPES and source in variant[0]:
            records = tuple(r for r in records if TYPE.unpack_from(r)[0] != rdtype) + tuple(
                r for r in variant[1] if TYPE.unpack_from(r)[0] == rdtype)
        rrset = None
        for record in records:
            if TYPE.unpack_from(record)[0] != rdtype:
                continue
            if rrset is None:
                rrset = dns.rrset.RRset(owner, IN, dns.rdatatype.RdataType.make(rdtype))
            rrset.add(dns.rdata.from_wire(IN, rdtype, record, 2, len(record) - 2), self.ttl)
        return rrset

    def public_rrsets(self) -> Iterator[dns.rrset.RRset]:
        """Everything a zone transfer sends, SOA first (not repeated), public data only."""
        yield self.soa
        for key in self.nodes:
            owner = dns.name.from_wire(key + self.origin_wire, 0)[0] if key else self.origin
            for rdtype in self.rdtypes(key):
                if rdtype != SOA:
                    rrset = self.rrset(key, owner, rdtype)
                    if rrset is not None:
                        yield rrset

    @property
    def size(self) -> int:
        return len(self.nodes)


def build_zone(name: str, serial: int, rows: Iterable[RecordRow | tuple[str, str, str, str]],
               config: ServerConfig) -> ZoneData:
    """The zone as served. A row that does not parse is logged and left out, not fatal.

    ``rows`` may be a stream straight from a database cursor: nothing but the packed result
    is kept, so loading a large zone needs little more memory than serving it.
    """
    origin = dns.name.from_text(name)
    origin_wire = origin.canonicalize().to_wire()
    types: dict[str, int] = {}
    owners: dict[str, bytes] = {}
    nodes: dict[bytes, list[bytes] | bytes] = {}
    lan_records: dict[bytes, list[tuple[bytes, bytes]]] = {}
    for row in rows:
        owner_text, rtype, data, lan_data = row
        try:
            rdtype = types.get(rtype)
            if rdtype is None:
                rdtype = types[rtype] = int(dns.rdatatype.from_text(rtype))
            if rdtype == SOA:
                continue  # synthesized below from the serial and the settings
            key = owners.get(owner_text)
            if key is None:
                owner = origin if owner_text in ("@", "") else dns.name.from_text(owner_text, origin)
                key = name_key(owner, origin_wire)
                if key is None:
                    raise ValueError("not inside the zone")
                if len(owners) > 4096:  # a memo for rows of one name in a row, not a copy
                    owners.clear()
                owners[owner_text] = key
            record = TYPE.pack(rdtype) + rdata_wire(rdtype, data, origin)
            lan = TYPE.pack(rdtype) + rdata_wire(rdtype, lan_data, origin) \
                if lan_data and rdtype in ADDRESS_TYPES else None
        except (dns.exception.DNSException, ValueError, OSError) as exc:
            log.warning("zone %s: skipping record %s %s %r: %s", name, owner_text, rtype, data, exc)
            continue
        current = nodes.get(key)
        if current is None:
            nodes[key] = record
        elif isinstance(current, bytes):
            if current != record:
                nodes[key] = [current, record]
        elif record not in current:
            current.append(record)
        if lan is not None:
            lan_records.setdefault(key, []).append((record, lan))
    packed: dict[bytes, Packed] = {}
    for key, records in nodes.items():
        packed[key] = records if isinstance(records, bytes) else tuple(sorted(
            records, key=lambda r: TYPE.unpack_from(r)[0]))
    del nodes
    lan = _lan_variants(packed, lan_records)
    ents = set()
    for key in packed:
        parent = parent_key(key)
        while parent and parent not in packed and parent not in ents:
            ents.add(parent)
            parent = parent_key(parent)
    wildcards = any(key.startswith(WILDCARD_LABEL) for key in packed)
    return ZoneData(origin, origin_wire, serial, config.ttl,
                    soa_rrset(origin, serial, config, config.ttl),
                    soa_rrset(origin, serial, config, config.negative_ttl),
                    packed, lan, frozenset(ents), wildcards)


def _lan_variants(nodes: dict[bytes, Packed], lan_records: dict[bytes, list[tuple[bytes, bytes]]]
                  ) -> dict[bytes, tuple[frozenset[str], tuple[bytes, ...]]]:
    """Per name with a LAN value: its published addresses and the records answered instead.

    Each A/AAAA row is answered with its LAN value when it has one, else with its public value;
    a name whose variant equals the public data is not split at all.
    """
    variants = {}
    for key, pairs in lan_records.items():
        public = [r for r in packed_records(nodes.get(key)) if TYPE.unpack_from(r)[0] in ADDRESS_TYPES]
        replaced = {record for record, _ in pairs}
        records = [lan for _, lan in pairs] + [r for r in public if r not in replaced]
        records = sorted(set(records), key=records.index)
        if set(records) == set(public):
            continue
        wan = frozenset(address_text(TYPE.unpack_from(r)[0], r[2:]) for r in public)
        variants[key] = (wan, tuple(records))
    return variants


@dataclass(frozen=True)
class Snapshot:
    """All zones by origin; replaced whole when one changes."""

    zones: dict[dns.name.Name, ZoneData] = field(default_factory=dict)
    #: The same zones by the origin's lower-case wire form (for the fast path).
    by_wire: dict[bytes, ZoneData] = field(default_factory=dict)

    @classmethod
    def of(cls, zones: dict[dns.name.Name, ZoneData]) -> Snapshot:
        return cls(zones, {zone.origin_wire: zone for zone in zones.values()})

    def find(self, qname: dns.name.Name) -> ZoneData | None:
        """The zone that contains ``qname`` (the longest matching origin), if we serve one."""
        if not self.zones:
            return None
        name = qname
        while True:
            zone = self.zones.get(name)
            if zone is not None:
                return zone
            if name == dns.name.root or len(name) <= 1:
                return None
            name = name.parent()
