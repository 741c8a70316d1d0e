"""Addresses of related hosts: the main host's prefix plus each related host's interface id.

A router reports one address (or just its delegated prefix); the devices behind
it keep their interface ids, so their records can follow without running an
update client of their own.
"""
from __future__ import annotations

import ipaddress

from .ipaddr import IPAddress


class BadInterfaceId(ValueError):
    pass


def parse_interface_id(text: str, version: int) -> int:
    """The interface id as a number; IPv4 or IPv6 notation, or a plain decimal like ``0``."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return int(ipaddress.ip_address(text))
    except ValueError:
        raise BadInterfaceId(f"{text!r} is not an interface id") from None


def related_address(address: IPAddress, netmask: int, interface_id: str) -> IPAddress:
    """``address/netmask``'s network with the host bits taken from ``interface_id``."""
    network = ipaddress.ip_network(f"{address}/{netmask}", strict=False)
    host_bits = parse_interface_id(interface_id, address.version)
    if host_bits > int(network.hostmask):
        raise BadInterfaceId(f"interface id {interface_id!r} does not fit in a /{netmask} network")
    return ipaddress.ip_address(int(network.network_address) | host_bits)
