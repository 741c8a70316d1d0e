"""Client addresses: canonical form and the trusted-proxy rule."""
from __future__ import annotations

import functools
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


# Both are asked several times per update request (its environment, its log line) with the
# same few values per client: parsing with ipaddress is what costs, so answers are kept.
@functools.lru_cache(maxsize=4096)
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


def client_address_of(environ: dict, proxies: tuple[IPNetwork, ...]) -> str:
    """The client's address from a WSGI environ (see client_address_from)."""
    return client_address_from(environ.get("REMOTE_ADDR") or "",
                               environ.get("HTTP_X_FORWARDED_FOR", ""), proxies)


def uses_tls(environ: dict, proxies: tuple[IPNetwork, ...]) -> bool:
    """https, or a trusted proxy says the client used https."""
    if environ.get("wsgi.url_scheme") == "https":
        return True
    if not proxies:
        return False
    if _trusted_peer(environ.get("REMOTE_ADDR") or "", proxies):
        return environ.get("HTTP_X_FORWARDED_PROTO", "").strip().lower() == "https"
    return False


@functools.lru_cache(maxsize=4096)
def _trusted_peer(remote_addr: str, proxies: tuple[IPNetwork, ...]) -> bool:
    try:
        return _trusted(parse_address(remote_addr), proxies)
    except ValueError:
        return False


def client_address(request: Request) -> str:
    return client_address_of(request.environ, request.registry["nsupdate.settings"].trusted_proxies)


def request_uses_tls(request: Request) -> bool:
    return uses_tls(request.environ, request.registry["nsupdate.settings"].trusted_proxies)
