"""Many routers at once against the served app (waitress threads, real SQLite commits, BIND).

SQLite serialises writers; a request must wait for the lock, never fail with
"database is locked" (which would reach the router as 911). Updates of one host
must not interleave: what DNS holds and what we believe we published must agree.
"""
from __future__ import annotations

import base64
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

HOSTS = 8
ROUNDS = 3


def _update(url: str, fqdn: str, secret: str, address: str) -> tuple[int, str]:
    token = base64.b64encode(f"{fqdn}:{secret}".encode()).decode()
    request = Request(f"{url}/nic/update?myip={address}", headers={"Authorization": f"Basic {token}"})
    try:
        with urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except HTTPError as error:
        return error.code, error.read().decode()


def _burst(url: str, jobs: list[tuple[str, str, str]]) -> list[tuple[int, str]]:
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: _update(url, *job), jobs))


@pytest.fixture(params=["live_app", "live_app_pg"])
def live(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


def test_many_hosts_at_once(live: Any, bind_server: Any) -> None:
    live_app = live
    hosts = [live_app.add_bind_host(bind_server, "c" + uuid.uuid4().hex[:10]) for _ in range(HOSTS)]
    for round_ in range(1, ROUNDS + 1):
        answers = _burst(live_app.url, [(fqdn, secret, f"192.0.2.{10 * round_ + index}")
                                        for index, (fqdn, secret) in enumerate(hosts)])
        assert all(status == 200 and body.startswith("good ") for status, body in answers), answers
    for index, (fqdn, _secret) in enumerate(hosts):
        last = f"192.0.2.{10 * ROUNDS + index}"
        assert bind_server.query(f"{fqdn}.", "A") == [last]
        assert live_app.host(fqdn).published_ipv4 == last


def test_one_host_many_times_at_once(live: Any, bind_server: Any) -> None:
    live_app = live
    fqdn, secret = live_app.add_bind_host(bind_server, "s" + uuid.uuid4().hex[:10])
    sent = [f"198.51.100.{n}" for n in range(1, 13)]
    answers = _burst(live_app.url, [(fqdn, secret, address) for address in sent])
    assert all(status == 200 and body.startswith("good ") for status, body in answers), answers
    published = live_app.host(fqdn).published_ipv4
    assert published in sent
    assert bind_server.query(f"{fqdn}.", "A") == [published]
