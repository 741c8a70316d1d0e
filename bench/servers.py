"""The WSGI servers the benchmark drives, each run as its own process under identical waitress settings.

``python -m bench.servers KIND PORT SETTINGS_JSON`` serves one of:

- ``app``: nsupdate-pyramid itself, built by its own ``main()`` from the settings;
- ``hello``: a bare Pyramid hello-world view (what Pyramid + waitress cost by themselves);
- ``anchor``: a minimal Pyramid view doing one indexed SELECT of a host row and one secret-hash
  check on the same database as the app (what one authenticated lookup costs at the least).

A process of its own per server so that they don't share a GIL with the load generator or each
other, and so that the app's resident memory can be read from /proc after the run.
"""
from __future__ import annotations

import base64
import binascii
import configparser
import json
import logging
import logging.config
import secrets
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import waitress
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

KINDS = ("app", "hello", "anchor")
ROOT = Path(__file__).resolve().parent.parent
BAD_HOST = "bad.example.org"


def production_settings(db_url: str, threads: int | None) -> dict[str, Any]:
    """production.ini's [app:main] and [server:main], with what the bench must change.

    The waitress part is the same for the app and both anchors.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "production.ini")
    app = {key: value for key, value in parser["app:main"].items() if key != "use"}
    app.update({
        "sqlalchemy.url": db_url,
        "session.secret": secrets.token_urlsafe(48),
        "nsupdate.bad_hosts": BAD_HOST,
        # Off, so every wrong secret is checked and its counter committed (the badauth target);
        # with the default 10 a locked-out host is answered without any hash or write.
        "nsupdate.api_auth_max_failures": "0",
        "nsupdate.default_backend": "rfc2136",
    })
    server = parser["server:main"]
    waitress_options: dict[str, Any] = {"threads": threads or int(server.get("threads", "4"))}
    for key in ("trusted_proxy", "trusted_proxy_headers"):
        if key in server:
            waitress_options[key] = server[key]
    return {"app": app, "waitress": waitress_options}


def hello_app(settings: Mapping[str, Any]) -> Callable[..., Any]:
    """The floor: routing, a view and a response, nothing else."""

    def hello(request: Request) -> Response:
        return Response("Hello World!", content_type="text/plain")

    with Configurator(settings=dict(settings)) as config:
        config.add_route("hello", "/")
        config.add_view(hello, route_name="hello")
    return config.make_wsgi_app()


def _credentials(header: str | None) -> tuple[str, str] | None:
    """Basic auth, inline: the anchor must not borrow the app's request handling."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, sep, password = base64.b64decode(header[6:]).decode("utf-8", "replace").partition(":")
    except (binascii.Error, ValueError):
        return None
    return (user.lower(), password) if sep else None


def anchor_engine(url: str, pool_size: str | int | None = None) -> Any:
    """The app's database with the app's SQLite pragmas, but reads as plain reads.

    The app's ``get_engine`` opens every SQLite transaction with BEGIN IMMEDIATE (the write
    lock), which an update needs but a minimal lookup does not; so the anchor builds its own
    engine: same URL, same pool size as the app's, same WAL / synchronous / busy_timeout settings.
    (With SQLAlchemy's default of 5 connections, 8 threads made the anchor close and reopen
    connections, on PostgreSQL a new server process each time.)
    """
    from sqlalchemy import create_engine, event

    from nsupdate_pyramid.models import DEFAULT_POOL_SIZE

    engine = create_engine(url, pool_size=int(pool_size or DEFAULT_POOL_SIZE))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in ("foreign_keys = ON", "busy_timeout = 5000", "journal_mode = WAL",
                           "synchronous = NORMAL"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

    return engine


def anchor_app(settings: Mapping[str, Any]) -> Callable[..., Any]:
    """What every authenticated update must do at the least: read the host row, check the secret."""
    # Imported here so that the hello-world process stays bare (its RSS is a reference too).
    from sqlalchemy import bindparam, select
    from sqlalchemy.orm import sessionmaker

    from nsupdate_pyramid.models.host import Host
    from nsupdate_pyramid.security.secrets import verify_secret

    engine = anchor_engine(settings["sqlalchemy.url"], settings.get("sqlalchemy.pool_size"))
    factory = sessionmaker(bind=engine)
    query = select(Host.__table__).where(Host.fqdn == bindparam("fqdn"))  # unique index on fqdn

    def anchor(request: Request) -> Response:
        credentials = _credentials(request.headers.get("Authorization"))
        if credentials is None:
            return Response("badauth", status=401, content_type="text/plain")
        with factory() as session:
            row = session.execute(query, {"fqdn": credentials[0]}).one_or_none()
        if row is None or not verify_secret(row.update_secret_hash, credentials[1]):
            return Response("badauth", status=401, content_type="text/plain")
        return Response("ok", content_type="text/plain")

    with Configurator(settings=dict(settings)) as config:
        config.add_route("anchor", "/nic/update")
        config.add_view(anchor, route_name="anchor")
    return config.make_wsgi_app()


def build(kind: str, settings: Mapping[str, Any]) -> Callable[..., Any]:
    """The WSGI app of ``kind``."""
    if kind == "app":
        from nsupdate_pyramid import main

        return main({}, **settings)
    if kind == "hello":
        return hello_app(settings)
    if kind == "anchor":
        return anchor_app(settings)
    raise ValueError(f"unknown server kind {kind!r} (one of {', '.join(KINDS)})")


def main(argv: list[str]) -> None:
    """Serve until SIGTERM; the settings file also carries the waitress options, the same for all kinds."""
    kind, port, settings_path = argv
    config = json.loads(Path(settings_path).read_text())
    # production.ini's logging, in every server alike: WARN, one INFO line per update answer,
    # and waitress' "Task queue depth" warnings (one per queued request) at ERROR.
    logging.config.fileConfig(ROOT / "production.ini", disable_existing_loggers=False)
    app = build(kind, config["app"])
    waitress.serve(app, listen=f"127.0.0.1:{int(port)}", **config["waitress"])


if __name__ == "__main__":
    main(sys.argv[1:])
