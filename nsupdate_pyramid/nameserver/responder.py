"""One query in, one answer out: authoritative data from the snapshot, no I/O.

Zone transfers are the listeners' business (TCP, several messages); everything else is here.
"""
from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from .config import OUR_UDP_PAYLOAD, ServerConfig
from .zonedata import WILDCARD_LABEL, Snapshot, ZoneData, parent_key

RT = dns.rdatatype
#: RFC 8482: ANY gets one RRset, the first of these the name has.
ANY_PREFERENCE = (RT.A, RT.AAAA, RT.TXT, RT.SOA, RT.NS)
TRANSFER_TYPES = (RT.AXFR, RT.IXFR)


def make_response(query: dns.message.Message) -> dns.message.Message:
    """Same id, question and EDNS (our payload size advertised) as the query."""
    response = dns.message.make_response(query, our_payload=OUR_UDP_PAYLOAD)
    response.flags &= ~dns.flags.RA
    return response


def refuse(query: dns.message.Message, rcode: dns.rcode.Rcode) -> dns.message.Message:
    response = make_response(query)
    response.set_rcode(rcode)
    return response


def respond(query: dns.message.Message, source: str, snapshot: Snapshot,
            config: ServerConfig) -> dns.message.Message:
    """The answer to a standard query (transfers excepted), as an authoritative server gives it."""
    return respond_keyed(query, source, snapshot, config)[0]


def respond_keyed(query: dns.message.Message, source: str, snapshot: Snapshot,
                  config: ServerConfig) -> tuple[dns.message.Message, bool]:
    """The answer, and whether it depends on the client's source address (split horizon):
    only answers that do not may be kept and given to anyone who asks the same question."""
    if query.opcode() != dns.opcode.QUERY:
        return refuse(query, dns.rcode.NOTIMP), False
    if query.edns > 0:
        return refuse(query, dns.rcode.BADVERS), False
    if len(query.question) != 1:
        return refuse(query, dns.rcode.FORMERR), False
    question = query.question[0]
    if question.rdclass not in (dns.rdataclass.IN, dns.rdataclass.ANY):
        return refuse(query, dns.rcode.REFUSED), False
    zone = snapshot.find(question.name)
    if zone is None:
        return refuse(query, dns.rcode.REFUSED), False
    qtype = question.rdtype
    if qtype == RT.IXFR:  # over UDP (RFC 1995 4): "you are up to date / ask again over TCP"
        response = make_response(query)
        response.flags |= dns.flags.AA
        response.answer.append(zone.soa)
        return response, False
    if qtype in TRANSFER_TYPES or (RT.is_metatype(qtype) and qtype != RT.ANY):
        return refuse(query, dns.rcode.NOTIMP if qtype in TRANSFER_TYPES else dns.rcode.FORMERR), False
    response = make_response(query)
    response.flags |= dns.flags.AA
    varies = answer(response, zone, question.name, qtype, source)
    return response, varies


def answer(response: dns.message.Message, zone: ZoneData, qname: dns.name.Name,
           qtype: dns.rdatatype.RdataType, source: str) -> bool:
    """Fill in answer/authority and the rcode for ``qname``/``qtype`` in ``zone``; True when
    the name has a split-horizon variant (the answer may depend on ``source``)."""
    key = zone.key(qname)
    if key is None:  # find() said it is inside; only an odd label split could disagree
        response.set_rcode(dns.rcode.REFUSED)
        return False
    if key and key not in zone.nodes:
        if zone.exists(key):  # an empty non-terminal (or a bare apex): NODATA
            response.authority.append(zone.negative_soa)
            return False
        key = _wildcard(zone, key)
        if key is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(zone.negative_soa)
            return False
    types = zone.rdtypes(key)
    if qtype == RT.ANY:
        qtype = next((t for t in ANY_PREFERENCE if t in types), types[0] if types else qtype)
    rrset = zone.rrset(key, qname, qtype, source)
    if rrset is None:
        response.authority.append(zone.negative_soa)
    else:
        response.answer.append(rrset)
    return zone.varies(key)


def _wildcard(zone: ZoneData, key: bytes) -> bytes | None:
    """RFC 4592: ``*.<closest encloser>`` answers names below the closest existing name."""
    if not zone.has_wildcards:
        return None
    encloser = parent_key(key)
    while not zone.exists(encloser):
        encloser = parent_key(encloser)
    wildcard = WILDCARD_LABEL + encloser
    return wildcard if wildcard in zone.nodes else None
