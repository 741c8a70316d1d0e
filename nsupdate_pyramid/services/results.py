"""Result messages stored on a host, worded as nsupdate.info words them (users and their
support threads know these lines)."""
from __future__ import annotations

from datetime import datetime

MAX_LENGTH = 255


# Control characters (a NUL even breaks PostgreSQL text) never reach the stored message.
_CONTROL = dict.fromkeys(range(32), "?")


def stamp(now: datetime, message: str) -> str:
    return f"{now:%Y-%m-%d %H:%M:%S} {message.translate(_CONTROL)}"[:MAX_LENGTH]


def flag(value: bool) -> str:
    return "True" if value else "False"


def auth_failure(fqdn: str) -> str:
    return f"api authentication failure. [hostname: {fqdn} (given in basic auth)]"


def auth_success(fqdn: str) -> str:
    return f"api authentication success. [hostname: {fqdn} (given in basic auth)]"


def wrong_host(given: str, fqdn: str) -> str:
    return (f"rejecting to update wrong host {given} (given in query string) "
            f"[instead of {fqdn} (given in basic auth)]")


def bad_agent(fqdn: str, agent: str) -> str:
    return f"{fqdn} - received update from bad user agent '{agent}'"


def abusive(fqdn: str, action: str) -> str:
    return f"{fqdn} - received {action} for host with abuse / abuse_blocked flag set"


def unavailable(fqdn: str, action: str) -> str:
    return f"{fqdn} - received {action} for unavailable host"


def bad_ip(fqdn: str, value: str) -> str:
    return f"{fqdn} - received bad ip address: '{value}'"


def blacklisted_ip(fqdn: str, ip: str) -> str:
    return f"{fqdn} - received update to blacklisted ip address: '{ip}'"


def no_change(fqdn: str, ip: str, tls: bool) -> str:
    return f"{fqdn} - received no-change update, ip: {ip} tls: {flag(tls)}"


def good(fqdn: str, ip: str, tls: bool) -> str:
    return f"{fqdn} - received good update -> ip: {ip} tls: {flag(tls)}"


def prefix(fqdn: str, network: str, tls: bool) -> str:
    return f"{fqdn} - received prefix update -> prefix: {network} tls: {flag(tls)}"


def deleted(fqdn: str, rdtype: str, tls: bool) -> str:
    return f"{fqdn} - received delete for record {rdtype}, tls: {flag(tls)}"


def dns_error(fqdn: str, action: str, detail: str, ip: str, tls: bool) -> str:
    return (f"{fqdn} - received {action} that resulted in a dns error [{detail}], "
            f"ip: {ip} tls: {flag(tls)}")


def related_dns_error(name: str, action: str, detail: str) -> str:
    return f"{name} - related hosts {action} that resulted in a dns error [{detail}]"
