"""The DigitalOcean, Cloudflare and Rackspace backends against faithful fakes of their HTTP APIs.

Everything goes over real HTTPS on loopback (tests/fixtures/providers.py): the backends' own
``requests`` sessions, TLS verification against a test CA, JSON shapes and error bodies. The
first part drives the backends directly (every record type, replace, delete, id caching, every
failure the brief maps); the second drives the update API through them, like
test_api_nameservers.py does for BIND. Fakes live for the session, so host labels are unique.
"""
from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from zope.interface.verify import verifyObject

from nsupdate_pyramid import main
from nsupdate_pyramid.dns.errors import (
    DNSBadKey,
    DNSNetworkError,
    DNSNotZone,
    DNSRateLimited,
    DNSRefused,
    DNSServFail,
    DNSTimeout,
)
from nsupdate_pyramid.dns.providers import ProviderBackend
from nsupdate_pyramid.dns.providers.cloudflare import CloudflareBackend
from nsupdate_pyramid.dns.providers.digitalocean import DigitalOceanBackend
from nsupdate_pyramid.dns.providers.rackspace import RackspaceBackend
from nsupdate_pyramid.dns.zone import ZoneInfo
from nsupdate_pyramid.interfaces import IDNSBackend
from nsupdate_pyramid.models import Host
from nsupdate_pyramid.services.breaker import CircuitBreaker
from tests.conftest import AppClient
from tests.fixtures.net import free_port

pytest_plugins = ["tests.fixtures.providers"]

PROVIDERS = ("digitalocean", "cloudflare", "rackspace")
CLASSES: dict[str, type[ProviderBackend]] = {
    "digitalocean": DigitalOceanBackend, "cloudflare": CloudflareBackend, "rackspace": RackspaceBackend}
ZONES = {"digitalocean": "dyn-do.test", "cloudflare": "dyn-cf.test", "rackspace": "dyn-rs.test"}
#: What each fake says about a wrong credential, as the real API does.
AUTH_TEXT = {"digitalocean": "Unable to authenticate you", "cloudflare": "Invalid access token",
             "rackspace": "Username or api key is invalid."}
RATE_TEXT = {"digitalocean": "API Rate limit exceeded.",
             "cloudflare": "Please wait and consider throttling your request speed",
             "rackspace": "OverLimit Retry..."}
WRONG = {"digitalocean": {"token": "dop_v1_" + "0" * 64},
         "cloudflare": {"token": "wrongTokenForTheFakeApi_0123456789abcdef"},
         "rackspace": {"api_key": "f" * 32}}
#: Records a backend writes for a domain TTL of 60: raised to each provider's minimum.
WRITTEN_TTL = {"digitalocean": 60, "cloudflare": 60, "rackspace": 300}


def backend_settings(api: Any, ca: str, **extra: str) -> dict[str, str]:
    return {**api.backend_settings(), "ca_file": ca, "timeout": "2", **extra}


@pytest.fixture(scope="session")
def provider_apis(digitalocean_api: Any, cloudflare_api: Any, rackspace_api: Any) -> dict[str, Any]:
    apis = {"digitalocean": digitalocean_api, "cloudflare": cloudflare_api, "rackspace": rackspace_api}
    for provider, api in apis.items():
        api.add_zone(ZONES[provider])
    rackspace_api.add_zone("sub.dyn-rs.test")  # found by the name filter too: must not be taken
    return apis


@dataclass
class Lab:
    """One provider: its fake, a fresh backend (empty caches) and helpers."""

    provider: str
    api: Any
    backend: Any
    ca_file: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(name=ZONES[self.provider])

    def fqdn(self, label: str) -> str:
        return f"{label}.{ZONES[self.provider]}"

    def values(self, label: str, rdtype: str) -> list[str]:
        return self.api.values(ZONES[self.provider], self.fqdn(label), rdtype)

    def other(self, **extra: str) -> Any:
        """Another backend for the same fake, with some settings changed."""
        settings = backend_settings(self.api, self.ca_file, **extra)
        return CLASSES[self.provider].create_service(self.provider, settings)


def unique() -> str:
    return "h" + uuid.uuid4().hex[:10]


@pytest.fixture(params=PROVIDERS)
def lab(request: pytest.FixtureRequest, provider_apis: dict[str, Any],
        provider_ca: Any) -> Iterator[Lab]:
    provider = request.param
    api = provider_apis[provider]
    backend = CLASSES[provider].create_service(provider, backend_settings(api, provider_ca.ca_file))
    yield Lab(provider, api, backend, provider_ca.ca_file)
    api.clear_faults()
    if provider == "rackspace":
        api.job_polls = 0  # type: ignore[attr-defined]
    backend.session.close()


# -- the contract -----------------------------------------------------------------------------


def test_implements_the_interface(lab: Lab) -> None:
    assert verifyObject(IDNSBackend, lab.backend)
    assert lab.backend.name == lab.provider


@pytest.mark.parametrize(("rdtype", "first", "second"), [
    ("A", ["192.0.2.1"], ["192.0.2.2"]),
    ("AAAA", ["2001:db8::1"], ["2001:db8::2"]),
    ("TXT", ["hello world", "v=spf1 -all"], ["only one \"quoted\" value"]),
])
def test_update_replace_query_delete(lab: Lab, rdtype: str, first: list[str], second: list[str]) -> None:
    label = unique()
    lab.backend.update(lab.zone, label, rdtype, first)
    assert lab.values(label, rdtype) == sorted(first)
    assert lab.backend.query(lab.zone, label, rdtype) == sorted(first)
    lab.backend.update(lab.zone, label, rdtype, second)  # replace, never add
    assert lab.values(label, rdtype) == sorted(second)
    assert lab.backend.query(lab.zone, label, rdtype) == sorted(second)
    lab.backend.update(lab.zone, label, rdtype, first)  # and back to two records
    assert lab.values(label, rdtype) == sorted(first)
    lab.backend.delete(lab.zone, label, rdtype)
    assert lab.values(label, rdtype) == []
    assert lab.backend.query(lab.zone, label, rdtype) == []
    lab.backend.delete(lab.zone, label, rdtype)  # absent: no error


def test_types_are_independent_and_ttl_is_raised_to_the_providers_minimum(lab: Lab) -> None:
    label = unique()
    lab.backend.update(lab.zone, label, "A", ["192.0.2.7"])
    lab.backend.update(lab.zone, label, "AAAA", ["2001:DB8:0:0::7"])
    assert lab.values(label, "A") == ["192.0.2.7"]
    assert lab.values(label, "AAAA") == ["2001:db8::7"]  # canonical spelling
    zone = lab.api.zones[ZONES[lab.provider]]
    assert {record.ttl for record in zone.find(lab.fqdn(label))} == {WRITTEN_TTL[lab.provider]}
    lab.backend.delete(lab.zone, label, "A")
    assert lab.values(label, "AAAA") == ["2001:db8::7"]


def test_apex_and_nested_names(lab: Lab) -> None:
    nested = f"nas.{unique()}"
    lab.backend.update(lab.zone, nested, "A", ["192.0.2.9"])
    assert lab.values(nested, "A") == ["192.0.2.9"]
    token = f"apex-{uuid.uuid4().hex}"
    lab.backend.update(lab.zone, "@", "TXT", [token])
    assert token in lab.api.values(ZONES[lab.provider], ZONES[lab.provider], "TXT")
    lab.backend.delete(lab.zone, "", "TXT")
    assert lab.api.values(ZONES[lab.provider], ZONES[lab.provider], "TXT") == []


def test_bad_input_is_refused_before_any_request(lab: Lab) -> None:
    lab.api.reset_log()
    for rdtype, value in (("A", "2001:db8::1"), ("AAAA", "192.0.2.1"), ("MX", "10 mail"), ("A", "x")):
        with pytest.raises(ValueError, match=r"supported|invalid"):
            lab.backend.update(lab.zone, unique(), rdtype, [value])
    assert lab.api.count() == 0


def test_check(lab: Lab) -> None:
    result = lab.backend.check(lab.zone)
    assert result.ok, result.message
    assert lab.provider.lower() in result.message.lower() and ZONES[lab.provider] in result.message
    missing = lab.backend.check(ZoneInfo(name="absent.test"))
    assert not missing.ok and "absent.test" in missing.message


# -- id caching -------------------------------------------------------------------------------


def changes(api: Any) -> int:
    """Requests that change records (Rackspace's token requests are POSTs too)."""
    return api.count() - api.count("GET") - api.count("POST", "/tokens")


def lookups(api: Any) -> int:
    """GETs other than the polling of Rackspace jobs."""
    return api.count("GET") - api.count("GET", "/status/")


def test_zone_and_record_ids_are_looked_up_once(lab: Lab) -> None:
    label = unique()
    lab.backend.update(lab.zone, label, "A", ["192.0.2.20"])
    lab.api.reset_log()
    lab.backend.update(lab.zone, label, "A", ["192.0.2.21"])
    lab.backend.update(lab.zone, label, "A", ["192.0.2.22"])
    assert (lookups(lab.api), changes(lab.api)) == (0, 2)  # one PUT each, nothing looked up
    assert lab.values(label, "A") == ["192.0.2.22"]
    other = unique()
    lab.api.reset_log()
    lab.backend.update(lab.zone, other, "A", ["192.0.2.23"])
    assert lookups(lab.api) == 1  # the zone id is cached too: only the records are listed
    lab.api.reset_log()
    lab.backend.delete(lab.zone, other, "A")
    assert (lookups(lab.api), changes(lab.api)) == (0, 1)


def test_a_record_removed_behind_our_back_is_created_again(lab: Lab) -> None:
    label = unique()
    lab.backend.update(lab.zone, label, "A", ["192.0.2.30"])
    lab.api.drop(ZONES[lab.provider], lab.fqdn(label), "A")
    lab.backend.update(lab.zone, label, "A", ["192.0.2.31"])  # 404 on the cached id, retried
    assert lab.values(label, "A") == ["192.0.2.31"]


def test_a_record_recreated_behind_our_back_is_still_deleted(lab: Lab) -> None:
    label = unique()
    lab.backend.update(lab.zone, label, "A", ["192.0.2.32"])
    lab.api.drop(ZONES[lab.provider], lab.fqdn(label), "A")
    lab.api.put(ZONES[lab.provider], lab.fqdn(label), "A", "192.0.2.33")
    lab.backend.delete(lab.zone, label, "A")
    assert lab.values(label, "A") == []


def test_duplicates_made_elsewhere_are_cleaned_up(lab: Lab) -> None:
    label = unique()
    for last in (40, 41, 42):
        lab.api.put(ZONES[lab.provider], lab.fqdn(label), "A", f"192.0.2.{last}")
    lab.backend.update(lab.zone, label, "A", ["192.0.2.43"])
    assert lab.values(label, "A") == ["192.0.2.43"]


def test_a_record_that_already_matches_is_left_alone(lab: Lab) -> None:
    label = unique()
    lab.api.put(ZONES[lab.provider], lab.fqdn(label), "A", "192.0.2.44", ttl=WRITTEN_TTL[lab.provider])
    lab.api.reset_log()
    lab.backend.update(lab.zone, label, "A", ["192.0.2.44"])
    assert changes(lab.api) == 0


def test_every_page_is_read(lab: Lab) -> None:
    label = unique()
    many = [f"value {n:03d}" for n in range(205)]
    for value in many:
        lab.api.put(ZONES[lab.provider], lab.fqdn(label), "TXT", value)
    assert lab.backend.query(lab.zone, label, "TXT") == many


def test_one_backend_serves_many_threads(lab: Lab) -> None:
    """Updates of one name wait for each other (one record at the end); other names run freely."""
    shared, own = unique(), [unique() for _ in range(6)]
    errors: list[BaseException] = []

    def update(label: str, n: int) -> None:
        try:
            lab.backend.update(lab.zone, label, "A", [f"192.0.2.{100 + n}"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=update, args=(shared, n)) for n in range(6)]
    threads += [threading.Thread(target=update, args=(label, n)) for n, label in enumerate(own)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(lab.values(shared, "A")) == 1
    assert [lab.values(label, "A") for label in own] == [[f"192.0.2.{100 + n}"] for n in range(6)]


def test_waiting_for_another_change_of_the_name_counts_against_the_budget(lab: Lab) -> None:
    fast, label = lab.other(timeout="0.3"), unique()
    lock = fast._rrset_lock((ZONES[lab.provider], lab.fqdn(label), "A"))
    with lock:  # another thread is changing the same name and does not finish
        started = time.monotonic()
        with pytest.raises(DNSTimeout, match="another change of this name"):
            fast.update(lab.zone, label, "A", ["192.0.2.99"])
        assert time.monotonic() - started < 0.6


# -- failures ---------------------------------------------------------------------------------


def no_secret_in(message: str, api: Any) -> None:
    for key, secret in api.backend_settings().items():
        if key in ("token", "api_key"):
            assert secret not in message


def test_wrong_credentials(lab: Lab) -> None:
    wrong = lab.other(**WRONG[lab.provider])
    with pytest.raises(DNSBadKey) as caught:
        wrong.update(lab.zone, unique(), "A", ["192.0.2.50"])
    message = caught.value.message
    assert message.startswith(f"{CLASSES[lab.provider].provider} zone {ZONES[lab.provider]}: ")
    assert AUTH_TEXT[lab.provider] in message
    assert f"dns.backend.{lab.provider}." in message
    no_secret_in(message, lab.api)
    for secret in WRONG[lab.provider].values():
        assert secret not in message
    assert caught.value.trips_breaker
    result = wrong.check(lab.zone)
    assert not result.ok and AUTH_TEXT[lab.provider] in result.message


@pytest.mark.parametrize(("token", "text"), [
    ("short", "Invalid format for Authorization header"),
    ("x" * 40, "Invalid access token"),
])
def test_cloudflare_refuses_malformed_and_unknown_tokens(provider_apis: dict[str, Any],
                                                         provider_ca: Any, token: str,
                                                         text: str) -> None:
    """A malformed token is an HTTP 400 at Cloudflare, still a credentials problem for us."""
    api = provider_apis["cloudflare"]
    backend = CloudflareBackend.create_service(
        "cf", backend_settings(api, provider_ca.ca_file, token=token))
    with pytest.raises(DNSBadKey, match=text):
        backend.query(ZoneInfo(name=ZONES["cloudflare"]), "www", "A")


def test_cloudflare_token_without_permission_for_the_zone(provider_apis: dict[str, Any],
                                                          provider_ca: Any) -> None:
    api: Any = provider_apis["cloudflare"]
    scoped = "scopedTokenForOtherZones_0123456789abcde"
    api.tokens[scoped] = {"elsewhere.test"}
    backend = CloudflareBackend.create_service(
        "cf", backend_settings(api, provider_ca.ca_file, token=scoped))
    with pytest.raises(DNSNotZone, match="no permission"):
        backend.update(ZoneInfo(name=ZONES["cloudflare"]), unique(), "A", ["192.0.2.1"])


def test_rate_limit(lab: Lab) -> None:
    lab.backend.check(lab.zone)  # authenticated and zone known: the next request is a record one
    lab.api.fail_next(1, "ratelimit")
    with pytest.raises(DNSRateLimited) as caught:
        lab.backend.update(lab.zone, unique(), "A", ["192.0.2.60"])
    assert caught.value.trips_breaker
    assert RATE_TEXT[lab.provider] in caught.value.message
    assert ZONES[lab.provider] in caught.value.message
    no_secret_in(caught.value.message, lab.api)
    label = unique()
    lab.backend.update(lab.zone, label, "A", ["192.0.2.61"])  # the next request goes through
    assert lab.values(label, "A") == ["192.0.2.61"]


def test_server_error(lab: Lab) -> None:
    lab.backend.check(lab.zone)
    lab.api.fail_next(1, "error")
    with pytest.raises(DNSServFail) as caught:
        lab.backend.update(lab.zone, unique(), "A", ["192.0.2.70"])
    assert "HTTP 500" in caught.value.message and ZONES[lab.provider] in caught.value.message
    assert not caught.value.trips_breaker
    expected = {"digitalocean": "Server was unable to give you a response.",
                "cloudflare": "Internal Server Error",  # an HTML page: the status line's words
                "rackspace": "An internal error has occurred"}[lab.provider]
    assert expected in caught.value.message


def test_an_answer_that_is_not_json(lab: Lab) -> None:
    lab.backend.check(lab.zone)
    lab.api.fail_next(1, "html")
    label = unique()
    with pytest.raises(DNSServFail, match=r"HTTP 200 from 127\.0\.0\.1:\d+ is not JSON \(text/html\)"):
        lab.backend.update(lab.zone, label, "A", ["192.0.2.75"])
    lab.backend.update(lab.zone, label, "A", ["192.0.2.76"])
    assert lab.values(label, "A") == ["192.0.2.76"]


def test_hung_provider_times_out_within_the_budget(lab: Lab) -> None:
    fast = lab.other(timeout="0.5")
    fast.check(lab.zone)
    lab.api.fail_next(1, "hang")
    started = time.monotonic()
    with pytest.raises(DNSTimeout) as caught:
        fast.update(lab.zone, unique(), "A", ["192.0.2.80"])
    assert time.monotonic() - started < 1.0
    assert "0.5 s" in caught.value.message and caught.value.trips_breaker
    label = unique()
    fast.update(lab.zone, label, "A", ["192.0.2.81"])  # the pool recovers from the dead connection
    assert lab.values(label, "A") == ["192.0.2.81"]


def test_unreachable_provider(lab: Lab) -> None:
    port = free_port()
    dead = lab.other(base_url=f"https://127.0.0.1:{port}/v1", identity_url=f"https://127.0.0.1:{port}/v2.0") \
        if lab.provider == "rackspace" else lab.other(base_url=f"https://127.0.0.1:{port}/v1")
    with pytest.raises(DNSNetworkError, match=f"cannot reach 127.0.0.1:{port} \\(Connection refused\\)"):
        dead.update(lab.zone, unique(), "A", ["192.0.2.90"])


def test_untrusted_certificate(lab: Lab) -> None:
    untrusting = lab.other(ca_file="")
    with pytest.raises(DNSNetworkError, match="TLS certificate not trusted"):
        untrusting.query(lab.zone, unique(), "A")


def test_zone_missing_at_the_provider(lab: Lab) -> None:
    with pytest.raises(DNSNotZone) as caught:
        lab.backend.update(ZoneInfo(name="absent.test"), unique(), "A", ["192.0.2.95"])
    assert "absent.test" in caught.value.message
    assert CLASSES[lab.provider].provider in caught.value.message


def test_zone_deleted_after_it_was_cached(lab: Lab) -> None:
    name = f"gone-{uuid.uuid4().hex[:8]}.test"
    lab.api.add_zone(name)
    zone = ZoneInfo(name=name)
    lab.backend.update(zone, "www", "A", ["192.0.2.96"])
    lab.api.remove_zone(name)
    with pytest.raises(DNSNotZone):
        lab.backend.update(zone, "www", "A", ["192.0.2.97"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_settings_are_checked_at_startup(provider: str, provider_ca: Any) -> None:
    cls = CLASSES[provider]
    required = "username" if provider == "rackspace" else "token"
    with pytest.raises(ValueError, match=f"dns.backend.{provider}: {required} is required"):
        cls.create_service(provider, {})
    good = {"username": "u", "api_key": "k"} if provider == "rackspace" else {"token": "t"}
    with pytest.raises(ValueError, match="timeout"):
        cls.create_service(provider, {**good, "timeout": "soon"})
    with pytest.raises(ValueError, match="ca_file"):
        cls.create_service(provider, {**good, "ca_file": "/nonexistent/ca.pem"})
    with pytest.raises(ValueError, match="base_url"):
        cls.create_service(provider, {**good, "base_url": "ftp://example.org"})
    with pytest.raises(ValueError, match=f"dns.backend.{provider}: unknown setting 'tokne'"):
        cls.create_service(provider, {**good, "tokne": "t"})
    backend = cls.create_service(provider, good)
    assert backend.base_url.startswith("https://api.") or backend.base_url.startswith("https://dns.api.")


# -- Rackspace specifics ----------------------------------------------------------------------


@pytest.fixture
def rackspace(provider_apis: dict[str, Any], provider_ca: Any) -> Iterator[Lab]:
    api: Any = provider_apis["rackspace"]
    backend = RackspaceBackend.create_service("rackspace", backend_settings(api, provider_ca.ca_file))
    yield Lab("rackspace", api, backend, provider_ca.ca_file)
    api.clear_faults()
    api.job_polls = 0


def test_rackspace_token_is_reused_and_renewed_after_expiry(rackspace: Lab) -> None:
    api = rackspace.api
    api.reset_log()
    for last in (1, 2):
        rackspace.backend.update(rackspace.zone, unique(), "A", [f"192.0.2.{last}"])
    assert api.count("POST", "/v2.0/tokens") == 1
    api.expire_tokens()
    label = unique()
    rackspace.backend.update(rackspace.zone, label, "A", ["192.0.2.3"])  # 401, new token, retried
    assert api.count("POST", "/v2.0/tokens") == 2
    assert rackspace.values(label, "A") == ["192.0.2.3"]


def test_rackspace_waits_for_the_job(rackspace: Lab) -> None:
    rackspace.api.job_polls = 3
    label = unique()
    rackspace.api.reset_log()
    rackspace.backend.update(rackspace.zone, label, "A", ["192.0.2.4"])
    assert rackspace.values(label, "A") == ["192.0.2.4"]  # done when update() returns
    assert rackspace.api.count("GET", "/status/") == 4


def test_rackspace_job_error(rackspace: Lab) -> None:
    rackspace.api.fail_next_job(400, "Bad Request", "Record is a duplicate of another record.")
    with pytest.raises(DNSRefused, match="failed: 400: Bad Request: Record is a duplicate"):
        rackspace.backend.update(rackspace.zone, unique(), "A", ["192.0.2.5"])


def test_rackspace_job_that_never_ends(rackspace: Lab) -> None:
    rackspace.api.job_polls = 10_000
    slow = rackspace.other(timeout="0.4")
    started = time.monotonic()
    with pytest.raises(DNSTimeout, match=r"still RUNNING after 0\.4 s"):
        slow.update(rackspace.zone, unique(), "A", ["192.0.2.6"])
    assert time.monotonic() - started < 0.9


def test_rackspace_picks_the_exact_domain(rackspace: Lab) -> None:
    label = unique()
    rackspace.backend.update(rackspace.zone, label, "A", ["192.0.2.7"])
    assert rackspace.api.zones["sub.dyn-rs.test"].find() == []
    assert rackspace.values(label, "A") == ["192.0.2.7"]


def test_rackspace_ttl_below_300_from_settings_is_raised(rackspace: Lab) -> None:
    low = rackspace.other(ttl="60")
    label = unique()
    low.update(rackspace.zone, label, "TXT", ["x"])
    (record,) = rackspace.api.zones["dyn-rs.test"].find(rackspace.fqdn(label), "TXT")
    assert record.ttl == 300


# -- the update API through the providers ------------------------------------------------------


@pytest.fixture(scope="session")
def provider_app(settings: dict[str, str], dbengine: Any, provider_ca: Any,
                 provider_apis: dict[str, Any]) -> Any:
    """The app with the three provider backends pointing at the fakes."""
    extra = {"dns.backends": settings["dns.backends"] + "".join(
        f"\n{provider} = {cls.__module__}:{cls.__name__}" for provider, cls in CLASSES.items())}
    for provider, api in provider_apis.items():
        for key, value in backend_settings(api, provider_ca.ca_file).items():
            extra[f"dns.backend.{provider}.{key}"] = value
    return main({}, **{**settings, **extra})


@pytest.fixture
def provider_client(provider_app: Any, session_factory: Any) -> Iterator[AppClient]:
    previous = provider_app.registry["dbsession_factory"]
    provider_app.registry["dbsession_factory"] = session_factory
    app_settings = provider_app.registry["nsupdate.settings"]
    provider_app.registry["nsupdate.breaker"] = CircuitBreaker(app_settings.dns_breaker_failures,
                                                               app_settings.dns_breaker_pause)
    yield AppClient(provider_app, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "192.0.2.7"})
    provider_app.registry["dbsession_factory"] = previous


class Site:
    """A host in a domain published by one provider, and how to update and inspect it."""

    def __init__(self, provider: str, api: Any, client: AppClient, make_user: Any, make_domain: Any,
                 make_host: Any, dbsession: Any) -> None:
        self.provider, self.api, self.client, self.dbsession = provider, api, client, dbsession
        owner = make_user("owner-" + uuid.uuid4().hex[:6])
        domain = make_domain(ZONES[provider], owner)
        domain.backend = provider
        dbsession.commit()
        self.label = unique()
        self.fqdn = f"{self.label}.{ZONES[provider]}"
        _, self.secret = make_host(self.fqdn, owner)

    def get(self, path: str = "/nic/update", **params: str) -> str:
        auth = base64.b64encode(f"{self.fqdn}:{self.secret}".encode()).decode()
        return self.client.get(path, params=params, headers={"Authorization": f"Basic {auth}"}).text

    def dns(self, rdtype: str) -> list[str]:
        return self.api.values(ZONES[self.provider], self.fqdn, rdtype)

    def row(self) -> Host:
        self.dbsession.expire_all()
        return self.dbsession.scalars(select(Host).where(Host.fqdn == self.fqdn)).one()


@pytest.fixture(params=PROVIDERS)
def site(request: pytest.FixtureRequest, provider_apis: dict[str, Any], provider_client: AppClient,
         make_user: Any, make_domain: Any, make_host: Any, dbsession: Any) -> Iterator[Site]:
    api = provider_apis[request.param]
    yield Site(request.param, api, provider_client, make_user, make_domain, make_host, dbsession)
    api.clear_faults()


def test_update_api_cycle(site: Site) -> None:
    assert site.get(myip="192.0.2.10") == "good 192.0.2.10"
    assert site.dns("A") == ["192.0.2.10"]
    assert site.get(myip="192.0.2.10") == "nochg 192.0.2.10"
    assert site.get(myip="2001:db8::10") == "good 2001:db8::10"
    assert site.dns("AAAA") == ["2001:db8::10"] and site.dns("A") == ["192.0.2.10"]
    assert site.get(myip="192.0.2.11") == "good 192.0.2.11"
    assert site.dns("A") == ["192.0.2.11"]
    assert site.get("/nic/delete", myip="0.0.0.0") == "deleted A"
    assert site.dns("A") == [] and site.dns("AAAA") == ["2001:db8::10"]
    assert site.get("/nic/delete", myip="::") == "deleted AAAA"
    assert site.dns("AAAA") == []
    row = site.row()
    assert (row.client_faults, row.server_faults) == (1, 0)


def test_update_api_provider_failure_is_dnserr_and_a_server_fault(site: Site) -> None:
    assert site.get(myip="192.0.2.20") == "good 192.0.2.20"
    site.api.fail_next(1, "error")
    assert site.get(myip="192.0.2.21") == "dnserr"
    row = site.row()
    assert (row.server_faults, row.client_faults) == (1, 0)
    assert "resulted in a dns error [" in row.server_result_msg
    assert f"{CLASSES[site.provider].provider} zone {ZONES[site.provider]}" in row.server_result_msg
    assert "HTTP 500" in row.server_result_msg
    no_secret_in(row.server_result_msg, site.api)
    assert row.published_ipv4 == ""  # unknown now: the next update is sent
    assert site.get(myip="192.0.2.21") == "good 192.0.2.21"
    assert site.dns("A") == ["192.0.2.21"]


def test_update_api_rate_limit_opens_the_breaker(site: Site) -> None:
    assert site.get(myip="192.0.2.30") == "good 192.0.2.30"
    site.api.fail_next(2, "ratelimit")
    assert site.get(myip="192.0.2.31") == "dnserr"
    assert "rate limit reached" in site.row().server_result_msg
    assert site.get(myip="192.0.2.32") == "dnserr"
    site.api.reset_log()
    assert site.get(myip="192.0.2.33") == "dnserr"  # paused: the provider is not asked
    assert site.api.count() == 0
    assert "nameserver paused after repeated failures" in site.row().server_result_msg
    assert site.dns("A") == ["192.0.2.30"]
