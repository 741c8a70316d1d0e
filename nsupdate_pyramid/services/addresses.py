"""Reading the addresses a client sends, the way routers in the wild send them."""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from .ipaddr import IPAddress, parse_address

# Parameters clients use for the address; all are merged, ``myip`` first.
ADDRESS_PARAMS = ("myip", "myipv4", "myipv6", "myip6", "ipv6", "ip")


class BadAddress(ValueError):
    """A piece of the address list is not an IP address; ``value`` is what was sent."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


def parse_address_list(params: Mapping[str, str], names: tuple[str, ...] = ADDRESS_PARAMS,
                       ) -> list[IPAddress]:
    """Every address in the given parameters, canonical, without duplicates.

    Comma lists are split, each piece trimmed and cut at the first ``/`` (a
    FRITZ!Box sends ``2001:db8:1:2::/64``); empty pieces are skipped. Any other
    piece that is not an address raises BadAddress naming it.
    """
    addresses: list[IPAddress] = []
    for name in names:
        for raw in params.getall(name) if hasattr(params, "getall") else [params.get(name, "")]:
            for piece in (raw or "").split(","):
                text = piece.split("/", 1)[0].strip()
                if not text:
                    continue
                try:
                    address = parse_address(text)
                except ValueError:
                    raise BadAddress(piece.strip()[:60]) from None
                if address not in addresses:
                    addresses.append(address)
    return addresses


def is_usable(address: IPAddress) -> bool:
    """Unspecified and multicast addresses never make sense as a host's address."""
    return not (address.is_unspecified or address.is_multicast)


def is_network_address(address: IPAddress, netmask: int) -> bool:
    """True when ``address`` is the bare network of ``address/netmask`` (a prefix, not a host)."""
    full = 32 if address.version == 4 else 128
    if netmask >= full:
        return False
    network = ipaddress.ip_network(f"{address}/{netmask}", strict=False)
    return network.network_address == address


def rdtype_of(address: IPAddress) -> str:
    return "A" if address.version == 4 else "AAAA"


def parse_lan_address(text: str) -> str:
    """A host's LAN (split-horizon) address in canonical form; empty means none.

    Raises BadAddress for anything that is not one usable address (a ``/len`` is ignored).
    """
    piece = text.split("/", 1)[0].strip()
    if not piece:
        return ""
    try:
        address = parse_address(piece)
    except ValueError:
        raise BadAddress(piece[:60]) from None
    if not is_usable(address):
        raise BadAddress(piece[:60])
    return str(address)


def lan_values(lan: str) -> dict[str, str]:
    """The LAN value each record type gets: the address for its family's type, "" for the other."""
    family = parse_address(lan).version if lan else 0
    return {"A": lan if family == 4 else "", "AAAA": lan if family == 6 else ""}
