"""``nsupdate-nameserver INI``: the built-in nameserver as a service of its own.

Runs in the foreground (systemd ``Type=simple``), logs as the ini's logging sections say,
stops cleanly on SIGTERM or SIGINT with status 0. When it cannot start (an address cannot be
bound, a bad setting) it prints one line to stderr and exits with status 1.
It reads only what it needs from the ini (settings and database); it does not load the web app.
"""
from __future__ import annotations

import argparse
import asyncio
import configparser
import logging
import signal
import sys
from collections.abc import Sequence

from pyramid.paster import get_appsettings, setup_logging
from sqlalchemy.exc import ArgumentError

from ..models import get_engine
from ..nameserver import Nameserver, NameserverError
from ..nameserver.config import ServerConfig
from ..nameserver.source import ZoneSource
from ..settings import SettingsError, parse_settings

EXIT_ERROR = 1
log = logging.getLogger("nsupdate_pyramid.nameserver")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nsupdate-nameserver", description=__doc__.splitlines()[0])
    parser.add_argument("config_uri", metavar="INI", help="the app's ini file, e.g. production.ini")
    return parser


async def serve(server: Nameserver) -> None:
    """Run until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
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
        setup_logging(args.config_uri)
        raw = get_appsettings(args.config_uri)
        settings = parse_settings(raw)
        engine = get_engine(raw)
    except (SettingsError, ArgumentError) as error:
        return _fail(f"configuration error: {error}")
    except (OSError, configparser.Error, LookupError, ImportError) as error:
        return _fail(f"cannot load {args.config_uri}: {error}")
    server = Nameserver(ServerConfig.from_settings(settings), ZoneSource(engine))
    try:
        asyncio.run(serve(server))
    except NameserverError as error:
        return _fail(str(error))
    finally:
        engine.dispose()
    return 0


def main() -> None:
    sys.exit(run())
