"""DNS provider backends: records published through a provider's HTTP API instead of DNS UPDATE.

What the three providers share lives here, so each provider module only says how its API
names things:

- :class:`ProviderBackend` implements :class:`~nsupdate_pyramid.interfaces.IDNSBackend` on top of
  five small hooks (find the zone, list/create/modify/remove records). Replacing an RRset
  reuses the provider's record ids (modify in place, create what is missing, remove what is
  left over), so a name is never empty while it is being changed and a retried request does
  not add duplicates.
- Zone ids and record ids are looked up once and cached: one backend instance serves every
  thread, so the caches sit behind a lock, and calls on the same RRset are serialised (two
  routers updating one host at once must not both create a record). A provider's 404 on a
  cached id drops what we cached for the zone and the call runs once more from fresh lookups.
- Every call has one time budget (``timeout``) that covers all of its HTTP requests (and, for
  Rackspace, the polling of its asynchronous jobs): each request gets what is left of it.
- HTTP failures become the typed errors of :mod:`nsupdate_pyramid.dns.errors`, with a message
  naming the provider and the zone and quoting the provider's own error text, never a token.
- One ``requests.Session`` per backend reuses TLS connections. It ignores the environment
  (``trust_env`` off): a ``.netrc`` entry would otherwise replace our Authorization header and
  ``REQUESTS_CA_BUNDLE`` would override ``ca_file``. It keeps no cookies, so threads share
  nothing mutable in it.
"""
from __future__ import annotations

import http.cookiejar
import ipaddress
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import requests
import requests.adapters
from zope.interface import implementer

from ...interfaces import IDNSBackend
from ..errors import (
    DNSBackendError,
    DNSBadKey,
    DNSNetworkError,
    DNSNotZone,
    DNSRateLimited,
    DNSRefused,
    DNSServFail,
    DNSTimeout,
)
from ..rfc2136 import _parse_timeout
from ..zone import CheckResult, ZoneInfo

SUPPORTED_TYPES = ("A", "AAAA", "TXT")
#: Provider error texts are quoted in messages that end up in a 255-character column.
MAX_DETAIL = 120
#: Calls on different RRsets run in parallel; the same RRset always maps to the same lock.
LOCK_STRIPES = 64

T = TypeVar("T")


@dataclass(frozen=True)
class Record:
    """One record as the provider lists it; ``value``/``ttl`` are None when only the id is known."""

    id: str
    value: str | None = None
    ttl: int | None = None


class NotFound(Exception):
    """The provider answered 404 (or a job failed with 404): an id we used does not exist."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Operation:
    """One backend call: its deadline, and the words its error messages are made of."""

    def __init__(self, provider: str, zone: str, what: str, timeout: float) -> None:
        self.provider = provider
        self.zone = zone
        self.what = what
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def message(self, detail: str) -> str:
        return f"{self.provider} zone {self.zone}: {self.what}: {detail}"

    def remaining(self) -> float:
        """Seconds left; raises DNSTimeout once the budget is spent."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DNSTimeout(self.message(f"not done within {self.timeout:g} s"))
        return left


def parse_ttl(value: Any, name: str) -> int | None:
    """An optional whole number of seconds; empty means "the domain's TTL"."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    try:
        ttl = int(text)
    except ValueError:
        ttl = -1
    if not 1 <= ttl <= 2**31 - 1:
        raise ValueError(f"{name} must be a whole number of seconds (1 to 2147483647), got {value!r}")
    return ttl


def _required(settings: Mapping[str, Any], key: str) -> str:
    value = str(settings.get(key, "")).strip()
    if not value:
        raise ValueError(f"{key} is required")
    return value


def _ca_file(value: Any) -> str | None:
    path = str(value or "").strip()
    if path and not Path(path).is_file():
        raise ValueError(f"ca_file {path!r} is not a readable file")
    return path or None


def _reason(exc: BaseException) -> str:
    """The innermost cause in a few words ("Connection refused"), not urllib3's nested repr."""
    seen: set[int] = set()
    current: BaseException | None = exc
    best = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            best = current.strerror
        elif "CERTIFICATE_VERIFY_FAILED" in str(current):
            return "TLS certificate not trusted: set ca_file or fix the system CA store"
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = nested or getattr(current, "reason", None) or current.__cause__ or current.__context__
        if not isinstance(current, BaseException):
            current = None
    return best or type(exc).__name__


def canonical(rdtype: str, value: str) -> str:
    """Addresses compared and reported in one spelling, whatever the provider sends back."""
    if rdtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            return value
    return value


def validated_values(rdtype: str, values: Iterable[str]) -> list[str]:
    """Refuse bad input with ValueError before any request, as rfc2136 does."""
    if rdtype not in SUPPORTED_TYPES:
        raise ValueError(f"record type {rdtype!r} is not supported (supported: {', '.join(SUPPORTED_TYPES)})")
    result = []
    for value in values:
        if rdtype in ("A", "AAAA"):
            try:
                address = ipaddress.ip_address(value.strip())
            except ValueError:
                address = None
            if address is None or address.version != (4 if rdtype == "A" else 6):
                raise ValueError(f"invalid {rdtype} value {value!r}")
        result.append(canonical(rdtype, value))
    return result


def _decode(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


@implementer(IDNSBackend)
class ProviderBackend:
    """IDNSBackend over a provider's REST API; subclasses fill in the hooks at the bottom."""

    #: Shown in every message ("Cloudflare zone example.org: ...").
    provider: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    default_timeout: ClassVar[float] = 3.0
    #: The smallest TTL the provider accepts; lower TTLs are raised to it.
    min_ttl: ClassVar[int] = 1
    #: The ini keys that hold credentials, for "check dns.backend.<name>.<key>" hints.
    credential_keys: ClassVar[tuple[str, ...]] = ("token",)

    def __init__(self, name: str, *, base_url: str = "", timeout: float | str | None = None,
                 ttl: int | str | None = None, ca_file: str | None = None) -> None:
        self.name = name
        self.base_url = (base_url or self.default_base_url).strip().rstrip("/")
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.timeout = _parse_timeout(self.default_timeout if timeout in (None, "") else timeout)
        self.ttl = parse_ttl(ttl, "ttl")
        self.session = self._make_session(_ca_file(ca_file))
        self._zone_ids: dict[str, str] = {}
        self._record_ids: dict[tuple[str, str, str], tuple[str, ...]] = {}
        self._cache_lock = threading.Lock()
        self._rrset_locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    @classmethod
    def create_service(cls, name: str, settings: dict[str, Any]) -> ProviderBackend:
        """Build from the ``dns.backend.<name>.*`` keys, so a missing token or a misspelt key
        fails at startup rather than at the first update."""
        try:
            options = cls.options(settings)
            unknown = sorted(set(settings) - set(options))
            if unknown:
                raise ValueError(f"unknown setting {unknown[0]!r} (known: {', '.join(sorted(options))})")
            return cls(name, **options)
        except ValueError as exc:
            raise ValueError(f"dns.backend.{name}: {exc}") from None

    @classmethod
    def options(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments for ``__init__`` from the backend's ini keys."""
        options = {key: settings.get(key) for key in ("base_url", "timeout", "ttl", "ca_file")}
        options.update({key: _required(settings, key) for key in cls.credential_keys})
        return options

    @staticmethod
    def _make_session(ca_file: str | None) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.verify = ca_file or True
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=16, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({"Accept": "application/json", "User-Agent": "nsupdate-pyramid"})
        return session

    # -- IDNSBackend -------------------------------------------------------------------------

    def update(self, zone: ZoneInfo, name: str, rdtype: str, values: Sequence[str],
               ttl: int | None = None) -> None:
        """Make the provider's records for name/rdtype exactly ``values``."""
        zone_name, fqdn = self._names(zone, name)
        wanted = validated_values(rdtype, values)
        record_ttl = self._record_ttl(ttl or zone.ttl)
        key = (zone_name, fqdn, rdtype)
        self._run(zone_name, f"update of {fqdn} {rdtype}",
                  lambda op: self._replace(op, key, wanted, record_ttl), exclusive=key)

    def delete(self, zone: ZoneInfo, name: str, rdtype: str) -> None:
        """Remove every record of name/rdtype; nothing there is fine."""
        zone_name, fqdn = self._names(zone, name)
        validated_values(rdtype, [])
        key = (zone_name, fqdn, rdtype)
        self._run(zone_name, f"delete of {fqdn} {rdtype}", lambda op: self._delete(op, key), exclusive=key)

    def query(self, zone: ZoneInfo, name: str, rdtype: str) -> list[str]:
        """What the provider holds now (always asked, never the cache)."""
        zone_name, fqdn = self._names(zone, name)
        validated_values(rdtype, [])
        key = (zone_name, fqdn, rdtype)

        def body(op: Operation) -> list[str]:
            records = self._list(op, self._zone_id(op, zone_name), fqdn, rdtype)
            self._remember(key, [record.id for record in records])
            return sorted(canonical(rdtype, record.value or "") for record in records)

        return self._run(zone_name, f"query for {fqdn} {rdtype}", body)

    def check(self, zone: ZoneInfo) -> CheckResult:
        """Prove the credentials work and the zone is visible to them (read-only)."""
        zone_name = self._zone_name(zone)
        with self._cache_lock:
            self._zone_ids.pop(zone_name, None)  # look again: that is what a check is for
        try:
            zone_id = self._run(zone_name, "check", lambda op: self._zone_id(op, zone_name))
        except DNSBackendError as exc:
            return CheckResult(False, exc.message)
        return CheckResult(True, f"{self.provider} zone {zone_name}: found (id {zone_id}); "
                                 f"the credentials are accepted")

    # -- the algorithm -----------------------------------------------------------------------

    def _run(self, zone_name: str, what: str, body: Callable[[Operation], T],
             exclusive: tuple[str, str, str] | None = None) -> T:
        """Run ``body`` within the time budget, once more after a 404 on an id (from fresh lookups).

        ``exclusive``: the RRset the call changes; calls on the same RRset wait for each other,
        and the wait counts against the budget.
        """
        op = Operation(self.provider, zone_name, what, self.timeout)
        lock = self._rrset_lock(exclusive) if exclusive else None
        if lock is not None and not lock.acquire(timeout=op.remaining()):
            raise DNSTimeout(op.message(f"another change of this name took all of {self.timeout:g} s"))
        try:
            try:
                return body(op)
            except NotFound:
                self._forget_zone(zone_name)
                return body(op)
        except NotFound as exc:
            raise DNSServFail(op.message(f"the provider keeps answering 404 ({exc.detail})")) from None
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # A 2xx answer without the fields its API promises (a proxy's page, an API change).
            raise DNSServFail(op.message(f"unexpected answer from the provider ({type(exc).__name__}: "
                                         f"{exc})")) from None
        finally:
            if lock is not None:
                lock.release()

    def _replace(self, op: Operation, key: tuple[str, str, str], values: list[str], ttl: int) -> None:
        zone_name, fqdn, rdtype = key
        zone_id = self._zone_id(op, zone_name)
        cached = self._cached(key)
        records = ([Record(record_id) for record_id in cached] if cached is not None
                   else self._list(op, zone_id, fqdn, rdtype))
        try:
            kept: list[str] = []
            missing: list[str] = []
            for value in values:  # records that already say what we want stay untouched
                same = next((r for r in records if r.ttl == ttl
                             and r.value is not None and canonical(rdtype, r.value) == value), None)
                if same is None:
                    missing.append(value)
                else:
                    records.remove(same)
                    kept.append(same.id)
            to_create = []
            for value in missing:  # then change records in place, so the name is never empty
                if records:
                    record = records.pop(0)
                    self._modify(op, zone_id, record.id, fqdn, rdtype, value, ttl)
                    kept.append(record.id)
                else:
                    to_create.append(value)
            if to_create:
                kept.extend(self._create(op, zone_id, fqdn, rdtype, to_create, ttl))
            for record in records:  # left over: duplicates, or more values than before
                self._remove_absent_ok(op, zone_id, record.id, stale=cached is not None)
        except BaseException:
            self._forget(key)  # what the provider holds now is unknown
            raise
        self._remember(key, kept)

    def _delete(self, op: Operation, key: tuple[str, str, str]) -> None:
        zone_name, fqdn, rdtype = key
        zone_id = self._zone_id(op, zone_name)
        cached = self._cached(key)
        records = ([Record(record_id) for record_id in cached] if cached is not None
                   else self._list(op, zone_id, fqdn, rdtype))
        self._forget(key)
        for record in records:
            self._remove_absent_ok(op, zone_id, record.id, stale=cached is not None)

    def _remove_absent_ok(self, op: Operation, zone_id: str, record_id: str, *, stale: bool) -> None:
        """A freshly listed record that is gone already is what we wanted; a cached id that is
        gone means our cache is stale (someone recreated the record): look again."""
        try:
            self._remove(op, zone_id, record_id)
        except NotFound:
            if stale:
                raise

    def _zone_id(self, op: Operation, zone_name: str) -> str:
        with self._cache_lock:
            zone_id = self._zone_ids.get(zone_name)
        if zone_id is None:
            zone_id = self._find_zone(op, zone_name)
            with self._cache_lock:
                self._zone_ids[zone_name] = zone_id
        return zone_id

    # -- caches ------------------------------------------------------------------------------

    def _rrset_lock(self, key: tuple[str, str, str]) -> threading.Lock:
        return self._rrset_locks[hash(key) % LOCK_STRIPES]

    def _cached(self, key: tuple[str, str, str]) -> tuple[str, ...] | None:
        with self._cache_lock:
            return self._record_ids.get(key)

    def _remember(self, key: tuple[str, str, str], ids: Sequence[str]) -> None:
        with self._cache_lock:
            self._record_ids[key] = tuple(ids)

    def _forget(self, key: tuple[str, str, str]) -> None:
        with self._cache_lock:
            self._record_ids.pop(key, None)

    def _forget_zone(self, zone_name: str) -> None:
        with self._cache_lock:
            self._zone_ids.pop(zone_name, None)
            for key in [key for key in self._record_ids if key[0] == zone_name]:
                del self._record_ids[key]

    # -- names and TTLs ----------------------------------------------------------------------

    @staticmethod
    def _zone_name(zone: ZoneInfo) -> str:
        return zone.name.strip().rstrip(".").lower()

    def _names(self, zone: ZoneInfo, name: str) -> tuple[str, str]:
        """The zone and the record's full name (providers want names without the final dot)."""
        zone_name = self._zone_name(zone)
        if not zone_name:
            raise ValueError("the zone has no name")
        label = name.strip().rstrip(".").lower()
        if label in ("", "@"):
            return zone_name, zone_name
        if label == zone_name or label.endswith("." + zone_name):
            return zone_name, label
        return zone_name, f"{label}.{zone_name}"

    @staticmethod
    def relative(fqdn: str, zone_name: str) -> str:
        """The record name relative to the zone, ``@`` for the apex."""
        return "@" if fqdn == zone_name else fqdn[: -len(zone_name) - 1]

    def _record_ttl(self, ttl: int | None) -> int:
        return max(self.ttl or ttl or 60, self.min_ttl)

    # -- HTTP --------------------------------------------------------------------------------

    def call(self, op: Operation, method: str, url: str, *, json: Any = None,
             params: Mapping[str, Any] | None = None, expect: Sequence[int] = (200,),
             authenticated: bool = True) -> Any:
        """One HTTP request within the operation's budget; the decoded JSON body (None if empty).

        404 raises :class:`NotFound` for the caller to interpret; every other unexpected status
        becomes a typed backend error.
        """
        retried = False
        while True:
            headers = self._auth_headers(op) if authenticated else {}
            timeout = op.remaining()
            host = urlsplit(url).netloc
            try:
                response = self.session.request(method, url, json=json, params=params, headers=headers,
                                                timeout=timeout, allow_redirects=False)
            except requests.Timeout:
                raise DNSTimeout(op.message(f"no answer from {host} within {self.timeout:g} s")) from None
            except requests.RequestException as exc:
                raise DNSNetworkError(op.message(f"cannot reach {host} ({_reason(exc)})")) from None
            body = _decode(response)
            status = response.status_code
            if status in expect:
                if body is None and response.content:  # a proxy's or captive portal's page
                    kind = response.headers.get("Content-Type", "no content type")
                    raise DNSServFail(op.message(f"HTTP {status} from {host} is not JSON ({kind})"))
                return body
            if status == 404 or self._is_not_found(status, body):
                raise NotFound(self._detail(response, body))
            if status == 401 and authenticated and not retried and self._refresh_credentials():
                retried = True
                continue
            raise self._http_error(op, response, body)

    def _detail(self, response: requests.Response, body: Any) -> str:
        text = ""
        if body is not None:
            try:
                text = self._error_text(body)
            except (AttributeError, KeyError, TypeError, ValueError, IndexError):
                text = ""
        text = " ".join((text or response.reason or "no details").split())
        return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."

    def _http_error(self, op: Operation, response: requests.Response, body: Any) -> DNSBackendError:
        status = response.status_code
        detail = f"HTTP {status}: {self._detail(response, body)}"
        if status in (401, 403) or self._is_auth_failure(status, body):
            keys = " and ".join(f"dns.backend.{self.name}.{key}" for key in self.credential_keys)
            return DNSBadKey(op.message(f"credentials rejected ({detail}): check {keys}"))
        if status == 429 or self._is_rate_limit(status, body):
            retry = response.headers.get("Retry-After", "").strip()
            later = f", retry after {retry}" if retry else ""
            return DNSRateLimited(op.message(f"rate limit reached ({detail}){later}"))
        if status >= 500:
            return DNSServFail(op.message(f"provider failure ({detail})"))
        return DNSRefused(op.message(f"request refused ({detail})"))

    # -- what each provider fills in ---------------------------------------------------------

    def _auth_headers(self, op: Operation) -> dict[str, str]:
        raise NotImplementedError

    def _refresh_credentials(self) -> bool:
        """After a 401: get fresh credentials and return True to retry once (token expiry)."""
        return False

    def _error_text(self, body: Any) -> str:
        """The provider's own error message out of its JSON error body."""
        raise NotImplementedError

    def _is_auth_failure(self, status: int, body: Any) -> bool:
        return False

    def _is_rate_limit(self, status: int, body: Any) -> bool:
        return False

    def _is_not_found(self, status: int, body: Any) -> bool:
        """An id we sent is unknown, said with another status than 404."""
        return False

    def _find_zone(self, op: Operation, zone_name: str) -> str:
        """The provider's id of the zone; DNSNotZone when the credentials do not see it."""
        raise NotImplementedError

    def _list(self, op: Operation, zone_id: str, fqdn: str, rdtype: str) -> list[Record]:
        raise NotImplementedError

    def _create(self, op: Operation, zone_id: str, fqdn: str, rdtype: str, values: list[str],
                ttl: int) -> list[str]:
        """Create records, returning their ids."""
        raise NotImplementedError

    def _modify(self, op: Operation, zone_id: str, record_id: str, fqdn: str, rdtype: str,
                value: str, ttl: int) -> None:
        raise NotImplementedError

    def _remove(self, op: Operation, zone_id: str, record_id: str) -> None:
        raise NotImplementedError

    def not_zone(self, op: Operation, detail: str) -> DNSNotZone:
        return DNSNotZone(op.message(detail))


class BearerTokenBackend(ProviderBackend):
    """APIs that take one long-lived token as ``Authorization: Bearer <token>``."""

    def __init__(self, name: str, *, token: str, **options: Any) -> None:
        super().__init__(name, **options)
        self._authorization = f"Bearer {token}"

    def _auth_headers(self, op: Operation) -> dict[str, str]:
        return {"Authorization": self._authorization}
