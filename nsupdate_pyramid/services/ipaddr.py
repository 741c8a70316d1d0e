"""Client addresses: canonical form and the trusted-proxy rule."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from pyramid.request import Request

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str) -> IPAddress:
    """Strict parse; IPv4-mapped IPv6 becomes IPv4. Raises ValueError on anything else."""
    text = text.strip()
    if "%" in text:
        raise ValueError("scoped addresses are not usable in DNS")
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def canonical(text: str) -> str:
    """Lower-case, compressed, IPv4-mapped unmapped; raises ValueError if not an address."""
    return str(parse_address(text))


def _trusted(address: IPAddress, proxies: Iterable[IPNetwork]) -> bool:
    return any(address in network for network in proxies)


def client_address_from(remote_addr: str, forwarded_for: str,
                        proxies: tuple[IPNetwork, ...]) -> str:
    """The first address, walking X-Forwarded-For from the right, that is not a trusted proxy."""
    try:
        current = parse_address(remote_addr)
    except ValueError:
        return remote_addr
    if not proxies or not _trusted(current, proxies):
        return str(current)
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        try:
            current = parse_address(hop)
        except ValueError:
            break  # a forged or broken entry: trust nothing beyond it
        if not _trusted(current, proxies):
            break
    return str(current)


def client_address(request: Request) -> str:
    settings = request.registry["nsupdate.settings"]
    return client_address_from(request.remote_addr or "", request.headers.get("X-Forwarded-For", ""),
                               settings.trusted_proxies)


def request_uses_tls(request: Request) -> bool:
    """https, or a trusted proxy says the client used https."""
    if request.scheme == "https":
        return True
    settings = request.registry["nsupdate.settings"]
    try:
        peer = parse_address(request.remote_addr or "")
    except ValueError:
        return False
    if settings.trusted_proxies and _trusted(peer, settings.trusted_proxies):
        return request.headers.get("X-Forwarded-Proto", "").strip().lower() == "https"
    return False
