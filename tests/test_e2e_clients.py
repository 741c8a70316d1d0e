"""Real dyndns2 clients (ddclient 3.10, inadyn 2.10) against the live app and a real BIND.

The API tests prove our answers byte for byte; only the clients themselves prove that routers and
scripts in the field accept them: their request format, Basic auth, how they read our replies and
their exit codes. Recipes and quirks: dnslab.md sections 8, 9 and 13.

Exit codes alone prove little (ddclient exits 0 on an HTTP 500), so every test also checks what the
server recorded on the host row and what named now serves.
"""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures.bind import BindServer
from tests.fixtures.live_app import LiveApp

DDCLIENT = "/usr/bin/ddclient"
INADYN = "/usr/sbin/inadyn"
DIG = "/usr/bin/dig"
RUN_TIMEOUT = 30.0
#: The secret with a space and a colon: Basic auth splits at the first colon only.
ODD_SECRET = "s3cret pass:word"

DDCLIENT_CONF = """\
daemon=0
syslog=no
ssl=no
pid={dir}/ddclient.pid
cache={dir}/ddclient.cache
{use}
protocol=dyndns2
server=127.0.0.1:{port}
login={fqdn}
password='{password}'
{fqdn}
"""

INADYN_CONF = """\
period = 60
verify-address = false
custom e2e-server {{
    ssl             = false
    username        = {fqdn}
    password        = "{password}"
    ddns-server     = "127.0.0.1:{port}"
    ddns-path       = "/nic/update?hostname=%h&myip=%i"
    ddns-response   = {{ "good", "nochg" }}
    checkip-command = "echo {address}"
    hostname        = {fqdn}
}}
"""


@dataclass(frozen=True)
class ClientRun:
    """What a client process left behind: its exit status and everything it printed."""

    returncode: int
    output: str


def run_isolated(argv: list[str], cwd: Path) -> ClientRun:
    """Run a client in its own process group, kill the whole group on timeout, and prove nothing stays.

    A minimal environment keeps proxy variables from sending the request off loopback.
    """
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "HOME": str(cwd)}
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"{argv[0]} still running after {RUN_TIMEOUT:.0f} s:\n{output.decode(errors='replace')}")
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        pass
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"{argv[0]} left processes behind in its group")
    return ClientRun(proc.returncode, output.decode(errors="replace"))


@dataclass
class DdClient:
    """ddclient one-shot runs: forced, with a deleted cache, so every run really sends a request."""

    live_app: LiveApp
    workdir: Path
    name: str = "ddclient"
    #: Exit status on badauth / HTTP 401 (dnslab.md section 8).
    failure_code: int = 1
    #: Printed only when ddclient understood our answer as ``good``.
    good_marker: str = "SUCCESS:"
    _runs: itertools.count = field(default_factory=itertools.count)

    def update(self, fqdn: str, password: str, address: str) -> ClientRun:
        """Send ``address`` for ``fqdn``; IPv6 goes out only with ``use=ip`` (dnslab.md section 8)."""
        rundir = self.workdir / f"ddclient-{next(self._runs)}"
        rundir.mkdir()
        use = f"use=ip, ip={address}" if ":" in address else f"use=no\nusev4=ipv4, ipv4={address}"
        conf = rundir / "ddclient.conf"
        conf.write_text(DDCLIENT_CONF.format(dir=rundir, use=use, port=self.live_app.port, fqdn=fqdn,
                                             password=password))
        conf.chmod(0o600)
        return run_isolated([DDCLIENT, "-file", str(conf), "-foreground", "-daemon=0", "-noquiet",
                             "-force"], rundir)


@dataclass
class Inadyn:
    """inadyn one-shot runs with a pre-seeded cache, so it looks nothing up (dnslab.md section 13)."""

    live_app: LiveApp
    workdir: Path
    name: str = "inadyn"
    #: Exit status on HTTP 401 (dnslab.md section 9).
    failure_code: int = 50
    #: Printed only when inadyn matched our answer against ``ddns-response``.
    good_marker: str = "Successful alias table update"
    _runs: itertools.count = field(default_factory=itertools.count)

    def update(self, fqdn: str, password: str, address: str) -> ClientRun:
        """Send ``address`` for ``fqdn`` via checkip-command; the cache says 0.0.0.0 so it always sends."""
        rundir = self.workdir / f"inadyn-{next(self._runs)}"
        cache = rundir / "cache"
        cache.mkdir(parents=True)
        (cache / f"{fqdn}.cache").write_text("0.0.0.0")
        conf = rundir / "inadyn.conf"
        conf.write_text(INADYN_CONF.format(fqdn=fqdn, password=password, port=self.live_app.port,
                                           address=address))
        conf.chmod(0o600)
        return run_isolated([INADYN, "-1", "--force", "-n", "-l", "debug", "-f", str(conf),
                             f"--cache-dir={cache}", "-P", str(rundir / "inadyn.pid")], rundir)


Client = DdClient | Inadyn


@pytest.fixture(params=["ddclient", "inadyn"])
def client(request: pytest.FixtureRequest, live_app: LiveApp, tmp_path: Path) -> Client:
    """Each test runs once per real client."""
    path = DDCLIENT if request.param == "ddclient" else INADYN
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} not found: apt-get install ddclient inadyn")
    if request.param == "ddclient":
        return DdClient(live_app, tmp_path)
    return Inadyn(live_app, tmp_path)


def new_label(client: Client, purpose: str) -> str:
    """A host label no other test uses: the BIND zone is shared by the whole session."""
    return f"{client.name}-{purpose}-{uuid.uuid4().hex[:8]}"


def dig(bind_server: BindServer, name: str, rdtype: str) -> list[str]:
    """Ask named with dig itself, as an operator would check the record."""
    result = subprocess.run(
        [DIG, f"@{bind_server.host}", "-p", str(bind_server.port), "+short", "+norecurse", "+time=2",
         "+tries=1", name, rdtype],
        capture_output=True, text=True, timeout=10, check=True,
    )
    return sorted(result.stdout.split())


def assert_ok(run: ClientRun) -> None:
    """Exit 0, which alone proves little (ddclient exits 0 on HTTP 500), so callers check the host too."""
    assert run.returncode == 0, run.output


def assert_good(client: Client, run: ClientRun) -> None:
    """Exit 0 and the client itself says it took our answer as a successful update."""
    assert_ok(run)
    assert client.good_marker in run.output, run.output


def test_first_update_is_good(client: Client, live_app: LiveApp, bind_server: BindServer) -> None:
    fqdn, secret = live_app.add_bind_host(bind_server, new_label(client, "first"))

    assert_good(client, client.update(fqdn, secret, "192.0.2.10"))

    host = live_app.host(fqdn)
    assert host.published_ipv4 == "192.0.2.10"
    assert "good update" in host.client_result_msg
    assert (host.client_faults, host.server_faults, host.api_auth_faults) == (0, 0, 0)
    assert dig(bind_server, fqdn + ".", "A") == ["192.0.2.10"]


def test_same_address_again_is_nochg(client: Client, live_app: LiveApp, bind_server: BindServer) -> None:
    fqdn, secret = live_app.add_bind_host(bind_server, new_label(client, "nochg"))
    assert_ok(client.update(fqdn, secret, "192.0.2.11"))
    faults = live_app.host(fqdn).client_faults

    assert_ok(client.update(fqdn, secret, "192.0.2.11"))

    host = live_app.host(fqdn)
    assert host.client_faults == faults + 1
    assert "no-change update" in host.client_result_msg
    assert host.published_ipv4 == "192.0.2.11"
    assert bind_server.query(fqdn + ".", "A") == ["192.0.2.11"]


def test_address_change_is_good(client: Client, live_app: LiveApp, bind_server: BindServer) -> None:
    fqdn, secret = live_app.add_bind_host(bind_server, new_label(client, "change"))
    assert_ok(client.update(fqdn, secret, "192.0.2.12"))

    assert_good(client, client.update(fqdn, secret, "203.0.113.12"))

    host = live_app.host(fqdn)
    assert host.published_ipv4 == "203.0.113.12"
    assert "good update" in host.client_result_msg
    assert "203.0.113.12" in host.client_result_msg
    assert host.client_faults == 0
    assert bind_server.query(fqdn + ".", "A") == ["203.0.113.12"]


def test_wrong_password_is_refused(client: Client, live_app: LiveApp, bind_server: BindServer) -> None:
    fqdn, secret = live_app.add_bind_host(bind_server, new_label(client, "badauth"))
    assert_ok(client.update(fqdn, secret, "192.0.2.13"))

    run = client.update(fqdn, secret + "-wrong", "203.0.113.13")

    assert run.returncode == client.failure_code, run.output
    host = live_app.host(fqdn)
    assert host.api_auth_faults == 1
    assert "api authentication failure" in host.api_auth_result_msg
    assert host.published_ipv4 == "192.0.2.13"
    assert bind_server.query(fqdn + ".", "A") == ["192.0.2.13"]


def test_secret_with_space_and_colon(client: Client, live_app: LiveApp, bind_server: BindServer) -> None:
    fqdn, secret = live_app.add_bind_host(bind_server, new_label(client, "colon"), secret=ODD_SECRET)
    assert secret == ODD_SECRET

    assert_good(client, client.update(fqdn, secret, "192.0.2.14"))

    host = live_app.host(fqdn)
    assert host.api_auth_faults == 0
    assert host.published_ipv4 == "192.0.2.14"
    assert "good update" in host.client_result_msg
    assert bind_server.query(fqdn + ".", "A") == ["192.0.2.14"]


def test_ipv6_update_sets_aaaa(client: Client, live_app: LiveApp, bind_server: BindServer) -> None:
    fqdn, secret = live_app.add_bind_host(bind_server, new_label(client, "v6"))

    assert_good(client, client.update(fqdn, secret, "2001:db8::15"))

    host = live_app.host(fqdn)
    assert host.published_ipv6 == "2001:db8::15"
    assert "good update" in host.client_result_msg
    assert bind_server.query(fqdn + ".", "AAAA") == ["2001:db8::15"]
    assert bind_server.query(fqdn + ".", "A") == []
