"""Split horizon end to end: a router sends its public and LAN address through the update
API; the built-in nameserver answers the LAN address to queries from the public address
(127.0.0.3 plays the router's WAN address here) and the public one to everybody else."""
from __future__ import annotations

import subprocess
import time

import webtest

from nsupdate_pyramid.services import hosts as host_service
from nsupdate_pyramid.services import users as user_service
from tests.fixtures.nameserver import OWNER, ZONE, NameserverLab

WAN, ELSEWHERE = "127.0.0.3", "127.0.0.2"


def dig_short(lab: NameserverLab, name: str, source: str) -> str:
    result = subprocess.run(["dig", "@127.0.0.1", "-p", str(lab.port), "-b", source, "+norec",
                             "+time=2", "+tries=1", "+short", name, "A"],
                            capture_output=True, text=True, timeout=15, check=False)
    return result.stdout.strip()


def test_lanip_through_the_api_is_answered_to_the_hosts_own_network(ns_lab: NameserverLab) -> None:
    name = f"split.{ZONE}"
    with ns_lab.session() as session:
        owner = user_service.get_user_by_username(session, OWNER)
        _host, secret = host_service.create_host(session, name, owner)
        session.commit()
    router = webtest.TestApp(ns_lab.app, extra_environ={"REMOTE_ADDR": WAN})
    router.authorization = ("Basic", (name, secret))
    sent = time.monotonic()
    answer = router.get("/nic/update", {"myip": WAN, "lanip": "192.168.1.10"}).text
    assert answer == f"good {WAN}"
    ns_lab.wait_for(lambda: ns_lab.values(name, source=WAN) == ["192.168.1.10"])
    assert time.monotonic() - sent < 1.0  # visible within a second of the update
    assert ns_lab.values(name, source=ELSEWHERE) == [WAN]
    assert dig_short(ns_lab, name, WAN) == "192.168.1.10"
    assert dig_short(ns_lab, name, ELSEWHERE) == WAN
    # Removing the LAN address: everyone gets the public one again.
    assert router.get("/nic/update", {"myip": WAN, "lanip": ""}).text == f"nochg {WAN}"
    ns_lab.wait_for(lambda: ns_lab.values(name, source=WAN) == [WAN])
