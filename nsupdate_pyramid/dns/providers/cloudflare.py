"""Cloudflare DNS through its API v4 with an API token (``Authorization: Bearer <token>``).

Every answer is an envelope ``{"success", "errors": [{"code", "message", "error_chain"}],
"messages", "result", "result_info"}``. A token that is malformed or missing is refused with
HTTP 400 (codes 6003/6111, 9106), not 401, so those codes count as bad credentials too. A zone
the token has no permission for is simply absent from ``GET /zones?name=``. Records are created
unproxied (``proxied: false``): a dynamic DNS name must resolve to the host itself.

Settings (``dns.backend.<name>.*``): ``token`` (an API token with Zone:Read and DNS:Edit on the
zones), ``base_url`` (default ``https://api.cloudflare.com/client/v4``), ``timeout``, ``ttl``
(``1`` = Cloudflare's "automatic"), ``ca_file``.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..errors import DNSServFail
from . import BearerTokenBackend, Operation, Record

PER_PAGE = 100
#: Error codes that mean the credentials are wrong, whatever the HTTP status.
AUTH_CODES = frozenset({1000, 6003, 6100, 6101, 6102, 6103, 6111, 9106, 9109, 10000})
RATE_LIMIT_CODES = frozenset({971, 10429})
#: "Could not route to /zones/<id>/..." (an unknown zone id, HTTP 400) and "Record does not exist".
NOT_FOUND_CODES = frozenset({7000, 7003, 81044})


def _codes(body: Any) -> set[int]:
    codes: set[int] = set()
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or []:
        if not isinstance(error, dict):
            continue
        for item in [error, *(error.get("error_chain") or [])]:
            if isinstance(item, dict) and isinstance(item.get("code"), int):
                codes.add(item["code"])
    return codes


class CloudflareBackend(BearerTokenBackend):
    provider = "Cloudflare"
    default_base_url = "https://api.cloudflare.com/client/v4"
    min_ttl = 60

    def _record_ttl(self, ttl: int | None) -> int:
        if (self.ttl or ttl) == 1:
            return 1  # "automatic"
        return super()._record_ttl(ttl)

    def _error_text(self, body: Any) -> str:
        parts = []
        for error in body.get("errors") or []:
            chain = "; ".join(str(item.get("message")) for item in error.get("error_chain") or [])
            parts.append(f"{error.get('message')} ({error.get('code')})" + (f": {chain}" if chain else ""))
        return "; ".join(parts)

    def _is_auth_failure(self, status: int, body: Any) -> bool:
        return status == 400 and bool(_codes(body) & AUTH_CODES)

    def _is_rate_limit(self, status: int, body: Any) -> bool:
        return bool(_codes(body) & RATE_LIMIT_CODES)

    def _is_not_found(self, status: int, body: Any) -> bool:
        return status == 400 and bool(_codes(body) & NOT_FOUND_CODES)

    def _result(self, op: Operation, method: str, url: str, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """The ``result`` of a successful envelope, and the envelope."""
        body = self.call(op, method, url, **kwargs)
        if not isinstance(body, dict) or not body.get("success"):
            detail = self._error_text(body) if isinstance(body, dict) else "no JSON envelope"
            raise self._unsuccessful(op, detail)
        return body.get("result"), body

    def _unsuccessful(self, op: Operation, detail: str) -> DNSServFail:
        return DNSServFail(op.message(f"provider failure (success false: {detail or 'no details'})"))

    def _records_url(self, zone_id: str) -> str:
        return f"{self.base_url}/zones/{quote(zone_id, safe='')}/dns_records"

    def _find_zone(self, op: Operation, zone_name: str) -> str:
        result, _ = self._result(op, "GET", f"{self.base_url}/zones",
                                 params={"name": zone_name, "per_page": 50})
        for zone in result or []:
            if str(zone.get("name", "")).lower() == zone_name:
                return str(zone["id"])
        raise self.not_zone(op, "no such zone, or the API token has no permission for it")

    def _list(self, op: Operation, zone_id: str, fqdn: str, rdtype: str) -> list[Record]:
        records: list[Record] = []
        page = 1
        while True:
            result, body = self._result(op, "GET", self._records_url(zone_id),
                                        params={"name": fqdn, "type": rdtype, "page": page,
                                                "per_page": PER_PAGE})
            records += [Record(str(item["id"]), str(item["content"]), item.get("ttl"))
                        for item in result or [] if item.get("type") == rdtype]
            pages = int((body.get("result_info") or {}).get("total_pages") or 1)
            if not result or page >= pages:
                return records
            page += 1

    @staticmethod
    def _body(fqdn: str, rdtype: str, value: str, ttl: int) -> dict[str, Any]:
        return {"type": rdtype, "name": fqdn, "content": value, "ttl": ttl, "proxied": False}

    def _create(self, op: Operation, zone_id: str, fqdn: str, rdtype: str, values: list[str],
                ttl: int) -> list[str]:
        return [str(self._result(op, "POST", self._records_url(zone_id),
                                 json=self._body(fqdn, rdtype, value, ttl))[0]["id"]) for value in values]

    def _modify(self, op: Operation, zone_id: str, record_id: str, fqdn: str, rdtype: str,
                value: str, ttl: int) -> None:
        self._result(op, "PUT", f"{self._records_url(zone_id)}/{quote(record_id, safe='')}",
                     json=self._body(fqdn, rdtype, value, ttl))

    def _remove(self, op: Operation, zone_id: str, record_id: str) -> None:
        self._result(op, "DELETE", f"{self._records_url(zone_id)}/{quote(record_id, safe='')}")
