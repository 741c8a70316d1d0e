"""Nameserver configuration examples for a user's own domain: what BIND, PowerDNS and Knot need
to accept our RFC 2136 updates with the domain's TSIG key.

The updates only ever touch A, AAAA and TXT records below the zone apex, so the examples grant
no more (the apex and www stay the owner's).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZoneKey:
    zone: str
    key_name: str
    algorithm: str
    secret: str
    nameserver_ip: str


def bind(z: ZoneKey) -> str:
    """named.conf: the key, and the zone with an update-policy for that key."""
    return "\n".join([
        f'key "{z.key_name}." {{',
        f"    algorithm {z.algorithm};",
        f'    secret "{z.secret}";',
        "};",
        "",
        f'zone "{z.zone}" {{',
        "    type primary;",
        f'    file "/var/lib/bind/{z.zone}.zone";',
        "    update-policy {",
        f"        deny {z.key_name}. name {z.zone}. ANY;",
        f"        deny {z.key_name}. name www.{z.zone}. ANY;",
        f"        grant {z.key_name}. subdomain {z.zone}. A AAAA TXT;",
        "    };",
        "};",
        "",
    ])


def bind_zone_file(z: ZoneKey) -> str:
    """A minimal zone to start from (named keeps updates in its journal beside it)."""
    address = z.nameserver_ip or "192.0.2.53"
    rdtype = "AAAA" if ":" in address else "A"
    return "\n".join([
        f"$ORIGIN {z.zone}.",
        "$TTL 3600",
        f"@    IN SOA ns1.{z.zone}. hostmaster.{z.zone}. ( 1 3600 600 604800 60 )",
        f"     IN NS  ns1.{z.zone}.",
        f"ns1  IN {rdtype} {address}",
        "",
    ])


def powerdns(z: ZoneKey) -> str:
    """pdns.conf switches and the pdnsutil commands for the zone's key."""
    return "\n".join([
        "# pdns.conf",
        "dnsupdate=yes",
        "allow-dnsupdate-from=",
        "",
        "# then, once:",
        f"pdnsutil import-tsig-key {z.key_name} {z.algorithm} '{z.secret}'",
        f"pdnsutil set-meta {z.zone} TSIG-ALLOW-DNSUPDATE {z.key_name}",
        f"pdnsutil set-meta {z.zone} ALLOW-DNSUPDATE-FROM 0.0.0.0/0 ::/0",
        "",
    ])


def knot(z: ZoneKey) -> str:
    """knot.conf (YAML): key, an update ACL limited to our record types, the zone."""
    return "\n".join([
        "key:",
        f"  - id: {z.key_name}.",
        f"    algorithm: {z.algorithm}",
        f"    secret: {z.secret}",
        "",
        "acl:",
        "  - id: nsupdate",
        f"    key: {z.key_name}.",
        "    action: update",
        "    update-type: [A, AAAA, TXT]",
        "",
        "zone:",
        f"  - domain: {z.zone}",
        "    acl: nsupdate",
        "",
    ])


def all_examples(z: ZoneKey) -> dict[str, str]:
    return {"bind": bind(z), "bind-zone": bind_zone_file(z), "powerdns": powerdns(z),
            "knot": knot(z)}
