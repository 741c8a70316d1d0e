"""DNS lookups the pages make: reverse names of a host's addresses, and whether a name someone
adds as a domain is really a zone (nsupdate.info 0.12 added this check after people kept
adding their host names as domains).

Every lookup has a deadline, so a dead resolver makes a page slower by seconds at most, and
failures become "unknown" instead of errors: these are hints, never a reason for a 500.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.reversename


def make_resolver(servers: tuple[tuple[str, int], ...] | None, timeout: float
                  ) -> dns.resolver.Resolver | None:
    """A resolver for the configured servers (empty: the system's); None: lookups are off."""
    if servers is None:
        return None
    if not servers:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port)
                                for address, port in servers]
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def reverse_names(resolver: dns.resolver.Resolver | None, addresses: list[str],
                  budget: float) -> dict[str, str | None]:
    """address -> its PTR name ("" when there is none), None when the lookup failed or is off.

    All lookups together take at most ``budget`` seconds.
    """
    deadline = time.monotonic() + budget
    names: dict[str, str | None] = {}
    for address in addresses:
        remaining = deadline - time.monotonic()
        if resolver is None or remaining <= 0:
            names[address] = None
            continue
        try:
            answer = resolver.resolve(dns.reversename.from_address(address), "PTR",
                                      lifetime=remaining, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            names[address] = ""
        except (dns.exception.DNSException, ValueError, OSError):
            names[address] = None
        else:
            names[address] = ", ".join(sorted(r.to_text().rstrip(".") for r in answer)) \
                if answer.rrset else ""
    return names


class NameKind(Enum):
    ZONE = "zone"        # the nameserver serves a zone of exactly this name
    INSIDE = "inside"    # the name lies inside another zone of that nameserver: a host, likely
    UNKNOWN = "unknown"  # no authoritative answer (not served there, unreachable, ...)


@dataclass(frozen=True)
class NameCheck:
    kind: NameKind
    zone: str = ""    # with INSIDE: the zone the name belongs to
    detail: str = ""  # with UNKNOWN: what happened, for the page


def classify_name(name: str, server: str, port: int, timeout: float) -> NameCheck:
    """Ask the domain's own primary (not recursively) for the SOA of ``name``."""
    query = dns.message.make_query(dns.name.from_text(name), dns.rdatatype.SOA)
    query.flags &= ~dns.flags.RD
    try:
        response = dns.query.udp(query, server, port=port, timeout=timeout)
    except dns.exception.Timeout:
        return NameCheck(NameKind.UNKNOWN, detail=f"no answer from {server} port {port}")
    except (dns.exception.DNSException, OSError, ValueError) as error:
        return NameCheck(NameKind.UNKNOWN, detail=f"{server} port {port}: {error}")
    rcode = response.rcode()
    if not response.flags & dns.flags.AA or rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return NameCheck(NameKind.UNKNOWN, detail=f"{server} port {port} answered "
                                                  f"{dns.rcode.to_text(rcode)}, not authoritatively")
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == query.question[0].name:
            return NameCheck(NameKind.ZONE)
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return NameCheck(NameKind.INSIDE, zone=rrset.name.to_text(omit_final_dot=True))
    return NameCheck(NameKind.UNKNOWN, detail=f"{server} port {port} sent no SOA record")
