"""Settings are typed, defaulted, cross-checked, and a bad one stops start-up with one line."""
from __future__ import annotations

import configparser
import ipaddress
from pathlib import Path

import pytest

from nsupdate_pyramid import main
from nsupdate_pyramid.settings import AppSettings, SettingsError, parse_settings

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "session.secret": "s" * 40,
    "dns.backends": "memory = nsupdate_pyramid.dns.memory:MemoryBackend",
}


def ini_settings(name: str) -> dict[str, str]:
    parser = configparser.ConfigParser(defaults={"here": str(ROOT)})
    parser.read(ROOT / name)
    return dict(parser.items("app:main"))


def test_defaults_are_typed() -> None:
    settings = parse_settings(GOOD)
    assert settings.we_have_tls is False
    assert settings.default_ttl == 60
    assert settings.default_backend == "memory"  # the first declared backend
    assert settings.trusted_proxies == ()
    assert settings.registration_open is True


def test_values_are_parsed() -> None:
    settings = parse_settings({
        **GOOD,
        "nsupdate.we_have_tls": "yes",
        "nsupdate.trusted_proxies": "10.0.0.0/8 ::1",
        "nsupdate.bad_hosts": "Bad.Example.ORG. other.example.org",
        "nsupdate.bad_agents": "evil-agent/1.0\nworse agent",
        "nsupdate.default_ttl": "300",
    })
    assert settings.we_have_tls is True
    assert settings.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))
    assert settings.bad_hosts == {"bad.example.org", "other.example.org"}
    assert settings.bad_agents == {"evil-agent/1.0", "worse agent"}
    assert settings.default_ttl == 300


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("nsupdate.trusted_proxies", "10.0.0.0/33", "bad setting nsupdate.trusted_proxies: '10.0.0.0/33'"),
    ("nsupdate.trusted_proxies", "proxy.example.org", "is not an IP address or CIDR network"),
    ("nsupdate.bad_ips", "1.2.3", "bad setting nsupdate.bad_ips"),
    ("nsupdate.we_have_tls", "maybe", "bad setting nsupdate.we_have_tls: expected true or false"),
    ("nsupdate.default_ttl", "0", "bad setting nsupdate.default_ttl: expected a whole number from 1"),
    ("nsupdate.default_ttl", "sixty", "bad setting nsupdate.default_ttl"),
    ("nsupdate.default_backend", "rfc9999", "unknown backend 'rfc9999'"),
    ("nsupdate.base_url", "ftp://x", "bad setting nsupdate.base_url"),
    ("nsupdate.ipv4_host", "has space", "bad setting nsupdate.ipv4_host"),
    ("nsupdate.default_language", "de", "bad setting nsupdate.default_language"),
    ("nsupdate.languages", "english", "bad setting nsupdate.languages"),
    ("nsupdate.tls", "true", "unknown setting nsupdate.tls"),
    ("session.secret", "short", "bad setting session.secret: must be at least 32"),
    ("session.secret", "CHANGE-ME-to-a-long-random-string-xxxxxxxx", "still the sample value"),
    ("dns.backends", "memory = nsupdate_pyramid.dns.nope:Backend", "cannot import backend 'memory'"),
    ("dns.backends", "no equals sign here", "expected 'name = package.module:Class'"),
])
def test_bad_values_give_one_line(key: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings({**GOOD, key: value})
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_missing_secret_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"session\.secret"):
        parse_settings({"dns.backends": GOOD["dns.backends"]})


def test_every_setting_is_documented_in_development_ini() -> None:
    documented = set(ini_settings("development.ini"))
    missing = [key for key in AppSettings.ini_keys() if key not in documented]
    assert not missing, f"development.ini does not list {missing}"


def test_development_ini_parses() -> None:
    settings = parse_settings(ini_settings("development.ini"))
    assert settings.default_backend in settings.dns_backends


def test_production_ini_refuses_the_sample_secret() -> None:
    with pytest.raises(SettingsError, match=r"session\.secret: still the sample value"):
        parse_settings(ini_settings("production.ini"))


def test_production_ini_starts_with_a_real_secret() -> None:
    raw = ini_settings("production.ini")
    raw["session.secret"] = "a-real-secret-" + "k" * 40
    settings = parse_settings(raw)
    assert settings.we_have_tls is True


def test_app_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"nsupdate\.trusted_proxies"):
        main({}, **{**GOOD, "sqlalchemy.url": f"sqlite:///{tmp_path}/x.sqlite",
                    "nsupdate.trusted_proxies": "not-a-network"})


def test_database_pool_keeps_enough_connections(tmp_path: Path) -> None:
    """SQLAlchemy's 5 would close and reopen connections under 8 waitress threads; an operator's
    sqlalchemy.pool_size wins, and in-memory SQLite keeps its own pool."""
    from nsupdate_pyramid.models import DEFAULT_POOL_SIZE, get_engine

    url = f"sqlite:///{tmp_path / 'pool.sqlite'}"
    engines = [get_engine({"sqlalchemy.url": url}),
               get_engine({"sqlalchemy.url": url, "sqlalchemy.pool_size": "3"}),
               get_engine({"sqlalchemy.url": "sqlite://"})]
    try:
        assert engines[0].pool.size() == DEFAULT_POOL_SIZE >= 20
        assert engines[1].pool.size() == 3
        with engines[2].connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        for engine in engines:
            engine.dispose()


def test_thread_switch_interval_is_applied_or_left_alone(tmp_path: Path) -> None:
    """production.ini's 0.002 reaches the interpreter; 0 (the default) keeps what it had; a
    value out of range stops the start like any other bad setting."""
    import sys

    before = sys.getswitchinterval()
    base = {**GOOD, "sqlalchemy.url": f"sqlite:///{tmp_path}/switch.sqlite"}
    try:
        main({}, **base)
        assert sys.getswitchinterval() == before
        main({}, **{**base, "nsupdate.thread_switch_interval": "0.002"})
        assert sys.getswitchinterval() == pytest.approx(0.002)
        with pytest.raises(SettingsError, match=r"nsupdate\.thread_switch_interval"):
            main({}, **{**base, "nsupdate.thread_switch_interval": "5"})
    finally:
        sys.setswitchinterval(before)


def test_postgresql_without_psycopg_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """psycopg is the optional ``postgresql`` extra: without it, the web app and the nameserver
    refuse a PostgreSQL URL with one line naming the extra, not an ImportError from SQLAlchemy."""
    import importlib.util
    import sys

    from nsupdate_pyramid.models import get_engine
    from nsupdate_pyramid.nameserver.source import ZoneSource

    url = "postgresql+psycopg://nsupdate:pw@127.0.0.1/nsupdate"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "psycopg" else real_find_spec(name, *a))
    for name in [name for name in sys.modules if name == "psycopg" or name.startswith("psycopg.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # "import psycopg" fails as if not installed
    hint = r"'psycopg' is not installed; install it with: pip install 'nsupdate-pyramid\[postgresql\]'"
    with pytest.raises(SettingsError, match=r"sqlalchemy\.url: its database driver " + hint):
        get_engine({"sqlalchemy.url": url})
    with pytest.raises(SettingsError, match=hint):
        ZoneSource.from_settings({"sqlalchemy.url": url})
    with pytest.raises(SettingsError, match=hint):
        main({}, **{**GOOD, "sqlalchemy.url": url})
