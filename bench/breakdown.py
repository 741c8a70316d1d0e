"""Where the time and memory of one /nic/update request go, for the README's profile section.

Why a second script: wrk only says how fast; this one says why. It builds the real app from the
same production-like settings as bench/run.py on the same kind of database and named, calls it
directly as a WSGI app in one thread (no waitress, no sockets, no GIL contention), and times the
parts of the request with wall-clock wrappers put around app functions in this process only (the
app's code is not changed). ``--cprofile`` adds cProfile's top functions; ``--memory`` measures,
in fresh interpreters, how much resident memory each import of the app's process costs.

Usage: python bench/breakdown.py [--db sqlite|postgresql] [--scenario nochg] [--requests 1000]
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import importlib
import io
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository root holds tests/ and bench/
    sys.path.insert(0, str(ROOT))
# Pyramid 2.1 imports pkg_resources, whose deprecation warning is noise here (as in the app).
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from bench import run  # noqa: E402
from bench.servers import build, production_settings  # noqa: E402
from tests.fixtures.net import stop_process  # noqa: E402

#: (module, attribute, label): the parts of a request worth timing separately. The app changes;
#: parts it no longer has are skipped, parts it does not call show no line. Nested parts overlap.
PARTS: list[tuple[str, str, str]] = [
    ("nsupdate_pyramid.api.views", "_env", "views._env: UpdateEnv built for every request"),
    ("nsupdate_pyramid.models", "get_tm_session", "get_tm_session: Session + zope.sqlalchemy.register"),
    ("nsupdate_pyramid.services.dyndns", "_read_host", "_read_host: connection, BEGIN, SELECT, ROLLBACK"),
    ("nsupdate_pyramid.services.dyndns", "load_host", "load_host: the SELECT host JOIN domain (any path)"),
    ("nsupdate_pyramid.security.secrets", "verify_secret", "verify_secret: salted SHA-256"),
    ("nsupdate_pyramid.services.dyndns", "_apply", "_apply: the decision, and the write transaction if any"),
    ("nsupdate_pyramid.dns.rfc2136", "RFC2136Backend.update", "RFC2136Backend.update: TSIG UPDATE to named"),
    ("nsupdate_pyramid.services.dyndns", "HostUpdater.update_related", "update_related: related hosts"),
    ("nsupdate_pyramid.services.thirdparty", "calls_for", "thirdparty.calls_for: third-party services"),
    ("nsupdate_pyramid.services.dyndns", "HostChanges.save", "HostChanges.save: UPDATE of the host row"),
    ("nsupdate_pyramid.services.hoststore", "Bookkeeper.record", "Bookkeeper.record: counters to the buffer"),
    ("nsupdate_pyramid.services.hoststore", "Bookkeeper.flush",
     "Bookkeeper.flush: buffered UPDATEs (background thread, amortised)"),
    ("transaction._manager", "TransactionManager.commit", "transaction commit (pyramid_tm)"),
    ("nsupdate_pyramid.api.views", "answer_response", "answer_response: the text Response"),
]


def install_timers(totals: Counter[str]) -> Callable[[], None]:
    """Wrap each PART so that its wall time adds up in ``totals``; return the undo function."""
    originals = []
    for module_name, dotted, label in PARTS:
        owner: Any = importlib.import_module(module_name)
        *path, name = dotted.split(".")
        try:
            for attribute in path:
                owner = getattr(owner, attribute)
            original = getattr(owner, name)
        except AttributeError:
            continue  # not in this version of the app

        def timed(*args: Any, _original: Any = original, _label: str = label, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                totals[_label] += time.perf_counter() - start

        setattr(owner, name, functools.wraps(original)(timed))
        originals.append((owner, name, original))

    def undo() -> None:
        for owner, name, original in originals:
            setattr(owner, name, original)

    return undo


def environ(auth: str, path: str) -> dict[str, Any]:
    """A WSGI environ like the one waitress builds for wrk's request."""
    path_info, _, query = path.partition("?")
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": path_info, "QUERY_STRING": query,
           "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
           "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
           "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr}
    if auth:
        env["HTTP_AUTHORIZATION"] = auth
    return env


def drive(app: Any, scenario: run.Scenario, count: int, offset: int) -> tuple[float, float, str]:
    """Send ``count`` requests of ``scenario``; return (wall and CPU µs per request, last answer).

    CPU time is what limits throughput under load: Python runs one thread at a time.
    """
    body = b""
    start, cpu_start = time.perf_counter(), time.process_time()
    for n in range(count):
        auth, path = scenario.lines[n % len(scenario.lines)]
        if scenario.mode == "good":
            k = offset + n
            path += f"&myip=10.{201 + k // 65536 % 50}.{k // 256 % 256}.{k % 256}"
        body = b"".join(app(environ(auth, path), lambda *_: None))
    return ((time.perf_counter() - start) / count * 1e6,
            (time.process_time() - cpu_start) / count * 1e6, body.decode()[:40])


@contextlib.contextmanager
def database(db: str, workdir: Path) -> Iterator[str]:
    """An SQLite file or a throw-away PostgreSQL cluster, like bench/run.py uses."""
    if db == "sqlite":
        yield f"sqlite:///{workdir / 'profile.sqlite'}"
    else:
        with run.postgresql_server() as url:
            yield url


def profile_requests(args: argparse.Namespace) -> None:
    """µs per request of the anchors and the app, then the app's request split into parts."""
    workdir = Path(tempfile.mkdtemp(prefix="nsu-profile-"))
    bind, named = run.start_named(workdir / "bind")
    try:
        with database(args.db, workdir) as url:
            hosts = run.arrange(url, bind, 64)
            settings = production_settings(url, None)["app"]
            apps = {kind: build(kind, settings) for kind in ("hello", "anchor", "app")}
            for fqdn, secret in hosts.nochg:  # publish the nochg address, as run.py does
                b"".join(apps["app"](environ(run.basic(fqdn, secret),
                                              f"/nic/update?hostname={fqdn}&myip={run.NOCHG_IP}"),
                                     lambda *_: None))
            print(f"{args.db}, one thread, direct WSGI calls, {args.requests} requests each "
                  f"(after {args.requests // 10} unmeasured)\n")
            offset = 0
            for scenario in run.scenarios(hosts):
                if scenario.name not in args.scenario:
                    continue
                app = apps[scenario.server]
                count = args.requests // 4 if scenario.mode == "good" else args.requests
                drive(app, scenario, count // 10 + 1, offset)
                offset += count
                totals: Counter[str] = Counter()
                undo = install_timers(totals) if scenario.server == "app" else (lambda: None)
                try:
                    per_request, cpu, answer = drive(app, scenario, count, offset)
                finally:
                    undo()
                offset += count
                print(f"{scenario.name:9s} {per_request:7.0f} µs/request, {cpu:5.0f} µs CPU "
                      f"(answer {answer!r})")
                for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
                    print(f"    {seconds / count * 1e6:7.0f} µs  {label}")
                if args.cprofile and scenario.server == "app":
                    # --cpu: CPU seconds per function (what the GIL serialises under load),
                    # not wall time, which counts the waits for the database and named.
                    profiler = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
                    profiler.runcall(drive, app, scenario, count, offset)
                    offset += count
                    out = io.StringIO()
                    stats = pstats.Stats(profiler, stream=out).sort_stats(
                        "tottime" if args.cpu else "cumulative")
                    stats.print_stats(args.cprofile)
                    print("\n".join("    " + line for line in out.getvalue().splitlines()[6:] if line))
    finally:
        stop_process(named)
        shutil.rmtree(workdir, ignore_errors=True)


MEMORY_STEP = """
import importlib, sys, warnings
warnings.simplefilter("ignore")
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
for name in {before!r}:
    importlib.import_module(name)
start = rss()
for name in {step!r}:
    importlib.import_module(name)
{then}
print(f"{{start:.1f}} {{rss() - start:.1f}}")
"""
#: The last step: what main() adds once everything is imported.
BUILD_APP = """
import tempfile
from bench.servers import build, production_settings
with tempfile.TemporaryDirectory() as folder:
    build("app", production_settings(f"sqlite:///{folder}/memory.sqlite", None)["app"])
"""

#: What the app process imports, in the order it does, each measured on top of the previous ones.
MEMORY_STEPS = [
    ["waitress"], ["pkg_resources"], ["pyramid.config"], ["sqlalchemy", "sqlalchemy.orm"],
    ["psycopg"], ["zope.sqlalchemy", "pyramid_tm", "pyramid_retry", "transaction"],
    ["dns.message", "dns.update", "dns.query", "dns.tsigkeyring"], ["requests"],
    ["jinja2", "pyramid_jinja2"], ["argon2"], ["nsupdate_pyramid.models"],
    ["nsupdate_pyramid.api.views", "nsupdate_pyramid.views"],
]


LOADED = """
import sys, tempfile, warnings
warnings.simplefilter("ignore")
from bench.servers import build, production_settings
with tempfile.TemporaryDirectory() as folder:
    build("app", production_settings(f"sqlite:///{folder}/memory.sqlite", None)["app"])
print(" ".join(sorted(sys.modules)))
"""


def memory_ladder() -> None:
    """RSS each group of imports adds, each in a fresh interpreter on top of the groups before it.

    Only the groups the app (on SQLite) really has loaded once ``main()`` returned are counted.
    """
    done = subprocess.run([sys.executable, "-c", LOADED], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, check=True)
    loaded = set(done.stdout.split())
    skipped = [" + ".join(step) for step in MEMORY_STEPS if step[0] not in loaded]
    print("resident memory added by each import group the app loads at start "
          "(fresh interpreter per line)")
    before: list[str] = []
    for step in MEMORY_STEPS:
        if step[0] not in loaded:
            continue
        code = MEMORY_STEP.format(before=before, step=step, then="")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                              timeout=120, check=False)
        if done.returncode != 0:
            print(f"    {' + '.join(step)}: failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        start, added = done.stdout.split()
        if not before:
            print(f"    {float(start):5.1f} MiB  bare interpreter")
        print(f"    {float(added):+5.1f} MiB  {' + '.join(step)}")
        before += step
    code = MEMORY_STEP.format(before=before, step=[], then=BUILD_APP)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, check=False)
    if done.returncode == 0:
        start, added = done.stdout.split()
        print(f"    {float(added):+5.1f} MiB  main(): config.scan, routes, views, templates, registry")
        print(f"    {float(start) + float(added):5.1f} MiB  in all, before the first request")
    if skipped:
        print(f"    (not loaded at start: {'; '.join(skipped)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--scenario", action="append", choices=run.SCENARIOS, help="default: all")
    parser.add_argument("--requests", type=int, default=1000, help="per scenario (good: a quarter)")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="also print cProfile's top N")
    parser.add_argument("--cpu", action="store_true",
                        help="with --cprofile: CPU time per function, sorted by own time")
    parser.add_argument("--memory", action="store_true", help="only the import memory ladder")
    args = parser.parse_args(argv)
    if not 10 <= args.requests <= 100_000:
        parser.error("--requests must be between 10 and 100000")
    args.scenario = args.scenario or list(run.SCENARIOS)
    if args.memory:
        memory_ladder()
    else:
        profile_requests(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
