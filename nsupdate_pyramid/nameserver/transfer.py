"""Zone transfers (AXFR, and IXFR answered with the whole zone as RFC 1995 allows), TCP only.

Who may transfer: a source address in ``nameserver.axfr_allow``, and when
``nameserver.axfr_key`` is set, a request signed with that key (the answers are then signed
too, each message chained to the previous one as RFC 8945 requires).
"""
from __future__ import annotations

from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from .config import ServerConfig
from .responder import make_response, refuse
from .zonedata import Snapshot

#: RRsets per message to begin with; halved when a message would exceed 64 KiB.
CHUNK = 200
MAX_MESSAGE = 65535


def transfer(query: dns.message.Message, source: str, snapshot: Snapshot,
             config: ServerConfig) -> Iterator[bytes]:
    """The wire messages answering a transfer request (one refusal when not allowed)."""
    question = query.question[0]
    zone = snapshot.zones.get(question.name)
    if zone is None:
        inside = snapshot.find(question.name) is not None  # a name in a zone, not a zone
        yield refuse(query, dns.rcode.NOTAUTH if inside else dns.rcode.REFUSED).to_wire()
        return
    if not config.may_transfer(source) or (config.axfr_keyring is not None and not query.had_tsig):
        yield refuse(query, dns.rcode.REFUSED).to_wire()
        return
    rrsets = [*zone.public_rrsets(), zone.soa]
    first = True
    tsig_ctx = None
    while rrsets:
        count = min(CHUNK, len(rrsets))
        while True:
            message = _message(query, first)
            message.answer.extend(rrsets[:count])
            try:
                wire = message.to_wire(max_size=MAX_MESSAGE, multi=query.had_tsig, tsig_ctx=tsig_ctx)
                break
            except dns.exception.TooBig:
                if count == 1:
                    raise
                count //= 2
        if query.had_tsig:
            tsig_ctx = message.tsig_ctx
        yield wire
        rrsets = rrsets[count:]
        first = False


def _message(query: dns.message.Message, first: bool) -> dns.message.Message:
    """The first message repeats the question; later ones carry only records (and the TSIG)."""
    if first:
        message = make_response(query)
    else:
        message = dns.message.Message(id=query.id)
        message.flags = dns.flags.QR
        if query.had_tsig:
            message.use_tsig(query.keyring, query.keyname, algorithm=query.keyalgorithm)
    message.flags |= dns.flags.AA
    return message
