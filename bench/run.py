"""Load benchmark of /nic/update against anchors measured in the same run, on loopback only.

Why this shape: absolute req/s depend on the machine, so every target is a ratio to something
measured in the same run on the same machine: a bare Pyramid hello-world, a minimal Pyramid view
doing the least an authenticated update must do (one indexed SELECT plus one hash check), and a
bare dnspython client sending the same TSIG-signed UPDATEs to the same named. See README.md.

Usage: python bench/run.py [--duration 5] [--db sqlite --db postgresql] [--write-readme]
Needs wrk, bind9 (named) and postgresql (for --db postgresql) installed.
"""
from __future__ import annotations

import argparse
import base64
import datetime
import itertools
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository root holds tests/ and bench/
    sys.path.insert(0, str(ROOT))
# Pyramid 2.1 imports pkg_resources, whose deprecation warning is noise here (as in the app).
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.update  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.exc import SAWarning  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.servers import BAD_HOST, production_settings  # noqa: E402
from nsupdate_pyramid.models import Host, get_engine  # noqa: E402
from nsupdate_pyramid.services.domains import create_domain  # noqa: E402
from nsupdate_pyramid.services.hosts import create_host  # noqa: E402
from nsupdate_pyramid.services.users import create_user  # noqa: E402
from tests.conftest import migrate  # noqa: E402
from tests.fixtures.bind import NAMED, BindServer, named_command, write_bind_config  # noqa: E402
from tests.fixtures.net import free_port, log_tail, stop_process, wait_for_soa  # noqa: E402

BENCH = ROOT / "bench"
LUA = BENCH / "auth.lua"
README = BENCH / "README.md"
MARK_BEGIN, MARK_END = "<!-- bench:results -->", "<!-- /bench:results -->"
DOMAIN = "ddns.test"
NOCHG_IP = "10.200.0.1"
SCENARIOS = ("hello", "anchor", "bad_hosts", "badauth", "nochg", "good")
RSS_TARGET_MIB = 60.0
GOOD_P50_TARGET_MS = 3.0
#: scenario -> (reference scenario, minimum ratio to it at the same concurrency)
TARGETS: dict[str, tuple[str, float]] = {
    "nochg": ("anchor", 0.80),
    "badauth": ("anchor", 0.80),
    "bad_hosts": ("hello", 0.50),
    "good": ("dnspython", 0.50),
}
WRK_INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get install -y wrk"


# -- results ---------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One measured (db, scenario, concurrency): throughput, latency and everything that went wrong."""

    db: str
    scenario: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int = 0
    wrong_answers: int = 0  # answers not starting with the expected word (500s included)
    socket_errors: int = 0
    sample_ok: bool = True  # one request by urllib after the run got the expected answer
    counters_ok: bool = True  # the database's committed counters match the answers counted
    note: str = ""
    foreign_cores: float = 0.0  # CPU used meanwhile by processes outside this benchmark (and steal)
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None

    @property
    def errors(self) -> int:
        return self.wrong_answers + self.socket_errors + (not self.sample_ok) + (not self.counters_ok)


@dataclass
class Report:
    """Everything the table and the README need."""

    cells: list[Cell] = field(default_factory=list)
    rss_mib: dict[str, float] = field(default_factory=dict)
    rss_start_mib: dict[str, float] = field(default_factory=dict)  # right after start, before load
    checks: list[str] = field(default_factory=list)  # database/DNS cross-checks, one line each
    versions: dict[str, str] = field(default_factory=dict)  # app code version per process, and at the end
    started: str = ""
    duration: float = 0.0
    machine: str = ""


# -- processes -------------------------------------------------------------------------------------


def need(binary: str, hint: str) -> str:
    """The path of ``binary`` or a clear exit telling how to install it."""
    path = shutil.which(binary) or (binary if os.access(binary, os.X_OK) else None)
    if path is None:
        sys.exit(f"bench: {binary} not found. Install it with:\n    {hint}")
    return path


def rss_mib(pid: int) -> float:
    """VmRSS of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DISTURBED_CORES = 0.25  # more foreign CPU than this during a cell makes its numbers doubtful
RETRY_PAUSE = 5.0  # seconds to wait before measuring a disturbed cell again


def _own_ticks() -> int:
    """CPU ticks of this process and all its descendants, live or reaped.

    A process's cutime/cstime hold its reaped children, so summing (utime, stime, cutime, cstime)
    over the live tree counts every process once: wrk, named, the servers, postgres' backends.
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = sum(int(n) for n in fields[11:15])
    ours, total = {os.getpid()}, 0
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                changed = True
    for pid in ours:
        total += ticks.get(pid, 0)
    return total


def _busy_ticks() -> int:
    """Busy CPU ticks of the whole machine, steal included (a neighbour VM is contention too)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:9])
    return user + nice + system + irq + softirq + steal


class ForeignLoad:
    """How many cores others kept busy between start() and cores(): cells measured on a busy
    shared machine are flagged rather than silently compared."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.busy, self.own = _busy_ticks(), _own_ticks()

    def cores(self) -> float:
        elapsed = max(time.monotonic() - self.started, 1e-3)
        foreign = (_busy_ticks() - self.busy) - (_own_ticks() - self.own)
        return max(foreign, 0) / CLOCK_TICKS / elapsed


def opener() -> urllib.request.OpenerDirector:
    """An opener that ignores http_proxy & co: all traffic must stay on loopback."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


HTTP = opener()


def http_get(url: str, auth: str = "", timeout: float = 10.0) -> tuple[int, str]:
    """(status, body) of one GET; 4xx/5xx are answers too, not exceptions."""
    request = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})  # noqa: S310
    try:
        with HTTP.open(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@dataclass
class WsgiServer:
    """One ``bench.servers`` process on a loopback port."""

    kind: str
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_wsgi(kind: str, settings_file: Path, workdir: Path, label: str) -> WsgiServer:
    """Start a server process and wait until it answers HTTP (any status)."""
    port = free_port()
    log = workdir / f"{label}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.servers", kind, str(port), str(settings_file)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )
    server = WsgiServer(kind, port, proc, log)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{label} exited with {proc.returncode}:\n{log_tail(log)}")
            try:
                http_get(server.url + "/", timeout=1.0)
                return server
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{label} did not answer within 60 s:\n{log_tail(log)}")
    except BaseException:  # Ctrl-C included: never leave the server behind
        stop_process(proc)
        raise


def start_named(workdir: Path) -> tuple[BindServer, subprocess.Popen]:
    """The tests' BIND recipe (dnslab.md section 3), IPv4 loopback only."""
    workdir.mkdir()
    bind = write_bind_config(workdir, free_port(), ipv6=False)
    with open(bind.log_path, "wb") as log:
        proc = subprocess.Popen(named_command(workdir / "named.conf", ipv6=False),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_soa(proc, bind.port, bind.zone, host=bind.host)
    except (RuntimeError, TimeoutError) as exc:
        stop_process(proc)
        raise RuntimeError(f"named did not start: {exc}\n{log_tail(bind.log_path)}") from exc
    except BaseException:
        stop_process(proc)
        raise
    return bind, proc


@contextmanager
def postgresql_server() -> Iterator[str]:
    """A throw-away cluster with PostgreSQL's default durability (fsync and synchronous_commit on).

    The tests turn durability off for speed; production does not, so neither does the bench.
    """
    from tests.fixtures.postgres import throwaway_cluster

    with throwaway_cluster("nsu-bench-pg-", "nsu_bench", durable=True) as url:
        yield url


# -- settings and data -----------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Arranged:
    """Hosts per scenario, as (fqdn, secret)."""

    nochg: list[tuple[str, str]]
    badauth: list[tuple[str, str]]
    good: list[tuple[str, str]]


def arrange(db_url: str, bind: BindServer, count: int) -> Arranged:
    """Migrate, then one user, the rfc2136 domain on our named, and ``count`` hosts per scenario."""
    engine = get_engine({"sqlalchemy.url": db_url})
    try:
        with warnings.catch_warnings():  # alembic reflecting SQLite's expression indexes: noise here
            warnings.simplefilter("ignore", SAWarning)
            migrate(engine)
        with Session(engine) as session:
            owner = create_user(session, "bench", "bench@example.org", secrets.token_urlsafe(16))
            create_domain(session, DOMAIN, owner, backend="rfc2136", nameserver_ip=bind.host,
                          nameserver_port=bind.port, tsig_key_name=bind.key_name,
                          tsig_algorithm=bind.algorithm, tsig_secret=bind.secret)
            groups: dict[str, list[tuple[str, str]]] = {}
            for group in ("nochg", "badauth", "good"):
                groups[group] = []
                for index in range(count):
                    fqdn = f"{group}-{index}.{DOMAIN}"
                    _host, secret = create_host(session, fqdn, owner)
                    groups[group].append((fqdn, secret))
            session.commit()
    finally:
        engine.dispose()
    return Arranged(**groups)


def host_counters(db_url: str, prefix: str) -> tuple[int, int]:
    """(sum of api_auth_faults, sum of client_faults) of the hosts named ``prefix-*``."""
    engine = get_engine({"sqlalchemy.url": db_url})
    try:
        with Session(engine) as session:
            row = session.execute(
                select(func.sum(Host.api_auth_faults), func.sum(Host.client_faults))
                .where(Host.fqdn.like(f"{prefix}-%"))).one()
    finally:
        engine.dispose()
    return int(row[0] or 0), int(row[1] or 0)


# -- load ------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """What wrk sends to which server, and the answer word every response must start with."""

    name: str
    server: str  # hello, anchor or app
    lines: list[tuple[str, str]]  # (Authorization value, path)
    expected: str
    mode: str = "static"


def scenarios(hosts: Arranged) -> list[Scenario]:
    """The six load shapes (see README.md for what each one means)."""
    def update_path(fqdn: str, ip: str | None = NOCHG_IP) -> str:
        return f"/nic/update?hostname={fqdn}" + (f"&myip={ip}" if ip else "")

    right = [(basic(fqdn, secret), update_path(fqdn)) for fqdn, secret in hosts.nochg]
    return [
        Scenario("hello", "hello", [("", "/")], "Hello"),
        Scenario("anchor", "anchor", right, "ok"),
        Scenario("bad_hosts", "app", [(auth, update_path(BAD_HOST)) for auth, _ in right], "abuse"),
        Scenario("badauth", "app",
                 [(basic(fqdn, secret[::-1]), update_path(fqdn)) for fqdn, secret in hosts.badauth],
                 "badauth"),
        Scenario("nochg", "app", right, "nochg"),
        Scenario("good", "app",
                 [(basic(fqdn, secret), update_path(fqdn, None)) for fqdn, secret in hosts.good],
                 "good", mode="good"),
    ]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    expected: int
    other: int
    sample: str
    socket_errors: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unparsable wrk latency {text!r}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[match.group(2)]
    return float(match.group(1)) * scale


def parse_wrk(output: str) -> WrkResult:
    """Requests/sec, the 50 % and 99 % latencies, socket errors and our WORDS line."""
    def grab(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output)
        if match is None:
            raise RuntimeError(f"wrk output without {pattern!r}:\n{output}")
        return match

    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    words = grab(r"WORDS expected=(\d+) other=(\d+) sample=(.*)")
    return WrkResult(
        rps=float(grab(r"Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_ms(grab(r"\n\s+50%\s+(\S+)").group(1)),
        p99_ms=_ms(grab(r"\n\s+99%\s+(\S+)").group(1)),
        requests=int(grab(r"(\d+) requests in").group(1)),
        expected=int(words.group(1)),
        other=int(words.group(2)),
        sample=words.group(3).strip(),
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


class Runner:
    """Runs wrk with bench/auth.lua; hands out a fresh address block to every ``good`` run."""

    def __init__(self, workdir: Path, wrk_threads: int) -> None:
        self.workdir, self.wrk_threads = workdir, wrk_threads
        self.run_id = 0  # second octet of 10.x.y.z in good mode; unique per good run

    def wrk(self, url: str, scenario: Scenario, concurrency: int, seconds: int) -> WrkResult:
        if scenario.mode == "good":
            self.run_id += 1
            if self.run_id > 199:  # 10.200.0.1 is the nochg address, 10.250.x.y the samples'
                raise RuntimeError("too many good runs for distinct addresses")
        requests_file = self.workdir / f"requests-{scenario.name}.txt"
        requests_file.write_text("".join(f"{auth}\t{path}\n" for auth, path in scenario.lines))
        threads = max(1, min(self.wrk_threads, concurrency))
        cmd = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--latency",
               "--timeout", "10s", "-s", str(LUA), url + "/", "--",
               str(requests_file), scenario.mode, scenario.expected, str(self.run_id)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
        return parse_wrk(done.stdout)


SAMPLE_NUMBERS = itertools.count(1)  # a new address for every good sample


def sample_check(url: str, scenario: Scenario, bind: BindServer) -> tuple[bool, str]:
    """One request by another client after the run: is the answer (and for good, DNS) right?"""
    auth, path = scenario.lines[0]
    ip = ""
    if scenario.mode == "good":
        n = next(SAMPLE_NUMBERS)
        ip = f"10.250.{n // 256 % 256}.{n % 256}"
        path += f"&myip={ip}"
    status, body = http_get(url + path, auth)
    ok = body.startswith(scenario.expected)
    if ok and ip:
        label = path.split("hostname=", 1)[1].split("&", 1)[0]
        ok = bind.query(label + ".", "A") == [ip]
        body += f" / DNS {'has' if ok else 'lacks'} {ip}"
    return ok, f"{status} {body.strip()[:80]}"


def dnspython_reference(bind: BindServer, concurrency: int, seconds: float,
                        max_count: int = 200_000) -> tuple[float, float, float, int, int]:
    """A bare dnspython client: TSIG-signed replace UPDATEs (delete A + add A) over UDP, N threads.

    Returns (updates/s, p50 ms, p99 ms, updates, errors). Bounded by time and count.
    """
    keyring = bind.keyring()
    deadline = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency

    def worker(index: int) -> None:
        n = 0
        while n < max_count and time.monotonic() < deadline:
            name = f"ref-{index}-{n % 64}"
            update = dns.update.UpdateMessage(bind.zone, keyring=keyring)
            update.delete(name, "A")
            update.add(name, 60, "A", f"10.{index % 256}.{(n >> 8) % 256}.{n % 256}")
            start = time.perf_counter()
            try:
                response = dns.query.udp(update, bind.host, port=bind.port, timeout=3.0)
                if response.rcode() != dns.rcode.NOERROR:
                    errors[index] += 1
            except Exception:  # counted, not raised: a reference that errors is reported as such
                errors[index] += 1
            latencies[index].append((time.perf_counter() - start) * 1000)
            n += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(seconds + 10)
    elapsed = time.perf_counter() - started
    merged = sorted(x for chunk in latencies for x in chunk)
    if not merged:
        return 0.0, 0.0, 0.0, 0, sum(errors)
    quantiles = statistics.quantiles(merged, n=100, method="inclusive")
    return len(merged) / elapsed, quantiles[49], quantiles[98], len(merged), sum(errors)


# -- one database ----------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench_database(db: str, db_url: str, args: argparse.Namespace, bind: BindServer, hello: WsgiServer,
                   workdir: Path, report: Report, runner: Runner) -> None:
    """Arrange one database, start the app and the DB anchor on it, measure every cell."""
    log(f"{db}: migrating and arranging {args.hosts} hosts per scenario")
    hosts = arrange(db_url, bind, args.hosts)
    settings_file = workdir / f"settings-{db}.json"
    settings_file.write_text(json.dumps(production_settings(db_url, args.threads)))
    servers: dict[str, WsgiServer] = {"hello": hello}
    try:
        report.versions[f"app ({db})"] = app_version()
        servers["app"] = start_wsgi("app", settings_file, workdir, f"app-{db}")
        servers["anchor"] = start_wsgi("anchor", settings_file, workdir, f"anchor-{db}")
        started_rss = {kind: rss_mib(servers[kind].proc.pid) for kind in ("app", "anchor")}
        # Publish NOCHG_IP for every nochg host; this also proves app -> named works.
        for fqdn, secret in hosts.nochg:
            _, body = http_get(f"{servers['app'].url}/nic/update?hostname={fqdn}&myip={NOCHG_IP}",
                               basic(fqdn, secret))
            if body.strip() != f"good {NOCHG_IP}":
                raise RuntimeError(f"priming {fqdn} answered {body!r}:\n{log_tail(servers['app'].log)}")
        if bind.query(hosts.nochg[0][0] + ".", "A") != [NOCHG_IP]:
            raise RuntimeError("named does not have the primed address")
        seen: dict[str, int] = {}
        # Each wrk run may leave up to `concurrency` requests in flight when it stops: answered
        # to nobody, yet committed. Counted per run, retries included.
        in_flight: dict[str, int] = {}
        for scenario in scenarios(hosts):
            if scenario.name not in args.scenario:
                continue
            server = servers[scenario.server]
            for concurrency in args.concurrency:
                if args.warmup > 0:
                    warm = runner.wrk(server.url, scenario, concurrency, args.warmup)
                    seen[scenario.name] = seen.get(scenario.name, 0) + warm.expected
                    in_flight[scenario.name] = in_flight.get(scenario.name, 0) + concurrency
                # On a shared machine, measure again (a bounded number of times) while others keep
                # the CPU busy, and keep the quietest try; every try's answers count for the
                # database check below.
                result, foreign, tries = None, float("inf"), []
                for attempt in range(1 + args.retries):
                    if attempt:
                        time.sleep(RETRY_PAUSE)
                    load = ForeignLoad()
                    tried = runner.wrk(server.url, scenario, concurrency, args.duration)
                    cores = load.cores()
                    tries.append(tried)
                    seen[scenario.name] = seen.get(scenario.name, 0) + tried.expected
                    in_flight[scenario.name] = in_flight.get(scenario.name, 0) + concurrency
                    if cores < foreign:
                        result, foreign = tried, cores
                    if cores <= DISTURBED_CORES:
                        break
                    log(f"{db} {scenario.name} c={concurrency}: others used {cores:.2f} cores, "
                        f"{'measuring again' if attempt < args.retries else 'keeping the quietest try'}")
                assert result is not None
                # A wrong answer in any try is a wrong answer, even in a try whose speed was discarded.
                result.other = sum(t.other for t in tries)
                result.socket_errors = sum(t.socket_errors for t in tries)
                ok, sample = sample_check(server.url, scenario, bind)
                seen[scenario.name] += int(ok)
                cell = Cell(db, scenario.name, concurrency, result.rps, result.p50_ms, result.p99_ms,
                            result.requests, result.other, result.socket_errors, ok,
                            foreign_cores=foreign)
                if result.other:
                    cell.note = f"{result.other} wrong, e.g. {result.sample}"
                if not ok:
                    cell.note += f" sample: {sample}"
                report.cells.append(cell)
                log(f"{db} {scenario.name} c={concurrency}: {result.rps:.0f}/s p50 {result.p50_ms:.2f} ms "
                    f"p99 {result.p99_ms:.2f} ms, {result.other} wrong, {result.socket_errors} socket "
                    f"errors; sample {sample!r}; others used {foreign:.2f} cores")
        if "good" in args.scenario:
            for concurrency in args.concurrency:
                measured, foreign = None, float("inf")
                for attempt in range(1 + args.retries):
                    if attempt:
                        time.sleep(RETRY_PAUSE)
                    load = ForeignLoad()
                    tried = dnspython_reference(bind, concurrency, args.duration)
                    cores = load.cores()
                    if cores < foreign:
                        measured, foreign = tried, cores
                    if cores <= DISTURBED_CORES:
                        break
                assert measured is not None
                rps, p50, p99, count, errors = measured
                report.cells.append(Cell(db, "dnspython", concurrency, rps, p50, p99, count, errors,
                                         foreign_cores=foreign))
                log(f"{db} dnspython c={concurrency}: {rps:.0f}/s p50 {p50:.2f} ms p99 {p99:.2f} ms, "
                    f"{errors} errors; others used {foreign:.2f} cores")
        # Every answer counted must have been committed: the counters in the database agree.
        for name, column, counter in (("badauth", 0, "api_auth_faults"), ("nochg", 1, "client_faults")):
            if name not in seen:
                continue
            # The app may buffer its bookkeeping for a moment (nsupdate.bookkeeping_interval).
            deadline = time.monotonic() + 10
            committed = host_counters(db_url, name)[column]
            while committed < seen[name] and time.monotonic() < deadline:
                time.sleep(0.2)
                committed = host_counters(db_url, name)[column]
            ok = seen[name] <= committed <= seen[name] + in_flight.get(name, 0)
            report.checks.append(f"{db}: {name} answers seen {seen[name]}, {counter} committed "
                                 f"{committed} ({'ok' if ok else 'MISMATCH'})")
            for cell in report.cells:
                if not ok and (cell.db, cell.scenario) == (db, name):
                    cell.counters_ok = False
                    cell.note += f" {counter} mismatch"
        for kind in ("app", "anchor"):
            report.rss_mib[f"{kind} ({db})"] = rss_mib(servers[kind].proc.pid)
            report.rss_start_mib[f"{kind} ({db})"] = started_rss[kind]
        problems = [line for line in servers["app"].log.read_text(errors="replace").splitlines()
                    if "Traceback" in line or " ERROR " in line]
        if problems:
            report.checks.append(f"{db}: the app logged {len(problems)} errors, first: {problems[0][:160]}")
    finally:
        for kind in ("app", "anchor"):
            if kind in servers:
                stop_process(servers[kind].proc)


# -- verdicts and output ---------------------------------------------------------------------------


def judge(report: Report) -> None:
    """Fill ratio, target and pass/fail of every cell from its reference in the same run."""
    by_key = {(c.db, c.scenario, c.concurrency): c for c in report.cells}
    for cell in report.cells:
        if cell.scenario not in TARGETS:
            continue
        reference_name, minimum = TARGETS[cell.scenario]
        reference = by_key.get((cell.db, reference_name, cell.concurrency))
        cell.target = f">= {minimum:.0%} of {reference_name}"
        if reference is None or reference.rps <= 0:
            continue
        cell.ratio = cell.rps / reference.rps
        cell.passed = cell.ratio >= minimum
        if cell.scenario == "good" and cell.concurrency == 1:
            cell.target += f", p50 <= {GOOD_P50_TARGET_MS:g} ms"
            cell.passed = cell.passed and cell.p50_ms <= GOOD_P50_TARGET_MS
        if cell.errors:
            cell.passed = False


def render(report: Report) -> str:
    """The one markdown table, then memory and the cross-checks."""
    rows = ["| db | scenario | conc | req/s | p50 ms | p99 ms | errors | others' CPU | ratio | target "
            "| pass |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for c in report.cells:
        verdict = {True: "PASS", False: "FAIL", None: ""}[c.passed]
        ratio = f"{c.ratio:.0%}" if c.ratio is not None else ""
        errors = f"{c.errors}" + (f" ({c.note.strip()})" if c.note else "")
        foreign = f"{c.foreign_cores:.2f}" + (" (!)" if c.foreign_cores > DISTURBED_CORES else "")
        rows.append(f"| {c.db} | {c.scenario} | {c.concurrency} | {c.rps:.0f} | {c.p50_ms:.2f} | "
                    f"{c.p99_ms:.2f} | {errors} | {foreign} | {ratio} | {c.target} | {verdict} |")
    lines = [*rows, "", "| process | RSS at start | RSS after its run | target | pass |",
             "|---|---:|---:|---|---|"]
    for name, mib in report.rss_mib.items():
        start = report.rss_start_mib.get(name)
        at_start = f"{start:.1f} MiB" if start is not None else ""
        if name.startswith("app"):
            verdict = "PASS" if mib <= RSS_TARGET_MIB else "FAIL"
            lines.append(f"| {name} | {at_start} | {mib:.1f} MiB | <= {RSS_TARGET_MIB:g} MiB | {verdict} |")
        else:
            lines.append(f"| {name} | {at_start} | {mib:.1f} MiB | (reference) | |")
    checks = list(report.checks)
    disturbed = [c for c in report.cells if c.foreign_cores > DISTURBED_CORES]
    if disturbed:
        checks.append(
            f"{len(disturbed)} of {len(report.cells)} cells ran while processes outside the benchmark "
            f"(or a neighbour VM) used more than {DISTURBED_CORES:g} of the {os.cpu_count()} cores, "
            "marked (!): their numbers, and ratios built on them, are doubtful; run again on a quiet machine")
    lines += ["", *[f"- {check}" for check in checks]]
    judged = [c.passed for c in report.cells if c.passed is not None]
    judged += [mib <= RSS_TARGET_MIB for name, mib in report.rss_mib.items() if name.startswith("app")]
    lines += ["", f"Targets met: {sum(judged)} of {len(judged)}."]
    return "\n".join(lines)


def app_version() -> str:
    """The last commit of the app's code (nsupdate_pyramid/) and whether it has local changes.

    Taken at the start, when each app process starts and at the end: others may change the code
    while a run goes on, and a table that mixes versions must say so.
    """
    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                                 timeout=10, check=False)
        except OSError:
            return "?"
        return out.stdout.strip() if out.returncode == 0 else "?"

    # The last commit that changed the app's code: commits to tests or docs don't change what runs.
    commit = git("log", "-1", "--format=%h", "--", "nsupdate_pyramid")
    changed = git("status", "--porcelain", "--", "nsupdate_pyramid")
    return f"commit {commit}" + (" with uncommitted changes" if changed else "")


def machine() -> str:
    """Date, cores, CPU model and the versions that matter, for the README."""
    cpu = "unknown CPU"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
        except OSError:
            return "?"
        first = (out.stdout or out.stderr or "?").strip().splitlines()[0]
        return re.sub(r"\s*<id:[^>]*>", "", first)  # named -v ends in "<id:...>", not markdown

    return (f"{os.cpu_count()} cores ({cpu}), Linux {os.uname().release}, Python {sys.version.split()[0]}, "
            f"{version(['wrk', '--version']).split(' [')[0]}, {version([NAMED, '-v'])}; "
            f"app at {app_version()}")


def write_readme(report: Report, text: str, args: argparse.Namespace) -> None:
    """Replace the results block of bench/README.md."""
    block = (f"{MARK_BEGIN}\nMeasured {report.started} on {report.machine}; "
             f"{args.duration:g} s per cell after {args.warmup:g} s warm-up, waitress threads "
             f"{args.threads or 'as production.ini'}, {args.hosts} hosts per scenario, whole run "
             f"{report.duration:.0f} s.\n\n{text}\n{MARK_END}")
    current = README.read_text() if README.exists() else f"# Benchmark\n\n{MARK_BEGIN}\n{MARK_END}\n"
    if MARK_BEGIN not in current:
        current += f"\n{MARK_BEGIN}\n{MARK_END}\n"
    head, rest = current.split(MARK_BEGIN, 1)
    tail = rest.split(MARK_END, 1)[1] if MARK_END in rest else ""
    README.write_text(head + block + tail)


# -- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="whole seconds per measured cell (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds before a cell (default 1)")
    parser.add_argument("--concurrency", type=int, action="append", help="connections (default 1, 8, 32)")
    parser.add_argument("--db", action="append", choices=("sqlite", "postgresql"),
                        help="databases (default both)")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="default: all")
    parser.add_argument("--threads", type=int, default=None, help="waitress threads (default production.ini)")
    parser.add_argument("--retries", type=int, default=2,
                        help="measure a cell again this often while other processes load the CPU (default 2)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--hosts", type=int, default=64, help="hosts per scenario (default 64)")
    parser.add_argument("--write-readme", action="store_true", help="put the table into bench/README.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, SQLite file)")
    args = parser.parse_args(argv)
    args.concurrency = args.concurrency or [1, 8, 32]
    args.db = args.db or ["sqlite", "postgresql"]
    args.scenario = args.scenario or list(SCENARIOS)
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be 1 to 600 and --warmup 0 to 60 seconds")
    if not 0 <= args.retries <= 10:
        parser.error("--retries must be between 0 and 10")
    if any(not 1 <= c <= 1000 for c in args.concurrency) or not 1 <= args.hosts <= 1000:
        parser.error("--concurrency and --hosts must be between 1 and 1000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    need("wrk", WRK_INSTALL)
    need(NAMED, "DEBIAN_FRONTEND=noninteractive apt-get install -y bind9")
    if "postgresql" in args.db and not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        sys.exit("bench: PostgreSQL not found. Install it with:\n"
                 "    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql\nor pass --db sqlite")
    report = Report(started=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    machine=machine())
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="nsu-bench-"))
    runner = Runner(workdir, args.wrk_threads)
    named: subprocess.Popen | None = None
    hello: WsgiServer | None = None
    try:
        bind, named = start_named(workdir / "bind")
        log(f"named on 127.0.0.1:{bind.port}; work directory {workdir}")
        databases: dict[str, Callable[[], Any]] = {
            "sqlite": lambda: nullcontext_url(f"sqlite:///{workdir / 'nsupdate.sqlite'}"),
            "postgresql": postgresql_server,
        }
        hello_settings = workdir / "settings-hello.json"
        hello_settings.write_text(json.dumps(production_settings("sqlite://", args.threads)))
        hello = start_wsgi("hello", hello_settings, workdir, "hello")
        report.rss_start_mib["hello"] = rss_mib(hello.proc.pid)
        for db in args.db:
            with databases[db]() as db_url:
                bench_database(db, db_url, args, bind, hello, workdir, report, runner)
        report.rss_mib["hello"] = rss_mib(hello.proc.pid)
    finally:
        if hello is not None:
            stop_process(hello.proc)
        if named is not None:
            stop_process(named)
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report.duration = time.monotonic() - began
    served = set(report.versions.values())
    if len(served) > 1 or any("uncommitted" in version for version in served):
        report.checks.append("WARNING: the app processes did not all run one committed version: "
                             + "; ".join(f"{name}: {version}" for name, version in report.versions.items()))
    at_end = app_version()
    if at_end not in served:
        report.checks.append(f"The app's code moved on to {at_end} during the run; the app processes "
                             f"kept the code they had loaded at their start ({', '.join(sorted(served))}).")
    judge(report)
    text = render(report)
    print(f"Measured {report.started} on {report.machine}\n\n{text}")
    if args.write_readme:
        write_readme(report, text, args)
        log(f"wrote {README}")
    return 0


@contextmanager
def nullcontext_url(url: str) -> Iterator[str]:
    """SQLite needs no server: the file lives in the work directory."""
    yield url


if __name__ == "__main__":
    sys.exit(main())
