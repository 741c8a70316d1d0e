"""Rackspace Cloud DNS: identity v2.0 token from username + API key, then the DNS v1.0 API.

- ``POST {identity_url}/tokens`` with ``RAX-KSKEY:apiKeyCredentials`` gives a token (valid for
  hours) and the account (tenant) id; the token is kept until it is near expiry or the DNS API
  answers 401, then fetched again once.
- DNS calls go to ``{base_url}/{tenant}`` with ``X-Auth-Token``. Record names are full names.
- Changes (POST/PUT/DELETE) are asynchronous: HTTP 202 with ``jobId``/``callbackUrl``/``status``.
  We poll the job (``?showDetails=true``) until COMPLETED or ERROR within the call's budget, so
  "good" means the change is really in the zone. Only URLs below ``base_url`` are polled: the
  token is never sent anywhere else.
- Faults are ``{"code", "message", "details"}``, sometimes wrapped in their type
  (``{"overLimit": {...}}``); the rate limit is HTTP 413 overLimit, not 429.
- Cloud DNS refuses TTLs below 300 s; lower TTLs are raised to 300.

Settings (``dns.backend.<name>.*``): ``username``, ``api_key``, ``base_url`` (default
``https://dns.api.rackspacecloud.com/v1.0``), ``identity_url`` (default
``https://identity.api.rackspacecloud.com/v2.0``), ``timeout`` (default 10: jobs take seconds),
``ttl``, ``ca_file``.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from ..errors import DNSRefused, DNSServFail, DNSTimeout
from . import NotFound, Operation, ProviderBackend, Record

PAGE_LIMIT = 100
#: Fetch a new token when the old one has less than this many seconds left.
TOKEN_MARGIN = 300
#: Job polling: first pause, growth factor, longest pause (seconds).
POLL_FIRST, POLL_GROWTH, POLL_MAX = 0.05, 2.0, 1.0


def _fault(body: Any) -> dict[str, Any]:
    """The fault object, whether bare (``{"code", "message"}``) or wrapped (``{"overLimit": {...}}``)."""
    if isinstance(body, dict) and "message" not in body and len(body) == 1:
        (inner,) = body.values()
        if isinstance(inner, dict):
            return inner
    return body if isinstance(body, dict) else {}


def _fault_text(fault: dict[str, Any]) -> str:
    parts = [str(fault.get("message") or "").strip()]
    details = str(fault.get("details") or "").strip()
    if details and details not in parts[0]:
        parts.append(details)
    parts += [str(text) for text in (fault.get("validationErrors") or {}).get("messages") or []]
    faults = ((fault.get("failedItems") or {}).get("faults")) or []
    parts += [_fault_text(item) for item in faults if isinstance(item, dict)]
    return ": ".join(part for part in parts if part)


def _expiry(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 expiry; soon when unreadable (fetch again early)."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return time.time() + TOKEN_MARGIN + 60
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


class RackspaceBackend(ProviderBackend):
    provider = "Rackspace"
    default_base_url = "https://dns.api.rackspacecloud.com/v1.0"
    default_identity_url = "https://identity.api.rackspacecloud.com/v2.0"
    default_timeout = 10.0
    min_ttl = 300
    credential_keys = ("username", "api_key")

    def __init__(self, name: str, *, username: str, api_key: str, identity_url: str | None = None,
                 **options: Any) -> None:
        super().__init__(name, **options)
        self.username = username
        self._api_key = api_key
        self.identity_url = (identity_url or self.default_identity_url).strip().rstrip("/")
        if urlsplit(self.identity_url).scheme not in ("http", "https"):
            raise ValueError(f"identity_url must be an http(s) URL, got {identity_url!r}")
        self._token: tuple[str, str, float] | None = None  # token, tenant, expiry (epoch seconds)
        self._token_lock = threading.Lock()

    @classmethod
    def options(cls, settings: Any) -> dict[str, Any]:
        return {**super().options(settings), "identity_url": settings.get("identity_url")}

    # -- identity ----------------------------------------------------------------------------

    def _credentials(self, op: Operation) -> tuple[str, str]:
        """Token and tenant, fetched when missing or near expiry."""
        with self._token_lock:
            token = self._token
        if token is not None and token[2] - time.time() > TOKEN_MARGIN:
            return token[0], token[1]
        payload = {"auth": {"RAX-KSKEY:apiKeyCredentials": {"username": self.username,
                                                             "apiKey": self._api_key}}}
        try:
            body = self.call(op, "POST", f"{self.identity_url}/tokens", json=payload, authenticated=False)
        except NotFound as exc:
            raise DNSServFail(op.message(f"no identity service at {self.identity_url} "
                                         f"(HTTP 404: {exc.detail})")) from None
        try:
            access = body["access"]["token"]
            token = (str(access["id"]), str(access["tenant"]["id"]), _expiry(access.get("expires", "")))
        except (KeyError, TypeError):
            raise DNSServFail(op.message("the identity service answered without a token")) from None
        with self._token_lock:
            self._token = token
        return token[0], token[1]

    def _auth_headers(self, op: Operation) -> dict[str, str]:
        return {"X-Auth-Token": self._credentials(op)[0]}

    def _refresh_credentials(self) -> bool:
        with self._token_lock:
            had_token, self._token = self._token is not None, None
        return had_token

    def _dns_url(self, op: Operation) -> str:
        return f"{self.base_url}/{quote(self._credentials(op)[1], safe='')}"

    # -- errors ------------------------------------------------------------------------------

    def _error_text(self, body: Any) -> str:
        return _fault_text(_fault(body))

    def _is_rate_limit(self, status: int, body: Any) -> bool:
        return status == 413

    # -- jobs --------------------------------------------------------------------------------

    def _job(self, op: Operation, method: str, url: str, json: Any = None) -> dict[str, Any]:
        """Start an asynchronous change and wait for its end; the finished job."""
        job = self.call(op, method, url, json=json, expect=(200, 202)) or {}
        pause = POLL_FIRST
        while True:
            status = str(job.get("status", "")).upper()
            if status == "COMPLETED":
                return job
            if status == "ERROR":
                raise self._job_error(op, job)
            if status not in ("", "INITIALIZED", "RUNNING"):
                raise DNSServFail(op.message(f"job {job.get('jobId')} in unknown state {status!r}"))
            try:
                time.sleep(min(pause, op.remaining()))
                pause = min(pause * POLL_GROWTH, POLL_MAX)
                job = self.call(op, "GET", self._status_url(op, job), params={"showDetails": "true"}) or {}
            except DNSTimeout:
                raise DNSTimeout(op.message(f"job {job.get('jobId')} still {status or 'RUNNING'} "
                                            f"after {self.timeout:g} s")) from None

    def _status_url(self, op: Operation, job: dict[str, Any]) -> str:
        callback = str(job.get("callbackUrl") or "")
        dns_url = self._dns_url(op)
        if callback.startswith(dns_url + "/"):
            return callback.split("?", 1)[0]
        if not job.get("jobId"):
            raise DNSServFail(op.message("the asynchronous answer carries no job id"))
        return f"{dns_url}/status/{quote(str(job['jobId']), safe='')}"

    def _job_error(self, op: Operation, job: dict[str, Any]) -> Exception:
        fault = job.get("error") if isinstance(job.get("error"), dict) else {}
        text = _fault_text(fault) or "no details"
        code = fault.get("code")
        if code == 404:
            return NotFound(text)
        detail = f"job {job.get('jobId')} failed: {code or 'ERROR'}: {text}"
        if isinstance(code, int) and code >= 500:
            return DNSServFail(op.message(detail))
        return DNSRefused(op.message(detail))

    # -- records -----------------------------------------------------------------------------

    def _find_zone(self, op: Operation, zone_name: str) -> str:
        try:  # the name filter also matches subdomains: keep the exact one
            body = self.call(op, "GET", f"{self._dns_url(op)}/domains", params={"name": zone_name})
        except NotFound:
            body = {}
        for domain in (body or {}).get("domains") or []:
            if str(domain.get("name", "")).lower() == zone_name:
                return str(domain["id"])
        raise self.not_zone(op, "no such domain in the Rackspace account")

    def _records_url(self, op: Operation, zone_id: str) -> str:
        return f"{self._dns_url(op)}/domains/{quote(zone_id, safe='')}/records"

    def _list(self, op: Operation, zone_id: str, fqdn: str, rdtype: str) -> list[Record]:
        records: list[Record] = []
        offset = 0
        while True:
            body = self.call(op, "GET", self._records_url(op, zone_id),
                             params={"type": rdtype, "name": fqdn, "limit": PAGE_LIMIT, "offset": offset})
            batch = (body or {}).get("records") or []
            records += [Record(str(item["id"]), str(item["data"]), item.get("ttl")) for item in batch
                        if item.get("type") == rdtype and str(item.get("name", "")).lower() == fqdn]
            offset += len(batch)
            if not batch or offset >= int((body or {}).get("totalEntries") or 0):
                return records

    def _create(self, op: Operation, zone_id: str, fqdn: str, rdtype: str, values: list[str],
                ttl: int) -> list[str]:
        payload = {"records": [{"name": fqdn, "type": rdtype, "data": value, "ttl": ttl} for value in values]}
        job = self._job(op, "POST", self._records_url(op, zone_id), json=payload)
        created = ((job.get("response") or {}).get("records")) or []
        ids = [str(item["id"]) for item in created if "id" in item]
        if len(ids) != len(values):  # no details in the job: ask for the ids
            wanted = set(values)
            ids = [record.id for record in self._list(op, zone_id, fqdn, rdtype) if record.value in wanted]
        return ids

    def _modify(self, op: Operation, zone_id: str, record_id: str, fqdn: str, rdtype: str,
                value: str, ttl: int) -> None:
        self._job(op, "PUT", f"{self._records_url(op, zone_id)}/{quote(record_id, safe='')}",
                  json={"name": fqdn, "data": value, "ttl": ttl})

    def _remove(self, op: Operation, zone_id: str, record_id: str) -> None:
        self._job(op, "DELETE", f"{self._records_url(op, zone_id)}/{quote(record_id, safe='')}")
