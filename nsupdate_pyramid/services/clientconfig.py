"""Ready-to-paste settings for update clients and routers, filled in for one host.

The configuration-help page shows these texts; tests write the ddclient, inadyn and curl ones
to files and run the real programs with them, so what people copy is known to work.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class UpdateTarget:
    """Who updates (fqdn + secret) and where: the service's dual-stack, IPv4-only and
    IPv6-only host names (with :port when not the default)."""

    fqdn: str
    secret: str
    www: str
    ipv4: str
    ipv6: str
    tls: bool

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def url(self, host: str, path: str) -> str:
        return f"{self.scheme}://{host}{path}"

    @property
    def port(self) -> int:
        """The port of the IPv4 host name (routers with a separate port field need it)."""
        return urlsplit(f"//{self.ipv4}").port or (443 if self.tls else 80)

    @property
    def ipv4_name(self) -> str:
        """The IPv4 host name without the port."""
        return urlsplit(f"//{self.ipv4}").hostname or self.ipv4


def update_target(fqdn: str, secret: str, *, www_host: str, ipv4_host: str, ipv6_host: str,
                  base_url: str, request_host: str, tls: bool) -> UpdateTarget:
    """The ini's host names; each missing one falls back to the site's (base_url, else the
    host the page was requested from)."""
    www = www_host or urlsplit(base_url).netloc or request_host
    return UpdateTarget(fqdn, secret, www, ipv4_host or www, ipv6_host or www, tls)


def _single_quoted(value: str) -> str:
    """A value in single quotes for ddclient and UCI (both read shell-like quoting)."""
    return "'" + value.replace("'", "'\\''") + "'"


def ddclient(t: UpdateTarget, family: str = "ipv4") -> str:
    """ddclient 3.10 and newer: the address from our /myip, dyndns2 to the family's own name.

    ddclient sends one family per configuration, so IPv6 (the AAAA record) gets a file of its own.
    """
    v = family[-1]  # "4" or "6"
    host = t.ipv4 if v == "4" else t.ipv6
    return "\n".join([
        "daemon=300",
        f"ssl={'yes' if t.tls else 'no'}",
        "use=no",
        f"usev{v}=webv{v}, webv{v}={t.url(host, '/myip')}",
        "protocol=dyndns2",
        f"server={host}",
        f"login={t.fqdn}",
        f"password={_single_quoted(t.secret)}",
        t.fqdn,
        "",
    ])


def _inadyn_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def inadyn(t: UpdateTarget) -> str:
    """inadyn 2.x: a ``custom`` provider (the built-in ones only know their own servers)."""
    blocks = ["period = 300", ""]
    for family, host in (("ipv4", t.ipv4), ("ipv6", t.ipv6)):
        blocks += [
            f"custom nsupdate-{family} {{",
            f"    ssl             = {'true' if t.tls else 'false'}",
            f"    username        = {_inadyn_string(t.fqdn)}",
            f"    password        = {_inadyn_string(t.secret)}",
            f"    ddns-server     = {_inadyn_string(host)}",
            '    ddns-path       = "/nic/update?hostname=%h&myip=%i"',
            '    ddns-response   = { "good", "nochg" }',
            f"    checkip-server  = {_inadyn_string(host)}",
            '    checkip-path    = "/myip"',
            f"    checkip-ssl     = {'true' if t.tls else 'false'}",
            f"    hostname        = {_inadyn_string(t.fqdn)}",
            *(["    allow-ipv6      = true"] if family == "ipv6" else []),
            "}",
            "",
        ]
    return "\n".join(blocks)


def openwrt(t: UpdateTarget) -> str:
    """/etc/config/ddns for OpenWrt's ddns-scripts (IPv4 and IPv6 sections)."""
    lines = []
    for family, host, v6 in (("ipv4", t.ipv4, "0"), ("ipv6", t.ipv6, "1")):
        update_url = t.url(f"[USERNAME]:[PASSWORD]@{host}",
                           "/nic/update?hostname=[DOMAIN]&myip=[IP]")
        lines += [
            f"config service 'nsupdate_{family}'",
            "\toption enabled '1'",
            f"\toption use_ipv6 '{v6}'",
            f"\toption lookup_host {_single_quoted(t.fqdn)}",
            f"\toption domain {_single_quoted(t.fqdn)}",
            f"\toption username {_single_quoted(t.fqdn)}",
            f"\toption password {_single_quoted(t.secret)}",
            f"\toption update_url {_single_quoted(update_url)}",
            "\toption ip_source 'web'",
            f"\toption ip_url {_single_quoted(t.url(host, '/myip'))}",
            f"\toption use_https '{1 if t.tls else 0}'",
            *(["\toption cacert '/etc/ssl/certs'"] if t.tls else []),
            "\toption check_interval '10'",
            "\toption check_unit 'minutes'",
            "",
        ]
    return "\n".join(lines)


def edgeos(t: UpdateTarget, interface: str = "eth0") -> str:
    """EdgeOS / VyOS configuration-mode commands."""
    prefix = f"set service dns dynamic interface {interface} service custom-nsupdate"
    return "\n".join([
        "configure",
        f"{prefix} host-name {t.fqdn}",
        f"{prefix} login {t.fqdn}",
        f"{prefix} password {shlex.quote(t.secret)}",
        f"{prefix} protocol dyndns2",
        f"{prefix} server {t.ipv4}",
        "commit",
        "save",
        "exit",
        "",
    ])


def dyndnsc(t: UpdateTarget) -> str:
    """dyndnsc.ini: one config per address family."""
    lines = ["[dyndnsc]", "configs = nsupdate_ipv4, nsupdate_ipv6", ""]
    for family, host, detector in (("ipv4", t.ipv4, "webcheck4"), ("ipv6", t.ipv6, "webcheck6")):
        lines += [
            f"[nsupdate_{family}]",
            "updater = dyndns2",
            f"updater-hostname = {t.fqdn}",
            f"updater-userid = {t.fqdn}",
            f"updater-password = {t.secret}",
            f"updater-url = {t.url(host, '/nic/update')}",
            f"detector = {detector}",
            f"detector-url = {t.url(host, '/myip')}",
            "",
        ]
    return "\n".join(lines)


def curl(t: UpdateTarget) -> str:
    """One-off updates from a shell; no address given = the one the request comes from."""
    user = shlex.quote(f"{t.fqdn}:{t.secret}")
    return "\n".join([
        f"curl --user {user} {shlex.quote(t.url(t.ipv4, '/nic/update'))}",
        f"curl --user {user} {shlex.quote(t.url(t.ipv6, '/nic/update'))}",
        f"curl --user {user} "
        f"{shlex.quote(t.url(t.www, '/nic/update?myip=192.0.2.1,2001:db8::1'))}",
        "",
    ])


def wget(t: UpdateTarget) -> str:
    return "\n".join([
        f"wget -qO- --auth-no-challenge --user={shlex.quote(t.fqdn)} "
        f"--password={shlex.quote(t.secret)} {shlex.quote(t.url(t.ipv4, '/nic/update'))}",
        "",
    ])


def fritzbox_urls(t: UpdateTarget) -> dict[str, str]:
    """FRITZ!Box "user-defined" update URLs; the box fills in the <...> fields itself."""
    path = "/nic/update?hostname=<domain>&myip="
    return {
        "ipv4": t.url(t.ipv4, path + "<ipaddr>"),
        "dual": t.url(t.www, path + "<ipaddr>,<ip6addr>"),
        "prefix": t.url(t.www, path + "<ipaddr>,<ip6lanprefix>"),
    }


def all_snippets(t: UpdateTarget) -> dict[str, str]:
    """Every file-like text of the page, by the id of its block."""
    return {
        "ddclient": ddclient(t), "ddclient-ipv6": ddclient(t, "ipv6"), "inadyn": inadyn(t),
        "openwrt": openwrt(t), "edgeos": edgeos(t), "dyndnsc": dyndnsc(t), "curl": curl(t),
        "wget": wget(t),
    }
