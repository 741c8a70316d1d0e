"""The configuration help works with the real programs: the ddclient, inadyn and curl texts are
taken from the page the live app serves (after "make a new update secret"), written to files as
they are, and the programs then update the host in the real BIND behind the domain.

Only what a loopback lab needs is added around them: ddclient and inadyn get their cache and pid
paths on the command line, and inadyn is told that 127.0.0.1 (what /myip answers here) is an
acceptable address (``verify-address = false``), as it refuses loopback addresses otherwise.
"""
from __future__ import annotations

import html
import re
import shlex
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD
from tests.fixtures.bind import BindServer
from tests.fixtures.live_app import LIVE_USERNAME, LiveApp
from tests.test_e2e_clients import DDCLIENT, INADYN, run_isolated

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _snippet(page: str, name: str) -> str:
    match = re.search(rf'<pre class="snippet" id="conf-{re.escape(name)}"><code>(.*?)</code></pre>',
                      page, re.S)
    assert match, f"no {name} snippet"
    return html.unescape(match.group(1))


def fresh_config_page(live_app: LiveApp, fqdn: str) -> str:
    """Log in to the live app as the host's owner and make a new secret: the page it answers."""
    with requests.Session() as browser:
        browser.trust_env = False  # no proxies: loopback only
        token = CSRF.search(browser.get(f"{live_app.url}/login", timeout=10).text).group(1)
        answer = browser.post(f"{live_app.url}/login", timeout=10, data={
            "username": LIVE_USERNAME, "password": PASSWORD, "csrf_token": token})
        assert answer.url.endswith("/hosts/"), answer.url
        token = CSRF.search(browser.get(f"{live_app.url}/hosts/{fqdn}/", timeout=10).text).group(1)
        page = browser.post(f"{live_app.url}/hosts/{fqdn}/secret", data={"csrf_token": token},
                            timeout=10)
        assert page.status_code == 200
        assert f"server=127.0.0.1:{live_app.port}" in html.unescape(page.text)
        return page.text


@pytest.fixture
def bind_host(live_app: LiveApp, bind_server: BindServer) -> str:
    fqdn, _secret = live_app.add_bind_host(bind_server, f"conf-{uuid.uuid4().hex[:8]}")
    return fqdn


def assert_published(live_app: LiveApp, bind_server: BindServer, fqdn: str) -> None:
    host = live_app.host(fqdn)
    assert host.published_ipv4 == "127.0.0.1"
    assert "good update" in host.client_result_msg
    assert host.api_auth_faults == 0
    assert bind_server.query(fqdn + ".", "A") == ["127.0.0.1"]


def test_ddclient_with_the_pages_config(live_app: LiveApp, bind_server: BindServer,
                                        bind_host: str, tmp_path: Path) -> None:
    conf = tmp_path / "ddclient.conf"
    conf.write_text(_snippet(fresh_config_page(live_app, bind_host), "ddclient"))
    conf.chmod(0o600)
    run = run_isolated([DDCLIENT, "-file", str(conf), "-cache", str(tmp_path / "cache"),
                        "-pid", str(tmp_path / "pid"), "-foreground", "-daemon=0", "-noquiet",
                        "-force"], tmp_path)
    assert run.returncode == 0 and "SUCCESS:" in run.output, run.output
    assert_published(live_app, bind_server, bind_host)


def test_inadyn_with_the_pages_config(live_app: LiveApp, bind_server: BindServer,
                                      bind_host: str, tmp_path: Path) -> None:
    text = _snippet(fresh_config_page(live_app, bind_host), "inadyn")
    # IPv4 only here: the IPv6 block would ask /myip over IPv4 and get no IPv6 address.
    text = text[:text.index("custom nsupdate-ipv6")]
    conf = tmp_path / "inadyn.conf"
    conf.write_text("verify-address = false\n" + text)
    conf.chmod(0o600)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"{bind_host}.cache").write_text("0.0.0.0")  # no lookup of the name (dnslab 13)
    run = run_isolated([INADYN, "-1", "--force", "-n", "-l", "debug", "-f", str(conf),
                        f"--cache-dir={cache}", "-P", str(tmp_path / "inadyn.pid")], tmp_path)
    assert run.returncode == 0 and "Successful alias table update" in run.output, run.output
    assert_published(live_app, bind_server, bind_host)


def test_curl_with_the_pages_command(live_app: LiveApp, bind_server: BindServer,
                                     bind_host: str) -> None:
    first_line = _snippet(fresh_config_page(live_app, bind_host), "curl").splitlines()[0]
    argv = shlex.split(first_line)
    assert argv[0] == "curl"
    result = subprocess.run([*argv, "--silent", "--noproxy", "*", "--max-time", "10"],
                            capture_output=True, text=True, timeout=20, check=True)
    assert result.stdout == "good 127.0.0.1"
    assert_published(live_app, bind_server, bind_host)
