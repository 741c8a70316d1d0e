"""The nameserver's settings, turned into DNS objects once (parsed and checked in settings.py)."""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import dns.name
import dns.tsig
import dns.tsigkeyring

from ..settings import AppSettings, IPNetwork

#: What we advertise as our EDNS UDP payload size (the DNS flag day 2020 value).
OUR_UDP_PAYLOAD = 1232


@dataclass(frozen=True)
class ServerConfig:
    listen: tuple[tuple[str, int], ...]
    ttl: int
    ns: tuple[dns.name.Name, ...]
    soa_mname: dns.name.Name | None  # None: the first NS
    soa_rname: dns.name.Name | None  # None: hostmaster.<zone>
    soa_refresh: int
    soa_retry: int
    soa_expire: int
    soa_minimum: int
    axfr_allow: tuple[IPNetwork, ...]
    axfr_keyring: dict[dns.name.Name, dns.tsig.Key] | None
    notify: tuple[tuple[str, int], ...]
    poll_interval: float

    @classmethod
    def from_settings(cls, settings: AppSettings | Mapping[str, Any]) -> ServerConfig:
        """From the app's settings, or from the values ``parse_nameserver_settings`` returns."""
        if isinstance(settings, Mapping):
            settings = SimpleNamespace(**settings)  # type: ignore[assignment]
        keyring = None
        if settings.nameserver_axfr_key is not None:
            algorithm, name, secret = settings.nameserver_axfr_key
            keyring = dns.tsigkeyring.from_text({name: (algorithm, secret)})
        return cls(
            listen=settings.nameserver_listen,
            ttl=settings.nameserver_ttl,
            ns=tuple(dns.name.from_text(name) for name in settings.nameserver_ns),
            soa_mname=dns.name.from_text(settings.nameserver_soa_mname)
            if settings.nameserver_soa_mname else None,
            soa_rname=dns.name.from_text(settings.nameserver_soa_rname)
            if settings.nameserver_soa_rname else None,
            soa_refresh=settings.nameserver_soa_refresh,
            soa_retry=settings.nameserver_soa_retry,
            soa_expire=settings.nameserver_soa_expire,
            soa_minimum=settings.nameserver_soa_minimum,
            axfr_allow=settings.nameserver_axfr_allow,
            axfr_keyring=keyring,
            notify=settings.nameserver_notify,
            poll_interval=settings.nameserver_poll_interval,
        )

    @property
    def negative_ttl(self) -> int:
        """RFC 2308: negative answers are cached for min(SOA TTL, SOA minimum)."""
        return min(self.ttl, self.soa_minimum)

    def may_transfer(self, source: str) -> bool:
        try:
            address = ipaddress.ip_address(source.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self.axfr_allow)
