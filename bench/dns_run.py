"""dnsperf against the built-in nameserver and BIND serving the same 100k-record zone, in one run.

Why this shape: queries per second say more about the machine than about the server, so the
target is a ratio to BIND measured in the same run (issue 5, "Performance"): the built-in server
must carry 10 % of BIND's maximum rate with no lost query and a p99 under 5 ms, and stay within
60 MiB of resident memory with 100k records; and it must keep that p99 and memory while the zone
changes all the time, as a dynamic zone does (10 updates a second through the builtin backend).
See README.md, "Benchmark of the built-in nameserver".

Usage: python bench/dns_run.py [--duration 5] [--records 100000] [--db sqlite] [--write-readme]
Needs dnsperf and bind9 (named) installed; PostgreSQL only for --db postgresql.
"""
from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository root holds tests/ and bench/
    sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
from sqlalchemy import insert, update  # noqa: E402
from sqlalchemy.exc import SAWarning  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.run import ForeignLoad, app_version, log, need, postgresql_server, rss_mib  # noqa: E402
from nsupdate_pyramid.dns.builtin import BuiltinBackend  # noqa: E402
from nsupdate_pyramid.dns.zone import ZoneInfo  # noqa: E402
from nsupdate_pyramid.models import Record, Zone, get_engine, get_session_factory  # noqa: E402
from nsupdate_pyramid.services.domains import create_domain  # noqa: E402
from nsupdate_pyramid.services.users import create_user  # noqa: E402
from tests.conftest import migrate  # noqa: E402
from tests.fixtures.bind import NAMED, named_command  # noqa: E402
from tests.fixtures.nameserver import named_conf, nameserver_settings, write_ini  # noqa: E402
from tests.fixtures.net import free_port, log_tail, stop_process, wait_for_soa  # noqa: E402

README = ROOT / "bench" / "README.md"
MARK_BEGIN, MARK_END = "<!-- bench:dns-results -->", "<!-- /bench:dns-results -->"
ZONE = "bench.test"
NS = ("ns1.example.net", "ns2.example.net")  # outside the zone: no glue needed
DNSPERF_INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get install -y dnsperf"
NAMED_INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get install -y bind9"
# Targets (issue 5).
SHARE_OF_BIND = 0.10
P99_TARGET_MS = 5.0
RSS_TARGET_MIB = 60.0
#: dnsperf (threads, clients, outstanding queries) for the maximum-throughput cells; BIND
#: needs two dnsperf threads to be saturated on two cores.
LOADS = ((1, 1, 20), (1, 8, 100), (2, 16, 500))
#: Changes a second while the zone is busy: each a different name, every tenth a deletion
#: (the name deleted comes back with the next change).
UPDATES_PER_SECOND = 10
QUERY_TIMEOUT = 1  # seconds before dnsperf counts a query as lost
INSERT_CHUNK = 10_000

#: Like our server: no authority or additional records beyond what the answer needs.
NAMED_OPTIONS = "allow-transfer { none; };\nminimal-responses yes;"


def host_name(index: int) -> str:
    return f"h{index}"


def host_address(index: int) -> str:
    return str(ipaddress.IPv4Address(0x0A000000 + index))  # 10.0.0.0 upwards


# -- the data --------------------------------------------------------------------------------------


def arrange(db_url: str, records: int) -> int:
    """Migrate, create the builtin zone through the app's services, bulk-insert ``records`` A
    records (Core executemany in chunks: the ORM would take minutes), bump the serial once."""
    engine = get_engine({"sqlalchemy.url": db_url})
    factory = get_session_factory(engine)
    try:
        with warnings.catch_warnings():  # alembic reflecting SQLite's expression indexes: noise here
            warnings.simplefilter("ignore", SAWarning)
            migrate(engine)
        with Session(engine) as session:
            owner = create_user(session, "bench", "bench@example.org", "bench-" + "x" * 20)
            create_domain(session, ZONE, owner, backend="builtin", public=True,
                          dns_backend=BuiltinBackend("builtin", session_factory=factory, nameservers=NS))
            session.commit()
            zone_id = session.query(Zone.id).filter(Zone.name == ZONE).scalar()
        records_table = Record.__table__
        with engine.begin() as connection:
            for start in range(0, records, INSERT_CHUNK):
                connection.execute(insert(records_table), [
                    {"zone_id": zone_id, "name": host_name(i), "rtype": "A", "ttl": None,
                     "data": host_address(i), "lan_data": ""}
                    for i in range(start, min(start + INSERT_CHUNK, records))])
            connection.execute(update(Zone.__table__).where(Zone.__table__.c.id == zone_id)
                               .values(serial=Zone.__table__.c.serial + 1))
            zones = Zone.__table__
            return connection.execute(zones.select().where(zones.c.id == zone_id)).one().serial
    finally:
        engine.dispose()


def write_zone_file(path: Path, serial: int, records: int) -> None:
    """The same zone for named: the SOA values the built-in server synthesizes from its settings
    (nameserver_settings: defaults), TTL 1 like ``nameserver.ttl``."""
    lines = [f"$ORIGIN {ZONE}.", "$TTL 1",
             f"@ IN SOA {NS[0]}. hostmaster.{ZONE}. {serial} 300 60 1209600 60",
             *(f"@ IN NS {ns}." for ns in NS)]
    lines += [f"{host_name(i)} IN A {host_address(i)}" for i in range(records)]
    path.write_text("\n".join(lines) + "\n")


def write_queries(path: Path, records: int, names: int, nxdomain: float, seed: int = 5
                  ) -> tuple[int, list[int]]:
    """A queries for ``names`` distinct existing names plus a share of names that do not exist,
    shuffled; dnsperf cycles through the file. Returns the number of lines and the indexes of
    the names asked for."""
    rng = random.Random(seed)
    asked = rng.sample(range(records), min(names, records))
    existing = [host_name(i) for i in asked]
    missing = [f"nx{rng.randrange(10**9)}" for _ in range(round(len(existing) * nxdomain / (1 - nxdomain)))]
    lines = [f"{name}.{ZONE} A" for name in existing + missing]
    rng.shuffle(lines)
    path.write_text("\n".join(lines) + "\n")
    return len(lines), asked


# -- the servers -----------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path


@contextmanager
def running(name: str, command: list[str], port: int, log: Path) -> Iterator[Server]:
    """A server as our direct child, ready once it answers the zone's SOA; always stopped."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_soa(proc, port, f"{ZONE}.", timeout=120)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{name} did not start: {exc}\n{log_tail(log)}") from exc
        yield Server(name, port, proc, log)
    finally:
        stop_process(proc)


def same_answers(ours: int, bind: int, records: int) -> list[str]:
    """A sample of names asked of both servers: the same rcode and addresses, or what differs."""
    problems = []
    for label in [host_name(i) for i in (0, records // 2, records - 1)] + ["nx-missing"]:
        answers = []
        for port in (ours, bind):
            response = dns.query.udp(dns.message.make_query(f"{label}.{ZONE}", "A"), "127.0.0.1",
                                     port=port, timeout=2)
            answers.append((dns.rcode.to_text(response.rcode()),
                            sorted(r.to_text() for rrset in response.answer for r in rrset)))
        if answers[0] != answers[1]:
            problems.append(f"{label}: built-in {answers[0]}, BIND {answers[1]}")
    return problems


@contextmanager
def updating(db_url: str, asked: list[int], per_second: int = UPDATES_PER_SECOND) -> Iterator[list[int]]:
    """Real changes through the builtin backend, as /nic/update makes them, ``per_second`` of
    them evenly spread, each of another name that dnsperf asks for (so kept answers must go),
    until the block ends; the list it gives holds the number of changes made."""
    stop = threading.Event()
    made = [0]

    def work() -> None:
        engine = get_engine({"sqlalchemy.url": db_url})
        backend = BuiltinBackend("builtin", session_factory=get_session_factory(engine), nameservers=NS)
        zone = ZoneInfo(name=ZONE)
        rng = random.Random(11)
        deleted: int | None = None
        due = time.monotonic()
        try:
            while True:
                due += 1 / per_second
                if stop.wait(max(0.0, due - time.monotonic())):
                    return
                index = rng.choice(asked)
                if deleted is not None:
                    backend.update(zone, host_name(deleted), "A", [host_address(deleted)])
                    deleted = None
                elif made[0] % per_second == per_second - 1:
                    backend.delete(zone, host_name(index), "A")
                    deleted = index
                else:
                    backend.update(zone, host_name(index), "A", [host_address(records_after(made[0]))])
                made[0] += 1
        finally:
            engine.dispose()

    thread = threading.Thread(target=work, name="updater", daemon=True)
    thread.start()
    try:
        yield made
    finally:
        stop.set()
        thread.join(10)


def records_after(count: int) -> int:
    """An address index outside the zone's own (so every update is a real change)."""
    return 0x01000000 + count


# -- dnsperf ---------------------------------------------------------------------------------------


@dataclass
class Cell:
    server: str
    load: str  # "max -c 8 -q 100" or "fixed 23000 qps"
    qps: float
    sent: int
    lost: int
    avg_ms: float
    p99_ms: float | None = None
    others: float = 0.0  # cores used by processes outside the benchmark meanwhile
    ratio: float | None = None
    verdict: str = ""


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"dnsperf output without {pattern!r}:\n{text[-2000:]}")
    return float(match.group(1))


def dnsperf(server: Server, queries: Path, seconds: int, workdir: Path, *, threads: int = 1,
            clients: int = 1, outstanding: int = 100, rate: int | None = None, label: str = "") -> Cell:
    """One bounded dnsperf run (-l plus a subprocess timeout). With ``rate`` the load is fixed
    (-Q) and every query's latency is logged (-v) for the p99."""
    command = [need("dnsperf", DNSPERF_INSTALL), "-s", "127.0.0.1", "-p", str(server.port),
               "-d", str(queries), "-l", str(seconds), "-t", str(QUERY_TIMEOUT),
               "-T", str(threads), "-c", str(clients), "-q", str(outstanding)]
    if rate is not None:
        command += ["-Q", str(rate), "-v"]
    out_path = workdir / f"dnsperf-{server.name}-{time.monotonic_ns()}.out"
    load = ForeignLoad()
    with open(out_path, "w") as out:
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       timeout=seconds + QUERY_TIMEOUT + 30, check=True)
    text = out_path.read_text()
    p99 = None
    if rate is not None:
        latencies = [float(line.rsplit(None, 1)[1]) for line in text.splitlines()
                     if line.startswith("> ") and not line.startswith("> T ")]
        if len(latencies) >= 100:
            p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98] * 1000
    out_path.unlink()
    return Cell(server=server.name,
                load=f"fixed {rate} qps{label}" if rate is not None
                else f"max -T {threads} -c {clients} -q {outstanding}",
                qps=_number(r"Queries per second:\s+([\d.]+)", text),
                sent=int(_number(r"Queries sent:\s+(\d+)", text)),
                lost=int(_number(r"Queries lost:\s+(\d+)", text)),
                avg_ms=_number(r"Average Latency \(s\):\s+([\d.]+)", text) * 1000,
                p99_ms=p99, others=load.cores())


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Report:
    cells: list[Cell] = field(default_factory=list)
    rss: dict[str, float] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    verdicts: list[tuple[str, bool]] = field(default_factory=list)
    started: str = ""
    machine: str = ""
    setup: str = ""


def machine() -> str:
    """Cores, CPU, kernel and the versions that matter, for the README."""
    cpu = "unknown CPU"
    with suppress(OSError):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    versions = []
    for command in ([NAMED, "-v"], ["dnsperf", "-h"]):
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
        text = out.stdout + out.stderr
        version = re.search(r"(BIND \S+|Version \S+)", text)
        versions.append(version.group(1) if version else "?")
    dnspython = __import__("dns.version").version.version
    return (f"{os.cpu_count()} cores ({cpu}), Linux {os.uname().release}, Python {sys.version.split()[0]}, "
            f"dnspython {dnspython}, {versions[0]}, dnsperf {versions[1].split()[-1]}; "
            f"app at {app_version()}")


def measure(args: argparse.Namespace, db_url: str, workdir: Path, report: Report) -> None:
    log(f"{args.db}: migrating and inserting {args.records} records")
    began = time.monotonic()
    serial = arrange(db_url, args.records)
    log(f"data ready in {time.monotonic() - began:.1f} s")
    queries = workdir / "queries.txt"
    lines, asked = write_queries(queries, args.records, args.names, args.nxdomain)
    bind_dir = workdir / "bind"
    bind_dir.mkdir()
    write_zone_file(bind_dir / f"{ZONE}.zone", serial, args.records)
    bind_port, our_port = free_port(), free_port()
    (bind_dir / "named.conf").write_text(named_conf(
        bind_dir, bind_port, f'zone "{ZONE}" {{ type primary; file "{ZONE}.zone"; }};\n', NAMED_OPTIONS))
    ini = write_ini(workdir / "nameserver.ini", nameserver_settings(db_url, our_port, **{
        "nameserver.listen": f"127.0.0.1:{our_port}", "nameserver.ns": " ".join(NS),
        "nameserver.poll_interval": "1"}), level="INFO")  # INFO: no line per query, one per load
    report.setup = (f"{args.db}, {args.records} A records, query file of {lines} lines ({args.names} "
                    f"existing names, {args.nxdomain:.0%} NXDOMAIN), {args.duration} s per cell, "
                    f"dnsperf -t {QUERY_TIMEOUT}")
    with ExitStack() as stack:
        bind = stack.enter_context(running("BIND", named_command(bind_dir / "named.conf", ipv6=False),
                                           bind_port, bind_dir / "named.log"))
        began = time.monotonic()
        ours = stack.enter_context(running(
            "built-in", [str(Path(sys.executable).parent / "nsupdate-nameserver"), str(ini)],
            our_port, workdir / "nameserver.log"))
        log(f"built-in nameserver answering after {time.monotonic() - began:.1f} s")
        report.rss["built-in at start"] = rss_mib(ours.proc.pid)
        report.checks += same_answers(our_port, bind_port, args.records) or [
            "The built-in server and BIND gave the same answers for a sample of names."]
        servers = (bind, ours)
        for threads, clients, outstanding in LOADS:
            for server in servers:
                cell = dnsperf(server, queries, args.duration, workdir, threads=threads, clients=clients,
                               outstanding=outstanding)
                log(f"{cell.server} {cell.load}: {cell.qps:.0f} qps, lost {cell.lost}")
                report.cells.append(cell)
        bind_max = max(c.qps for c in report.cells if c.server == "BIND")
        rate = max(100, round(bind_max * SHARE_OF_BIND))
        for server in servers:
            cell = dnsperf(server, queries, args.duration, workdir, clients=8, outstanding=200, rate=rate)
            log(f"{cell.server} {cell.load}: {cell.qps:.0f} qps, lost {cell.lost}, p99 {cell.p99_ms} ms")
            report.cells.append(cell)
        fixed = report.cells[-1]
        report.rss["built-in after the run"] = rss_mib(ours.proc.pid)
        # A dynamic DNS zone changes all the time: the same load while hot names are updated
        # through the builtin backend, then the memory after all those changes.
        with updating(db_url, asked) as made:
            busy = dnsperf(ours, queries, args.duration, workdir, clients=8, outstanding=200, rate=rate,
                           label=f", {UPDATES_PER_SECOND} updates/s")
        log(f"{busy.server} {busy.load}: {busy.qps:.0f} qps, lost {busy.lost}, p99 {busy.p99_ms} ms, "
            f"{made[0]} changes")
        report.cells.append(busy)
        time.sleep(2)
        report.rss[f"built-in after {made[0]} changes"] = rss_mib(ours.proc.pid)
        loads = ours.log.read_text().count(f"zone {ZONE}. loaded")
        report.checks.append(f"{made[0]} changes (updates, every tenth a deletion) made through the "
                             f"builtin backend during the {args.duration} s of the busy cell; the "
                             f"nameserver loaded the zone whole {loads} time(s) in all (at start).")
        for cell in report.cells:
            reference = next((c for c in report.cells if c.server == "BIND" and c.load == cell.load), None)
            if cell.server != "BIND" and reference is not None:
                cell.ratio = cell.qps / reference.qps
        kept_up = fixed.lost == 0 and fixed.qps >= 0.97 * rate
        fixed.verdict = "PASS" if kept_up else "FAIL"
        report.verdicts += [
            (f"{rate} qps (10 % of BIND's {bind_max:.0f}) with 0 lost: {fixed.qps:.0f} qps, "
             f"{fixed.lost} lost", kept_up),
            (f"p99 < {P99_TARGET_MS:g} ms at that load: {fixed.p99_ms:.2f} ms"
             if fixed.p99_ms is not None else "p99: not measured", (fixed.p99_ms or 1e9) < P99_TARGET_MS),
        ]
        busy_ok = busy.lost == 0 and (busy.p99_ms or 1e9) < P99_TARGET_MS
        busy.verdict = "PASS" if busy_ok else "FAIL"
        report.verdicts.append(
            (f"p99 < {P99_TARGET_MS:g} ms with {UPDATES_PER_SECOND} updates/s, 0 lost: "
             + (f"{busy.p99_ms:.2f} ms" if busy.p99_ms is not None else "not measured")
             + f", {busy.lost} lost", busy_ok))
        steady = max(mib for name, mib in report.rss.items() if "changes" not in name)
        changed = max(report.rss.values())
        report.verdicts += [
            (f"RSS <= {RSS_TARGET_MIB:g} MiB with {args.records} records, loaded once: {steady:.1f} MiB",
             steady <= RSS_TARGET_MIB),
            (f"RSS <= {RSS_TARGET_MIB:g} MiB after the busy cell's changes: {changed:.1f} MiB",
             changed <= RSS_TARGET_MIB),
        ]


def render(report: Report) -> str:
    rows = ["| server | load | qps | lost | avg ms | p99 ms | ratio to BIND | others' CPU | target |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for c in report.cells:
        rows.append(f"| {c.server} | {c.load} | {c.qps:.0f} | {c.lost} | {c.avg_ms:.3f} | "
                    f"{'' if c.p99_ms is None else f'{c.p99_ms:.2f}'} | "
                    f"{'' if c.ratio is None else f'{c.ratio:.1%}'} | {c.others:.2f} | {c.verdict} |")
    rows += ["", "| process | RSS |", "|---|---:|"]
    rows += [f"| {name} | {mib:.1f} MiB |" for name, mib in report.rss.items()]
    rows += ["", *[f"- {'PASS' if ok else 'FAIL'}: {text}" for text, ok in report.verdicts]]
    rows += [f"- {check}" for check in report.checks]
    return "\n".join(rows)


def write_readme(report: Report, text: str) -> None:
    """Replace this benchmark's block in bench/README.md (the update-API block stays as it is)."""
    block = (f"{MARK_BEGIN}\nMeasured {report.started} on {report.machine}; {report.setup}.\n\n"
             f"{text}\n{MARK_END}")
    current = README.read_text()
    if MARK_BEGIN not in current:
        current += f"\n{MARK_BEGIN}\n{MARK_END}\n"
    head, rest = current.split(MARK_BEGIN, 1)
    README.write_text(head + block + rest.split(MARK_END, 1)[1])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per dnsperf run (default 5)")
    parser.add_argument("--records", type=int, default=100_000, help="A records in the zone (default 100000)")
    parser.add_argument("--names", type=int, default=10_000,
                        help="distinct existing names in the query file (default 10000)")
    parser.add_argument("--nxdomain", type=float, default=0.05,
                        help="share of queries for names that do not exist (default 0.05)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--write-readme", action="store_true", help="put the table into bench/README.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, database)")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 120 or not 1 <= args.records <= 1_000_000:
        parser.error("--duration must be 1 to 120 seconds and --records 1 to 1000000")
    if not 1 <= args.names <= args.records or not 0 <= args.nxdomain < 1:
        parser.error("--names must be 1 to --records and --nxdomain from 0 to below 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    need("dnsperf", DNSPERF_INSTALL)
    need(NAMED, NAMED_INSTALL)
    report = Report(started=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    machine=machine())
    workdir = Path(tempfile.mkdtemp(prefix="nsu-dnsbench-"))
    try:
        if args.db == "sqlite":
            measure(args, f"sqlite:///{workdir / 'nsupdate.sqlite'}", workdir, report)
        else:
            with postgresql_server() as url:
                measure(args, url, workdir, report)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = render(report)
    print(f"Measured {report.started} on {report.machine}; {report.setup}.\n\n{text}")
    if args.write_readme:
        write_readme(report, text)
        log(f"wrote {README}")
    return 0 if all(ok for _, ok in report.verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
