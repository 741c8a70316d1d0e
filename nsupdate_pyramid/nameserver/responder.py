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
from .zonedata import Node, Snapshot, ZoneData

RT = dns.rdatatype
#: RFC 8482: ANY gets one RRset, the first of these the name has.
ANY_PREFERENCE = (RT.A, RT.AAAA, RT.TXT, RT.SOA, RT.NS)
TRANSFER_TYPES = (RT.AXFR, RT.IXFR)
WILDCARD = dns.name.Name((b"*",))


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
    if query.opcode() != dns.opcode.QUERY:
        return refuse(query, dns.rcode.NOTIMP)
    if query.edns > 0:
        return refuse(query, dns.rcode.BADVERS)
    if len(query.question) != 1:
        return refuse(query, dns.rcode.FORMERR)
    question = query.question[0]
    if question.rdclass not in (dns.rdataclass.IN, dns.rdataclass.ANY):
        return refuse(query, dns.rcode.REFUSED)
    zone = snapshot.find(question.name)
    if zone is None:
        return refuse(query, dns.rcode.REFUSED)
    qtype = question.rdtype
    if qtype == RT.IXFR:  # over UDP (RFC 1995 4): "you are up to date / ask again over TCP"
        response = make_response(query)
        response.flags |= dns.flags.AA
        response.answer.append(zone.soa)
        return response
    if qtype in TRANSFER_TYPES or (RT.is_metatype(qtype) and qtype != RT.ANY):
        return refuse(query, dns.rcode.NOTIMP if qtype in TRANSFER_TYPES else dns.rcode.FORMERR)
    response = make_response(query)
    response.flags |= dns.flags.AA
    answer(response, zone, question.name, qtype, source)
    return response


def answer(response: dns.message.Message, zone: ZoneData, qname: dns.name.Name,
           qtype: dns.rdatatype.RdataType, source: str) -> None:
    """Fill in answer/authority and the rcode for ``qname``/``qtype`` in ``zone``."""
    node = zone.nodes.get(qname)
    owner = qname
    if node is None:
        if qname in zone.names:  # an empty non-terminal exists: NODATA
            response.authority.append(zone.negative_soa)
            return
        node = _wildcard(zone, qname)
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(zone.negative_soa)
            return
    if qtype == RT.ANY:
        rrset = next((node.get(t, source) for t in ANY_PREFERENCE if t in node.rrsets), None)
        if rrset is None:
            rrset = next(iter(node.rrsets.values()), None)
    else:
        rrset = node.get(qtype, source)
    if rrset is None:
        response.authority.append(zone.negative_soa)
        return
    if rrset.name != owner:  # synthesized from a wildcard: owned by the name asked for
        rrset = dns.rrset.from_rdata_list(owner, rrset.ttl, list(rrset))
    response.answer.append(rrset)


def _wildcard(zone: ZoneData, qname: dns.name.Name) -> Node | None:
    """RFC 4592: ``*.<closest encloser>`` answers names below the closest existing name."""
    encloser = qname.parent()
    while encloser not in zone.names:
        if encloser == zone.origin or not encloser.is_subdomain(zone.origin):
            return None
        encloser = encloser.parent()
    return zone.nodes.get(WILDCARD.concatenate(encloser))
