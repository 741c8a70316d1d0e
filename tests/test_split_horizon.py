"""Split horizon end to end: a router sends its public and LAN address through the update
API; the built-in nameserver answers the LAN address to queries from the public address
(127.0.0.3 plays the router's WAN address here) and the public one to everybody else."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import webtest

from nsupdate_pyramid.services import hosts as host_service
from nsupdate_pyramid.services import users as user_service
from tests.fixtures.nameserver import OWNER, ZONE, NameserverLab, nameserver_settings, write_ini
from tests.fixtures.net import free_port

WAN, ELSEWHERE = "127.0.0.3", "127.0.0.2"


def dig_short(lab: NameserverLab, name: str, source: str) -> str:
    result = subprocess.run(["dig", "@127.0.0.1", "-p", str(lab.port), "-b", source, "+norec",
                             "+time=2", "+tries=1", "+short", name, "A"],
                            capture_output=True, text=True, timeout=15, check=False)
    return result.stdout.strip()


def router_of_new_host(ns_lab: NameserverLab, name: str) -> webtest.TestApp:
    """A new host of the zone's owner, and an update client for it behind the WAN address."""
    with ns_lab.session() as session:
        owner = user_service.get_user_by_username(session, OWNER)
        _host, secret = host_service.create_host(session, name, owner)
        session.commit()
    router = webtest.TestApp(ns_lab.app, extra_environ={"REMOTE_ADDR": WAN})
    router.authorization = ("Basic", (name, secret))
    return router


def test_lanip_through_the_api_is_answered_to_the_hosts_own_network(ns_lab: NameserverLab) -> None:
    name = f"split.{ZONE}"
    router = router_of_new_host(ns_lab, name)
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


def test_lan_form_with_the_builtin_backend_on_its_own_database(ns_lab: NameserverLab) -> None:
    """The host page's LAN form through an app with a real engine (no shared test connection):
    the backend's own transaction must not wait for the request's (SQLite's write lock)."""
    from tests.conftest import AppClient

    name = f"lanform.{ZONE}"
    router = router_of_new_host(ns_lab, name)
    assert router.get("/nic/update", {"myip": WAN}).text == f"good {WAN}"
    browser = AppClient(ns_lab.app, extra_environ={"HTTP_HOST": "example.com",
                                                     "REMOTE_ADDR": "192.0.2.7"})
    browser.login(OWNER)
    form = browser.get(f"/hosts/{name}/").forms["lan-form"]
    form["lan_ip"] = "192.168.1.77"
    started = time.monotonic()
    page = form.submit().follow()
    assert time.monotonic() - started < 1.0  # no waiting on a database lock
    assert "LAN address saved." in page.text
    ns_lab.wait_for(lambda: ns_lab.values(name, source=WAN) == ["192.168.1.77"])
    assert ns_lab.values(name, source=ELSEWHERE) == [WAN]


def test_admin_host_set_lan_ip_with_the_builtin_backend(ns_lab: NameserverLab, tmp_path: Path) -> None:
    """``nsupdate-admin host set --lan-ip`` on a real database: published, not locked out."""
    name = f"lancli.{ZONE}"
    router = router_of_new_host(ns_lab, name)
    assert router.get("/nic/update", {"myip": WAN}).text == f"good {WAN}"
    ini = write_ini(tmp_path / "admin.ini", nameserver_settings(ns_lab.url, free_port()))
    admin = Path(sys.executable).with_name("nsupdate-admin")
    result = subprocess.run([str(admin), str(ini), "host", "set", name, "--lan-ip", "192.168.1.88"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"{name}: lan_ip=192.168.1.88"
    ns_lab.wait_for(lambda: ns_lab.values(name, source=WAN) == ["192.168.1.88"])
