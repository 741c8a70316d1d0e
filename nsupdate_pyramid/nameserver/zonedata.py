"""The in-memory copy of the zones: built once per zone load, read by every query, patched
in place when records change.

Compact on purpose (100k records must fit in tens of MiB, not hundreds): a name is a key of
plain bytes, its lower-cased wire form relative to the zone's origin (``b"\\x04host"``), and
its records are packed bytes (type, then rdata in wire form), one ``bytes`` for the usual
single record, a tuple of them otherwise. No dnspython object per record: the slow path builds
the RRsets of the names it is asked about, the fast path (:mod:`.fastpath`) keeps whole answers.

What is computed at load time: the SOA (plus its negative-caching variant), the split-horizon
variants and, per name, how many names with records lie below it (a name without records but
with names below is an empty non-terminal, which answers NODATA rather than NXDOMAIN).

A change of a few names is a :class:`ZoneDelta`, built from their rows like a load (in the
refresher's worker thread) and applied with :meth:`ZoneData.apply` on the event loop, between
two queries: no second copy of a large zone, and no query sees half a change.
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
#: One row of the records table as the source reads it: (name, type, data, LAN data).
Row = tuple[str, str, str, str]


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


#: Split horizon of one name: (published addresses as text, packed A/AAAA records answered to
#: clients whose source address is one of them).
LanVariant = tuple[frozenset[str], tuple[bytes, ...]]


@dataclass(eq=False)
class ZoneData:
    origin: dns.name.Name
    #: The origin's wire form, lower-case: keys are relative to it.
    origin_wire: bytes
    serial: int
    ttl: int
    soa: dns.rrset.RRset
    negative_soa: dns.rrset.RRset
    nodes: dict[bytes, Packed]
    #: Split horizon: key -> variant, only for names whose LAN value differs.
    lan: dict[bytes, LanVariant] = field(default_factory=dict)
    #: Names (not the apex) with names that have records below them -> how many such names.
    below: dict[bytes, int] = field(default_factory=dict)
    #: How many names are wildcards (``*.<something>``).
    wildcards: int = 0

    def key(self, name: dns.name.Name) -> bytes | None:
        return name_key(name, self.origin_wire)

    def exists(self, key: bytes) -> bool:
        return key in self.nodes or key in self.below or key == APEX

    @property
    def ents(self) -> frozenset[bytes]:
        """Empty non-terminals: names without records that have names with records below them."""
        return frozenset(key for key in self.below if key not in self.nodes)

    @property
    def has_wildcards(self) -> bool:
        return self.wildcards > 0

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

    def apply(self, delta: ZoneDelta) -> bool:
        """Patch in ``delta`` (its names' records replace theirs); True when a name appeared or
        vanished in a zone with wildcards, which may change the answers of any name below.

        Runs on the event loop, so no query sees the zone half-patched; costs O(names changed).
        """
        wildcards_before = self.wildcards
        appeared_or_vanished = False
        for key, (packed, variant) in delta.names.items():
            had = key in self.nodes
            if packed is None:
                if had:
                    del self.nodes[key]
                    self._count(key, -1)
                    appeared_or_vanished = True
            else:
                self.nodes[key] = packed
                if not had:
                    self._count(key, 1)
                    appeared_or_vanished = True
            if variant is None:
                self.lan.pop(key, None)
            else:
                self.lan[key] = variant
        self.serial, self.soa, self.negative_soa = delta.serial, delta.soa, delta.negative_soa
        return appeared_or_vanished and (wildcards_before > 0 or self.wildcards > 0)

    def _count(self, key: bytes, step: int) -> None:
        """A name with records came (+1) or went (-1): its ancestors' counts, the wildcards."""
        if key.startswith(WILDCARD_LABEL):
            self.wildcards += step
        below = self.below
        parent = parent_key(key)
        while parent:
            count = below.get(parent, 0) + step
            if count > 0:
                below[parent] = count
            else:
                below.pop(parent, None)
            parent = parent_key(parent)


@dataclass(frozen=True)
class ZoneDelta:
    """What changed in a zone since the serial its copy has: the new serial (and SOA), and for
    each changed name its records now (None: it has none left) and its split-horizon variant."""

    serial: int
    soa: dns.rrset.RRset
    negative_soa: dns.rrset.RRset
    names: dict[bytes, tuple[Packed | None, LanVariant | None]]


class _Packer:
    """Turns record rows of one zone into packed records by name key (shared by load and delta)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.origin = dns.name.from_text(name)
        self.origin_wire = self.origin.canonicalize().to_wire()
        self.types: dict[str, int] = {}
        self.owners: dict[str, bytes] = {}
        self.nodes: dict[bytes, list[bytes] | bytes] = {}
        self.lan_records: dict[bytes, list[tuple[bytes, bytes]]] = {}

    def key(self, owner_text: str) -> bytes:
        """The key of a stored (relative) name; ValueError when it is not inside the zone."""
        key = self.owners.get(owner_text)
        if key is None:
            owner = self.origin if owner_text in ("@", "") else dns.name.from_text(owner_text, self.origin)
            key = name_key(owner, self.origin_wire)
            if key is None:
                raise ValueError("not inside the zone")
            if len(self.owners) > 4096:  # a memo for rows of one name in a row, not a copy
                self.owners.clear()
            self.owners[owner_text] = key
        return key

    def add(self, owner_text: str, rtype: str, data: str, lan_data: str) -> None:
        """One row; a row that does not parse is logged and left out, not fatal."""
        try:
            rdtype = self.types.get(rtype)
            if rdtype is None:
                rdtype = self.types[rtype] = int(dns.rdatatype.from_text(rtype))
            if rdtype == SOA:
                return  # synthesized from the serial and the settings
            key = self.key(owner_text)
            record = TYPE.pack(rdtype) + rdata_wire(rdtype, data, self.origin)
            lan = TYPE.pack(rdtype) + rdata_wire(rdtype, lan_data, self.origin) \
                if lan_data and rdtype in ADDRESS_TYPES else None
        except (dns.exception.DNSException, ValueError, OSError) as exc:
            log.warning("zone %s: skipping record %s %s %r: %s", self.name, owner_text, rtype, data, exc)
            return
        current = self.nodes.get(key)
        if current is None:
            self.nodes[key] = record
        elif isinstance(current, bytes):
            if current != record:
                self.nodes[key] = [current, record]
        elif record not in current:
            current.append(record)
        if lan is not None:
            self.lan_records.setdefault(key, []).append((record, lan))

    def finish(self) -> tuple[dict[bytes, Packed], dict[bytes, LanVariant]]:
        """The packed records (several sorted, so any row order gives the same bytes) and the
        split-horizon variants; the packer is empty afterwards."""
        packed: dict[bytes, Packed] = {}
        nodes, self.nodes = self.nodes, {}
        for key in list(nodes):
            records = nodes.pop(key)  # freed as we go: a large zone is not held twice
            packed[key] = records if isinstance(records, bytes) else tuple(sorted(records))
        lan = _lan_variants(packed, self.lan_records)
        self.lan_records = {}
        return packed, lan


def build_zone(name: str, serial: int, rows: Iterable[Row],
               config: ServerConfig) -> ZoneData:
    """The zone as served. A row that does not parse is logged and left out, not fatal.

    ``rows`` may be a stream straight from a database cursor: nothing but the packed result
    is kept, so loading a large zone needs little more memory than serving it.
    """
    packer = _Packer(name)
    for owner_text, rtype, data, lan_data in rows:
        packer.add(owner_text, rtype, data, lan_data)
    packed, lan = packer.finish()
    origin = packer.origin
    zone = ZoneData(origin, packer.origin_wire, serial, config.ttl,
                    soa_rrset(origin, serial, config, config.ttl),
                    soa_rrset(origin, serial, config, config.negative_ttl), packed, lan)
    for key in packed:
        zone._count(key, 1)
    return zone


def build_delta(name: str, serial: int, changed: Iterable[str],
                rows: Iterable[Row], config: ServerConfig) -> ZoneDelta:
    """The delta for the names ``changed`` (stored, relative), given all their ``rows`` now."""
    packer = _Packer(name)
    keys = set()
    for owner_text in changed:
        try:
            keys.add(packer.key(owner_text))
        except (dns.exception.DNSException, ValueError) as exc:
            log.warning("zone %s: skipping name %r: %s", name, owner_text, exc)
    for owner_text, rtype, data, lan_data in rows:
        packer.add(owner_text, rtype, data, lan_data)
    packed, lan = packer.finish()
    names = {key: (packed.get(key), lan.get(key)) for key in keys | packed.keys()}
    origin = packer.origin
    return ZoneDelta(serial, soa_rrset(origin, serial, config, config.ttl),
                     soa_rrset(origin, serial, config, config.negative_ttl), names)


def _lan_variants(nodes: dict[bytes, Packed], lan_records: dict[bytes, list[tuple[bytes, bytes]]]
                  ) -> dict[bytes, LanVariant]:
    """Per name with a LAN value: its published addresses and the records answered instead.

    Each A/AAAA row is answered with its LAN value when it has one, else with its public value;
    a name whose variant equals the public data is not split at all.
    """
    variants = {}
    for key, pairs in lan_records.items():
        public = [r for r in packed_records(nodes.get(key)) if TYPE.unpack_from(r)[0] in ADDRESS_TYPES]
        replaced = {record for record, _ in pairs}
        records = {lan for _, lan in pairs} | {r for r in public if r not in replaced}
        if records == set(public):
            continue
        wan = frozenset(address_text(TYPE.unpack_from(r)[0], r[2:]) for r in public)
        variants[key] = (wan, tuple(sorted(records)))
    return variants


@dataclass(frozen=True)
class Snapshot:
    """All zones by origin; replaced whole when a zone is loaded whole, added or removed (a
    zone patched in place keeps its snapshot)."""

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
