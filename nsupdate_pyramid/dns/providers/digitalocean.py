"""DigitalOcean DNS through its API v2 (``Authorization: Bearer <token>``).

The zone is a "domain" addressed by its name, so its "id" is the name itself, checked once.
Records are filtered by full name and type; the API stores names relative to the domain
(``@`` for the apex). Errors come as ``{"id": "...", "message": "..."}``.

Settings (``dns.backend.<name>.*``): ``token`` (a personal access token with write scope),
``base_url`` (default ``https://api.digitalocean.com/v2``), ``timeout``, ``ttl``, ``ca_file``.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from . import BearerTokenBackend, NotFound, Operation, Record

PER_PAGE = 200  # the API's maximum


class DigitalOceanBackend(BearerTokenBackend):
    provider = "DigitalOcean"
    default_base_url = "https://api.digitalocean.com/v2"
    min_ttl = 30

    def _error_text(self, body: Any) -> str:
        return str(body["message"])

    def _records_url(self, zone_id: str) -> str:
        return f"{self.base_url}/domains/{quote(zone_id, safe='')}/records"

    def _find_zone(self, op: Operation, zone_name: str) -> str:
        try:
            self.call(op, "GET", f"{self.base_url}/domains/{quote(zone_name, safe='')}")
        except NotFound:
            raise self.not_zone(op, "no such domain in the DigitalOcean account of this token") from None
        return zone_name

    def _list(self, op: Operation, zone_id: str, fqdn: str, rdtype: str) -> list[Record]:
        records: list[Record] = []
        page = 1
        while True:
            body = self.call(op, "GET", self._records_url(zone_id),
                             params={"name": fqdn, "type": rdtype, "page": page, "per_page": PER_PAGE})
            batch = body.get("domain_records") or []
            records += [Record(str(item["id"]), str(item["data"]), item.get("ttl")) for item in batch
                        if item.get("type") == rdtype]
            total = int((body.get("meta") or {}).get("total") or 0)
            if not batch or page * PER_PAGE >= total:
                return records
            page += 1

    def _body(self, zone_id: str, fqdn: str, rdtype: str, value: str, ttl: int) -> dict[str, Any]:
        return {"type": rdtype, "name": self.relative(fqdn, zone_id), "data": value, "ttl": ttl}

    def _create(self, op: Operation, zone_id: str, fqdn: str, rdtype: str, values: list[str],
                ttl: int) -> list[str]:
        return [str(self.call(op, "POST", self._records_url(zone_id), expect=(201,),
                              json=self._body(zone_id, fqdn, rdtype, value, ttl))["domain_record"]["id"])
                for value in values]

    def _modify(self, op: Operation, zone_id: str, record_id: str, fqdn: str, rdtype: str,
                value: str, ttl: int) -> None:
        self.call(op, "PUT", f"{self._records_url(zone_id)}/{quote(record_id, safe='')}",
                  json=self._body(zone_id, fqdn, rdtype, value, ttl))

    def _remove(self, op: Operation, zone_id: str, record_id: str) -> None:
        self.call(op, "DELETE", f"{self._records_url(zone_id)}/{quote(record_id, safe='')}", expect=(204,))
