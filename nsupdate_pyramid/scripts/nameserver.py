"""``nsupdate-nameserver INI``: the built-in nameserver as a service of its own.

Runs in the foreground (systemd ``Type=simple``), logs as the ini's logging sections say,
stops cleanly on SIGTERM or SIGINT with status 0. When it cannot start (an address cannot be
bound, a bad setting) it prints one line to stderr and exits with status 1.

It reads only what it needs from the ini (the ``nameserver.*`` settings and the database URL of
``[app:main]``) and loads neither the web app nor Pyramid nor SQLAlchemy (for SQLite and
PostgreSQL): a small process is the point of running it on its own (see bench/README.md).
"""
from __future__ import annotations

import argparse
import asyncio
import configparser
import gc
import logging
import logging.config
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from ..nameserver import Nameserver, NameserverError
from ..nameserver.config import ServerConfig
from ..nameserver.source import ZoneSource
from ..settings import SettingsError, parse_nameserver_settings

EXIT_ERROR = 1
APP_SECTION = "app:main"
log = logging.getLogger("nsupdate_pyramid.nameserver")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nsupdate-nameserver", description=__doc__.splitlines()[0])
    parser.add_argument("config_uri", metavar="INI", help="the app's ini file, e.g. production.ini")
    return parser


def read_ini(config_uri: str) -> dict[str, str]:
    """The ``[app:main]`` settings, with ``%(here)s`` and ``[DEFAULT]`` as PasteDeploy gives them;
    logging set up from the ini's logging sections, as ``pserve`` does."""
    path = Path(config_uri.split("#", 1)[0]).resolve()
    defaults = {"here": str(path.parent), "__file__": str(path)}
    parser = configparser.ConfigParser(defaults=defaults)
    if not parser.read(path):
        raise OSError(f"no such file: {path}")
    if parser.has_section("loggers"):
        logging.config.fileConfig(parser, defaults, disable_existing_loggers=False)
    if not parser.has_section(APP_SECTION):
        raise LookupError(f"no [{APP_SECTION}] section")
    return dict(parser.items(APP_SECTION))


async def serve(server: Nameserver) -> None:
    """Run until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    # What start-up built lives as long as the process; keep the collector from walking it.
    gc.collect()
    gc.freeze()
    log.info("nameserver running; %d zones", len(server.snapshot.zones))
    try:
        await stop.wait()
    finally:
        log.info("nameserver stopping")
        await server.stop()


def _fail(message: str) -> int:
    print(" ".join(f"nsupdate-nameserver: {message}".split()), file=sys.stderr)
    return EXIT_ERROR


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        raw = read_ini(args.config_uri)
        config = ServerConfig.from_settings(parse_nameserver_settings(raw))
        if "sqlalchemy.url" not in raw:
            raise SettingsError("missing setting sqlalchemy.url")
        source = ZoneSource.from_settings(raw)
    except SettingsError as error:
        return _fail(f"configuration error: {error}")
    except (OSError, configparser.Error, LookupError, ImportError, ValueError) as error:
        return _fail(f"cannot load {args.config_uri}: {error}")
    server = Nameserver(config, source)
    try:
        asyncio.run(serve(server))
    except NameserverError as error:
        return _fail(str(error))
    return 0


def main() -> None:
    sys.exit(run())
