"""The in-memory copy of the zones: built once per zone load, read by every query, never changed.

Everything a query needs is computed here, at load time: the RRsets with the answer TTL, the
SOA (plus its negative-caching variant), the split-horizon variants and the set of names that
exist (including empty non-terminals, which answer NODATA rather than NXDOMAIN).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
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
A, AAAA, TXT = dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.TXT
ADDRESS_TYPES = (A, AAAA)


@dataclass(frozen=True)
class RecordRow:
    """One row of the records table, as the source reads it."""

    name: str
    rtype: str
    data: str
    lan_data: str = ""


@dataclass(frozen=True)
class Node:
    """The RRsets of one owner name."""

    rrsets: dict[dns.rdatatype.RdataType, dns.rrset.RRset]
    #: A/AAAA RRsets answered to clients whose source address is in ``wan``.
    lan: dict[dns.rdatatype.RdataType, dns.rrset.RRset] = field(default_factory=dict)
    wan: frozenset[str] = frozenset()

    def get(self, rdtype: dns.rdatatype.RdataType, source: str) -> dns.rrset.RRset | None:
        if self.lan and rdtype in self.lan and source in self.wan:
            return self.lan[rdtype]
        return self.rrsets.get(rdtype)


@dataclass(frozen=True)
class ZoneData:
    origin: dns.name.Name
    serial: int
    soa: dns.rrset.RRset
    negative_soa: dns.rrset.RRset
    nodes: dict[dns.name.Name, Node]
    #: Every name that exists: owners and the empty non-terminals between them and the apex.
    names: frozenset[dns.name.Name]

    def public_rrsets(self) -> list[dns.rrset.RRset]:
        """Everything a zone transfer sends, SOA first (not repeated), public data only."""
        rrsets = [self.soa]
        for node in self.nodes.values():
            rrsets.extend(rrset for rdtype, rrset in node.rrsets.items() if rdtype != dns.rdatatype.SOA)
        return rrsets


def make_rdata(rdtype: dns.rdatatype.RdataType, text: str, origin: dns.name.Name) -> dns.rdata.Rdata:
    """TXT is stored as the literal string (split in 255-byte pieces); others in master-file text."""
    if rdtype == TXT:
        data = text.encode("utf-8")
        chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
        return dns.rdtypes.ANY.TXT.TXT(IN, TXT, chunks)
    return dns.rdata.from_text(IN, rdtype, text, origin=origin, relativize=False)


def soa_rrset(origin: dns.name.Name, serial: int, config: ServerConfig, ttl: int) -> dns.rrset.RRset:
    mname = config.soa_mname or (config.ns[0] if config.ns else dns.name.from_text("localhost."))
    rname = config.soa_rname or dns.name.from_text("hostmaster", origin)
    text = (f"{mname} {rname} {serial % 2**32} {config.soa_refresh} {config.soa_retry} "
            f"{config.soa_expire} {config.soa_minimum}")
    return dns.rrset.from_rdata(origin, ttl, dns.rdata.from_text(IN, dns.rdatatype.SOA, text))


def build_zone(name: str, serial: int, rows: Iterable[RecordRow], config: ServerConfig) -> ZoneData:
    """The zone as served. A row that does not parse is logged and left out, not fatal."""
    origin = dns.name.from_text(name)
    ttl = config.ttl
    public: dict[dns.name.Name, dict[dns.rdatatype.RdataType, dns.rrset.RRset]] = {}
    lan: dict[dns.name.Name, dict[dns.rdatatype.RdataType, dns.rrset.RRset]] = {}
    wan: dict[dns.name.Name, set[str]] = {}
    for row in rows:
        try:
            rdtype = dns.rdatatype.from_text(row.rtype)
            owner = origin if row.name in ("@", "") else dns.name.from_text(row.name, origin)
            rdata = make_rdata(rdtype, row.data, origin)
            lan_rdata = make_rdata(rdtype, row.lan_data, origin) \
                if row.lan_data and rdtype in ADDRESS_TYPES else None
        except (dns.exception.DNSException, ValueError) as exc:
            log.warning("zone %s: skipping record %s %s %r: %s", name, row.name, row.rtype, row.data, exc)
            continue
        if rdtype == dns.rdatatype.SOA:
            continue  # synthesized below from the serial and the settings
        public.setdefault(owner, {}).setdefault(rdtype, dns.rrset.RRset(owner, IN, rdtype)).add(rdata, ttl)
        if rdtype in ADDRESS_TYPES:
            wan.setdefault(owner, set()).add(rdata.to_text())
            lan.setdefault(owner, {}).setdefault(rdtype, dns.rrset.RRset(owner, IN, rdtype)).add(
                lan_rdata or rdata, ttl)
    soa = soa_rrset(origin, serial, config, ttl)
    public.setdefault(origin, {})[dns.rdatatype.SOA] = soa
    nodes = {}
    for owner, rrsets in public.items():
        variants = lan.get(owner, {})
        if variants and any(variants[t] != rrsets.get(t) for t in variants):
            nodes[owner] = Node(rrsets, variants, frozenset(wan[owner]))
        else:
            nodes[owner] = Node(rrsets)
    names = set()
    for owner in nodes:
        while owner != origin and owner.is_subdomain(origin):
            names.add(owner)
            owner = owner.parent()
    names.add(origin)
    return ZoneData(origin, serial, soa, soa_rrset(origin, serial, config, config.negative_ttl),
                    nodes, frozenset(names))


@dataclass(frozen=True)
class Snapshot:
    """All zones by origin; replaced whole when one changes."""

    zones: dict[dns.name.Name, ZoneData] = field(default_factory=dict)

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
