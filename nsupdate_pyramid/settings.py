"""Typed application settings, parsed once at start-up.

Every ``nsupdate.*`` key has a type and a default here. A bad value stops the
app with one line naming the key, so an operator never finds out about a typo
from a 500 in production.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from email.utils import parseaddr
from importlib import import_module
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pyramid.settings import asbool, aslist

if TYPE_CHECKING:
    from pyramid.config import Configurator

PREFIX = "nsupdate."
#: The built-in nameserver's keys; misspelt ones are refused like misspelt ``nsupdate.*`` ones.
NAMESERVER_PREFIX = "nameserver."
#: Outgoing mail (pyramid_mailer); we build the mailer from these typed keys, so a misspelt
#: ``mail.*`` key is refused like the others instead of silently sending nowhere.
MAIL_PREFIX = "mail."
#: Remote login (velruse): ``velruse.<provider>.*``; a provider is on when its key is set.
VELRUSE_PREFIX = "velruse."
#: The remote-login providers we offer, in the order the login page lists them.
REMOTE_PROVIDERS = ("github", "google", "bitbucket")
# production.ini ships with this placeholder; the app refuses to run with it.
SAMPLE_SECRET_MARKER = "CHANGE-ME"  # noqa: S105 - the placeholder we refuse, not a secret
MIN_SECRET_LENGTH = 32

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(Exception):
    """A setting is missing or malformed; str() is a one-line explanation.

    Not a subclass of Pyramid's ConfigurationError (nothing catches that by type): importing
    ``pyramid.exceptions`` loads WebOb and pkg_resources, about 18 MiB that the nameserver
    process, which parses its settings here too, must not carry.
    """


def missing_driver(module: str) -> SettingsError:
    """psycopg is optional (the ``postgresql`` extra), so a SQLite site does not load it (zope.
    sqlalchemy imports it whenever it is installed: 10 MiB per process); say what to install."""
    hint = "; install it with: pip install 'nsupdate-pyramid[postgresql]'" \
        if module.startswith("psycopg") else ""
    return SettingsError(f"sqlalchemy.url: its database driver {module!r} is not installed{hint}")


def normalize_fqdn(name: str) -> str:
    """Host names compare case-insensitively and without a trailing dot."""
    return name.strip().rstrip(".").lower()


def _bool(value: str) -> bool:
    text = str(value).strip().lower()
    if text not in {"true", "false", "yes", "no", "on", "off", "1", "0"}:
        raise ValueError(f"expected true or false, got {value!r}")
    return asbool(text)


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(str(value).strip())
        if not low <= number <= high:
            raise ValueError(f"expected a whole number from {low} to {high}, got {number}")
        return number

    return parse


def _float_between(low: float, high: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        number = float(str(value).strip())
        if not low <= number <= high:
            raise ValueError(f"expected a number from {low} to {high}, got {number}")
        return number

    return parse


def _text(value: str) -> str:
    return str(value).strip()


def _words(value: str) -> tuple[str, ...]:
    return tuple(aslist(value))


def _lines(value: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in str(value).splitlines() if line.strip())


def _fqdns(value: str) -> frozenset[str]:
    return frozenset(normalize_fqdn(word) for word in aslist(value))


def _networks(value: str) -> tuple[IPNetwork, ...]:
    networks = []
    for word in aslist(value):
        try:
            networks.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            raise ValueError(f"{word!r} is not an IP address or CIDR network") from None
    return tuple(networks)


_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")


def _host_port(value: str) -> str:
    text = str(value).strip()
    if text and not _HOST_PORT.match(text):
        raise ValueError(f"{text!r} is not a host name with an optional :port")
    return text


def _base_url(value: str) -> str:
    text = str(value).strip().rstrip("/")
    if text and not re.match(r"^https?://[^/\s]+(/\S*)?$", text):
        raise ValueError(f"{text!r} is not an http:// or https:// URL")
    return text


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        text = str(value).strip()
        if text not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {text!r}")
        return text

    return parse


def _secret(value: str) -> str:
    text = str(value).strip()
    if text.startswith(SAMPLE_SECRET_MARKER):
        raise ValueError("still the sample value; generate one with: python3 -c 'import secrets; "
                         "print(secrets.token_urlsafe(48))'")
    if len(text) < MIN_SECRET_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters long")
    return text


def _backends(value: str) -> Mapping[str, str]:
    """``name = package.module:Class`` lines; the class must import."""
    backends: dict[str, str] = {}
    for line in _lines(value):
        name, sep, dotted = (part.strip() for part in line.partition("="))
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_-]*", name) or not dotted:
            raise ValueError(f"expected 'name = package.module:Class', got {line!r}")
        if name in backends:
            raise ValueError(f"backend {name!r} is declared twice")
        module_name, _, attr = dotted.partition(":")
        try:
            module = import_module(module_name)
            getattr(module, attr)
        except (ImportError, AttributeError, ValueError):
            raise ValueError(f"cannot import backend {name!r} from {dotted!r}") from None
        backends[name] = dotted
    return MappingProxyType(backends)


_LISTEN_ADDRESS = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<v4>[0-9.]+)):(?P<port>\d{1,5})$")


def _addresses_with_port(value: str) -> tuple[tuple[str, int], ...]:
    """``127.0.0.1:5353 [::1]:5353``: IP literals (a socket binds to an address, not a name)."""
    pairs = []
    for word in aslist(value):
        match = _LISTEN_ADDRESS.match(word)
        try:
            if match is None:
                raise ValueError
            address = ipaddress.ip_address(match["v6"] or match["v4"])
            port = int(match["port"])
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            raise ValueError(f"{word!r} is not an address:port like 127.0.0.1:53 or [::1]:53") from None
        pairs.append((str(address), port))
    return tuple(pairs)


def _resolvers(value: str) -> tuple[tuple[str, int], ...] | None:
    """Resolvers for reverse lookups and the domain check: address:port list, empty = the
    system's (/etc/resolv.conf), ``none`` = no lookups at all (pages say "not available")."""
    if str(value).strip().lower() == "none":
        return None
    return _addresses_with_port(value)


def _dns_names(value: str) -> tuple[str, ...]:
    """Absolute host names (trailing dot added), as they appear in NS and SOA records."""
    names = []
    for word in aslist(value):
        name = word.strip().lower().rstrip(".")
        if not re.fullmatch(r"[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*", name):
            raise ValueError(f"{word!r} is not a host name")
        names.append(name + ".")
    return tuple(names)


def _dns_name(value: str) -> str:
    names = _dns_names(value)
    if len(names) > 1:
        raise ValueError(f"expected one name, got {len(names)}")
    return names[0] if names else ""


def _tsig_key(value: str) -> tuple[str, str, str] | None:
    """``[algorithm:]name:secret`` as dig's -y option takes it -> (algorithm, name, secret)."""
    text = str(value).strip()
    if not text:
        return None
    parts = text.split(":")
    if len(parts) == 2:
        parts.insert(0, "hmac-sha256")
    if len(parts) != 3 or not all(parts):
        raise ValueError("expected [algorithm:]keyname:base64secret, as dig -y takes it")
    algorithm, name, secret = (part.strip() for part in parts)
    if algorithm.lower() not in {"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256",
                                 "hmac-sha384", "hmac-sha512"}:
        raise ValueError(f"unknown TSIG algorithm {algorithm!r}")
    try:
        if not base64.b64decode(secret, validate=True):
            raise ValueError
    except (binascii.Error, ValueError):
        raise ValueError("the TSIG secret is not base64") from None
    return algorithm.lower(), _dns_name(name), secret


def _regexes(value: str) -> tuple[str, ...]:
    patterns = _lines(value)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from None
    return patterns


def _language_list(value: str) -> tuple[str, ...]:
    languages = _words(value)
    for code in languages:
        if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", code):
            raise ValueError(f"{code!r} is not a language code like en or pt_BR")
    if not languages:
        raise ValueError("name at least one language")
    return languages


def _email_or_empty(value: str) -> str:
    text = str(value).strip()
    address = parseaddr(text)[1]
    if text and not re.fullmatch(r"[^<>@\s]+@[^<>@\s]+", address):
        raise ValueError(f"{text!r} is not an email address (or 'Name <address>')")
    return text


def _opt(parser: Callable[[str], Any], default: str, key: str | None = None) -> Any:
    """A dataclass field parsed from ``nsupdate.<name>`` (or ``key``) with a textual default."""
    return field(default=None, metadata={"parser": parser, "default": default, "key": key})


@dataclass(frozen=True)
class AppSettings:
    """Everything the app reads from its ini, typed."""

    service_name: str = _opt(_text, "nsupdate-pyramid")
    service_contact: str = _opt(_text, "")
    base_url: str = _opt(_base_url, "")
    we_have_tls: bool = _opt(_bool, "false")
    www_host: str = _opt(_host_port, "")
    ipv4_host: str = _opt(_host_port, "")
    ipv6_host: str = _opt(_host_port, "")
    bad_hosts: frozenset[str] = _opt(_fqdns, "")
    bad_agents: frozenset[str] = _opt(lambda v: frozenset(_lines(v)), "")
    bad_ips: tuple[IPNetwork, ...] = _opt(_networks, "")
    trusted_proxies: tuple[IPNetwork, ...] = _opt(_networks, "")
    nochg_verify_dns: bool = _opt(_bool, "false")
    registration_open: bool = _opt(_bool, "true")
    default_ttl: int = _opt(_int_between(1, 86400), "60")
    default_backend: str = _opt(_text, "")
    dns_timeout: float = _opt(_float_between(0.1, 60.0), "3")
    resolvers: tuple[tuple[str, int], ...] | None = _opt(_resolvers, "")
    languages: tuple[str, ...] = _opt(_language_list, "en")
    default_language: str = _opt(_text, "en")
    session_max_age: int = _opt(_int_between(60, 400 * 86400), "36000")
    # "Keep me logged in": how long such a login lasts without a visit (a cookie that outlives
    # the browser); ordinary logins end with the browser session or after session_max_age.
    remember_max_age: int = _opt(_int_between(60, 400 * 86400), "2592000")
    custom_templates: str = _opt(_text, "")
    host_blacklist: tuple[str, ...] = _opt(_regexes, "")
    api_auth_max_failures: int = _opt(_int_between(0, 1_000_000), "10")
    api_auth_lockout: int = _opt(_int_between(1, 30 * 86400), "300")
    dns_breaker_failures: int = _opt(_int_between(0, 1000), "2")
    dns_breaker_pause: int = _opt(_int_between(1, 86400), "30")
    bookkeeping_interval: float = _opt(_float_between(0.0, 60.0), "0.5")
    # The per-answer log lines (nsupdate_pyramid.updates) written by a background thread.
    update_log_queue: bool = _opt(_bool, "false")
    # sys.setswitchinterval for the whole process; 0 leaves Python's 0.005 s.
    thread_switch_interval: float = _opt(_float_between(0.0, 1.0), "0")
    services_timeout: float = _opt(_float_between(0.5, 120.0), "10")
    services_workers: int = _opt(_int_between(1, 64), "4")
    session_secret: str = _opt(_secret, "", key="session.secret")
    dns_backends: Mapping[str, str] = _opt(_backends, "", key="dns.backends")
    # The built-in nameserver (nsupdate_pyramid.nameserver) and the zones of the builtin backend.
    nameserver_listen: tuple[tuple[str, int], ...] = _opt(
        _addresses_with_port, "127.0.0.1:5353", key="nameserver.listen")
    nameserver_embedded: bool = _opt(_bool, "false", key="nameserver.embedded")
    nameserver_ttl: int = _opt(_int_between(0, 86400), "1", key="nameserver.ttl")
    nameserver_axfr_allow: tuple[IPNetwork, ...] = _opt(_networks, "", key="nameserver.axfr_allow")
    nameserver_axfr_key: tuple[str, str, str] | None = _opt(_tsig_key, "", key="nameserver.axfr_key")
    nameserver_notify: tuple[tuple[str, int], ...] = _opt(
        _addresses_with_port, "", key="nameserver.notify")
    nameserver_ns: tuple[str, ...] = _opt(_dns_names, "localhost", key="nameserver.ns")
    nameserver_soa_mname: str = _opt(_dns_name, "", key="nameserver.soa_mname")
    nameserver_soa_rname: str = _opt(_dns_name, "", key="nameserver.soa_rname")
    nameserver_soa_refresh: int = _opt(_int_between(1, 2**31 - 1), "300", key="nameserver.soa_refresh")
    nameserver_soa_retry: int = _opt(_int_between(1, 2**31 - 1), "60", key="nameserver.soa_retry")
    nameserver_soa_expire: int = _opt(_int_between(1, 2**31 - 1), "1209600",
                                      key="nameserver.soa_expire")
    nameserver_soa_minimum: int = _opt(_int_between(0, 86400), "60", key="nameserver.soa_minimum")
    nameserver_poll_interval: float = _opt(_float_between(0.05, 60.0), "0.5",
                                           key="nameserver.poll_interval")
    # Accounts: how long the links we mail stay valid (seconds), passwords, login throttling.
    activation_max_age: int = _opt(_int_between(300, 90 * 86400), "604800")
    password_reset_max_age: int = _opt(_int_between(300, 7 * 86400), "7200")
    email_change_max_age: int = _opt(_int_between(300, 30 * 86400), "86400")
    password_min_length: int = _opt(_int_between(8, 128), "10")
    login_max_failures: int = _opt(_int_between(0, 100_000), "10")
    login_max_failures_address: int = _opt(_int_between(0, 1_000_000), "50")
    login_lockout: int = _opt(_int_between(1, 7 * 86400), "900")
    # Outgoing mail: SMTP (STARTTLS when mail.tls), or .eml files in a folder (development).
    mail_host: str = _opt(_text, "localhost", key="mail.host")
    mail_port: int = _opt(_int_between(1, 65535), "25", key="mail.port")
    mail_username: str = _opt(_text, "", key="mail.username")
    mail_password: str = _opt(_text, "", key="mail.password")
    mail_tls: bool = _opt(_bool, "false", key="mail.tls")
    mail_ssl: bool = _opt(_bool, "false", key="mail.ssl")
    mail_ca_file: str = _opt(_text, "", key="mail.ca_file")
    mail_default_sender: str = _opt(_email_or_empty, "", key="mail.default_sender")
    mail_top_level_directory: str = _opt(_text, "", key="mail.top_level_directory")
    # Remote login through velruse: a provider is offered when its consumer key is set.
    github_consumer_key: str = _opt(_text, "", key="velruse.github.consumer_key")
    github_consumer_secret: str = _opt(_text, "", key="velruse.github.consumer_secret")
    github_scope: str = _opt(_text, "read:user user:email", key="velruse.github.scope")
    # GitHub Enterprise Server: https://github.example.com and https://github.example.com/api/v3
    github_url: str = _opt(_base_url, "https://github.com", key="velruse.github.url")
    github_api_url: str = _opt(_base_url, "https://api.github.com", key="velruse.github.api_url")
    google_consumer_key: str = _opt(_text, "", key="velruse.google.consumer_key")
    google_consumer_secret: str = _opt(_text, "", key="velruse.google.consumer_secret")
    google_scope: str = _opt(_text, "openid email profile", key="velruse.google.scope")
    # Bitbucket Cloud: the scopes (account, email) and the callback URL are set on the consumer.
    bitbucket_consumer_key: str = _opt(_text, "", key="velruse.bitbucket.consumer_key")
    bitbucket_consumer_secret: str = _opt(_text, "", key="velruse.bitbucket.consumer_secret")

    def remote_providers(self) -> tuple[str, ...]:
        """The providers whose keys are set, in the order of REMOTE_PROVIDERS."""
        return tuple(name for name in REMOTE_PROVIDERS if getattr(self, f"{name}_consumer_key"))

    @classmethod
    def ini_keys(cls) -> dict[str, str]:
        """Map ini key -> field name for every setting this class reads."""
        return {f.metadata["key"] or PREFIX + f.name: f.name for f in fields(cls)}


def parse_settings(raw: Mapping[str, Any]) -> AppSettings:
    """Parse and cross-check settings; raise SettingsError with one line on the first problem."""
    known = AppSettings.ini_keys()
    strict = (PREFIX, NAMESERVER_PREFIX, MAIL_PREFIX, VELRUSE_PREFIX)
    unknown = sorted(key for key in raw if key.startswith(strict) and key not in known)
    if unknown:
        prefix = next(p for p in strict if unknown[0].startswith(p))
        raise SettingsError(f"unknown setting {unknown[0]}: check the spelling (known: "
                            f"{', '.join(sorted(k for k in known if k.startswith(prefix)))})")
    values = _parse_fields(raw, ("",))  # every setting
    if not values["default_backend"] and values["dns_backends"]:
        values["default_backend"] = next(iter(values["dns_backends"]))
    settings = AppSettings(**values)
    _cross_check(settings)
    return settings


def _parse_fields(raw: Mapping[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    """Field name -> parsed value for every setting whose ini key starts with one of ``prefixes``."""
    values: dict[str, Any] = {}
    for f in fields(AppSettings):
        key = f.metadata["key"] or PREFIX + f.name
        if not key.startswith(prefixes):
            continue
        text = raw.get(key, f.metadata["default"])
        if text is None:
            text = f.metadata["default"]
        try:
            values[f.name] = f.metadata["parser"](text)
        except ValueError as exc:
            raise SettingsError(f"bad setting {key}: {exc}") from None
    return values


def parse_nameserver_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Only the ``nameserver.*`` settings (field name -> value), checked as parse_settings does.

    For the ``nsupdate-nameserver`` process: parse_settings checks ``dns.backends`` by importing
    every backend, and with them the web app, which the nameserver must not load.
    """
    known = AppSettings.ini_keys()
    unknown = sorted(key for key in raw if key.startswith(NAMESERVER_PREFIX) and key not in known)
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]}: check the spelling (known: "
                            f"{', '.join(sorted(k for k in known if k.startswith(NAMESERVER_PREFIX)))})")
    values = _parse_fields(raw, (NAMESERVER_PREFIX,))
    if not values["nameserver_ns"]:
        raise SettingsError(NO_NAMESERVER)
    return values


NO_NAMESERVER = "bad setting nameserver.ns: name at least one nameserver of the zones"


def _cross_check(settings: AppSettings) -> None:
    backends = settings.dns_backends
    if settings.default_backend and settings.default_backend not in backends:
        raise SettingsError(
            f"bad setting nsupdate.default_backend: unknown backend {settings.default_backend!r} "
            f"(dns.backends declares: {', '.join(backends) or 'none'})")
    if not settings.nameserver_ns:
        raise SettingsError(NO_NAMESERVER)
    if settings.default_language not in settings.languages:
        raise SettingsError(f"bad setting nsupdate.default_language: {settings.default_language!r} "
                            f"is not in nsupdate.languages")
    for name in REMOTE_PROVIDERS:
        key, secret = (getattr(settings, f"{name}_consumer_{part}") for part in ("key", "secret"))
        if bool(key) != bool(secret):
            raise SettingsError(f"bad setting velruse.{name}.consumer_secret: set both "
                                f"velruse.{name}.consumer_key and velruse.{name}.consumer_secret "
                                f"(or neither, to turn {name} logins off)")
    if settings.mail_tls and settings.mail_ssl:
        raise SettingsError("bad setting mail.tls: use either mail.tls (STARTTLS) or mail.ssl "
                            "(TLS from the start), not both")


def get_app_settings(registry: Any) -> AppSettings:
    return registry["nsupdate.settings"]


def includeme(config: Configurator) -> None:
    settings = parse_settings(config.get_settings())
    config.registry["nsupdate.settings"] = settings
    config.add_request_method(lambda request: get_app_settings(request.registry), "app_settings",
                              reify=True)
