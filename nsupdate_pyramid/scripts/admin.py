"""``nsupdate-admin INI COMMAND ...``: provisioning and maintenance from the shell.

The command lines are an interface other tooling relies on: keep them stable.
Errors print one line to stderr and exit 1 (2 for usage errors); never a traceback.
"""
from __future__ import annotations

import argparse
import configparser
import getpass
import sys
from collections.abc import Sequence
from typing import Any

from pyramid.i18n import TranslationString, make_localizer
from pyramid.interfaces import ITranslationDirectories
from pyramid.paster import bootstrap, setup_logging
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError

from .. import START_NAMESERVER_OPTION
from ..models import TSIG_ALGORITHMS
from ..services import accounts as account_service
from ..services import domains as domain_service
from ..services import hosts as host_service
from ..services import throttle as throttle_service
from ..services import users as user_service
from ..services.errors import NotFound, ServiceError
from ..settings import SettingsError

EXIT_ERROR = 1


class CommandError(Exception):
    """Expected failure: the message is printed as one line."""


def _yes_no(value: str) -> bool:
    lowered = value.lower()
    if lowered not in {"yes", "no"}:
        raise argparse.ArgumentTypeError("use yes or no")
    return lowered == "yes"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nsupdate-admin", description=__doc__.splitlines()[0])
    parser.add_argument("config_uri", metavar="INI", help="the app's ini file, e.g. development.ini")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    user_add = user.add_parser("add", help="create a user")
    user_add.add_argument("username")
    user_add.add_argument("--email", required=True)
    user_add.add_argument("--password", help="asked for when omitted and stdin is a terminal")
    user_add.add_argument("--admin", action="store_true", help="may use the admin pages")
    user_add.set_defaults(handler=cmd_user_add)
    user_list = user.add_parser("list", help="print user names, one per line")
    user_list.add_argument("--admins", action="store_true", help="only administrators")
    user_list.set_defaults(handler=cmd_user_list)

    domain = commands.add_parser("domain", help="manage domains").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    domain_add = domain.add_parser("add", help="create a domain (zone)")
    domain_add.add_argument("name")
    domain_add.add_argument("--owner", required=True, metavar="USERNAME")
    domain_add.add_argument("--public", action="store_true", help="everyone may add hosts in it")
    domain_add.add_argument("--backend", metavar="NAME", help="a backend from dns.backends")
    domain_add.add_argument("--tsig-key-name", metavar="KEY", default="",
                            help="default: the zone name")
    domain_add.add_argument("--nameserver", metavar="IP", default="")
    domain_add.add_argument("--nameserver2", metavar="IP", default="",
                            help="secondary, used for queries")
    domain_add.add_argument("--nameserver-port", metavar="N", type=int, default=53)
    domain_add.add_argument("--tsig-algorithm", metavar="ALG", default="hmac-sha512",
                            choices=TSIG_ALGORITHMS)
    domain_add.add_argument("--tsig-secret", metavar="SECRET", default="", help="base64")
    domain_add.set_defaults(handler=cmd_domain_add)

    host = commands.add_parser("host", help="manage hosts").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    host_add = host.add_parser("add", help="create a host; prints its update secret last")
    host_add.add_argument("fqdn")
    host_add.add_argument("--owner", required=True, metavar="USERNAME")
    host_add.add_argument("--secret", help="default: a new random secret")
    host_add.set_defaults(handler=cmd_host_add)
    host_set = host.add_parser("set", help="change a host's flags")
    host_set.add_argument("fqdn")
    for flag in ("available", "abuse", "abuse-blocked"):
        host_set.add_argument(f"--{flag}", type=_yes_no, metavar="yes|no")
    host_set.add_argument("--lan-ip", metavar="IP",
                          help="the address answered to the host's own network ('' removes it)")
    host_set.set_defaults(handler=cmd_host_set)
    host_secret = host.add_parser("secret", help="replace the update secret and print the new one")
    host_secret.add_argument("fqdn")
    host_secret.set_defaults(handler=cmd_host_secret)

    cleanup = commands.add_parser(
        "cleanupregistration", help="delete accounts whose activation link expired unused")
    cleanup.add_argument("--dry-run", action="store_true", help="only list them")
    cleanup.set_defaults(handler=cmd_cleanupregistration)
    return parser


def _user(env: dict[str, Any], username: str) -> Any:
    user = user_service.get_user_by_username(env["request"].dbsession, username)
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user


def _host(env: dict[str, Any], fqdn: str) -> Any:
    host = host_service.get_host_by_fqdn(env["request"].dbsession, fqdn)
    if host is None:
        raise CommandError(f"no host named {fqdn!r}")
    return host


def cmd_user_add(env: dict[str, Any], args: argparse.Namespace) -> None:
    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            raise CommandError("give --password (stdin is not a terminal to ask on)")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise CommandError("the passwords differ")
    user = user_service.create_user(env["request"].dbsession, args.username, args.email, password,
                                    is_admin=args.admin)
    print(f"created {'admin' if user.is_admin else 'user'} {user.username}")


def cmd_user_list(env: dict[str, Any], args: argparse.Namespace) -> None:
    for username in user_service.usernames(env["request"].dbsession, admins_only=args.admins):
        print(username)


def cmd_domain_add(env: dict[str, Any], args: argparse.Namespace) -> None:
    settings = env["registry"]["nsupdate.settings"]
    backend = args.backend or settings.default_backend
    if backend not in settings.dns_backends:
        raise CommandError(f"unknown backend {backend!r} (dns.backends declares: "
                           f"{', '.join(settings.dns_backends) or 'none'})")
    domain = domain_service.create_domain(
        env["request"].dbsession, args.name, _user(env, args.owner), backend=backend,
        public=args.public, nameserver_ip=args.nameserver, nameserver2_ip=args.nameserver2,
        nameserver_port=args.nameserver_port, tsig_key_name=args.tsig_key_name,
        tsig_algorithm=args.tsig_algorithm, tsig_secret=args.tsig_secret,
        dns_backend=env["registry"]["nsupdate.dns_backends"].get(backend))
    print(f"created domain {domain.name} (backend {domain.backend}, key {domain.tsig_key_name})")


def cmd_host_add(env: dict[str, Any], args: argparse.Namespace) -> None:
    settings = env["registry"]["nsupdate.settings"]
    host, secret = host_service.create_host(env["request"].dbsession, args.fqdn,
                                            _user(env, args.owner), secret=args.secret,
                                            blacklist=settings.host_blacklist)
    print(f"created host {host.fqdn}")
    print(secret)


def cmd_host_set(env: dict[str, Any], args: argparse.Namespace) -> None:
    host = _host(env, args.fqdn)
    host_service.set_flags(host, available=args.available, abuse=args.abuse,
                           abuse_blocked=args.abuse_blocked)
    if args.lan_ip is not None:
        registry = env["registry"]
        host_service.set_lan_address(host, args.lan_ip,
                                     registry["nsupdate.dns_backends"].get(host.domain.backend),
                                     registry["nsupdate.settings"].default_ttl)
    print(f"{host.fqdn}: available={_word(host.available)} abuse={_word(host.abuse)} "
          f"abuse_blocked={_word(host.abuse_blocked)}")
    if args.lan_ip is not None:
        print(f"{host.fqdn}: lan_ip={host.lan_ip or '-'}")


def cmd_host_secret(env: dict[str, Any], args: argparse.Namespace) -> None:
    host = _host(env, args.fqdn)
    secret = host_service.new_secret(host)
    print(secret)


def cmd_cleanupregistration(env: dict[str, Any], args: argparse.Namespace) -> None:
    settings = env["registry"]["nsupdate.settings"]
    dbsession = env["request"].dbsession
    names = account_service.cleanup_registrations(dbsession, settings.activation_max_age,
                                                  dry_run=args.dry_run)
    for name in names:
        print(name)
    if args.dry_run:
        print(f"would delete {len(names)} unactivated registrations (dry run)")
        return
    counters = throttle_service.purge(dbsession, settings.login_lockout)
    print(f"deleted {len(names)} unactivated registrations whose links expired; "
          f"removed {counters} stale login counters")


def _word(flag: bool) -> str:
    return "yes" if flag else "no"


def _message(env: dict[str, Any] | None, error: Exception) -> str:
    """Service errors are translation strings: render them in English for the shell."""
    text = str(error.args[0]) if error.args else type(error).__name__
    if env is not None and error.args and isinstance(error.args[0], TranslationString):
        dirs = env["registry"].queryUtility(ITranslationDirectories, default=[])
        text = make_localizer("en", dirs).translate(error.args[0])
    return text


def _fail(message: str) -> None:
    """Print ``message`` as the one stderr line: driver messages (PostgreSQL's LINE/DETAIL/HINT
    parts, connection hints) span several lines, and tools read only one."""
    print(" ".join(f"nsupdate-admin: {message}".split()), file=sys.stderr)


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = None
    try:
        setup_logging(args.config_uri)
        with bootstrap(args.config_uri, options={START_NAMESERVER_OPTION: "false"}) as env, \
                env["request"].tm:
            args.handler(env, args)
        return 0
    except (CommandError, ServiceError, NotFound) as error:
        _fail(f"error: {_message(env, error)}")
    except SettingsError as error:
        _fail(f"configuration error: {error}")
    except ArgumentError as error:  # e.g. sqlalchemy.url is not a URL, or names no known dialect
        _fail(f"configuration error: {error}")
    except IntegrityError as error:
        _fail(f"error: the database refused the change ({error.orig})")
    except (OperationalError, ProgrammingError) as error:
        # The first line only: PostgreSQL goes on with the statement and a caret under it.
        reason = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
        _fail(f"database error: {reason} (did you run "
              f"'alembic -c {args.config_uri} upgrade head'?)")
    # OSError: missing or unreadable file; configparser.Error: not an ini file; LookupError: no
    # [app:main] or a missing key; ImportError: ``use = egg:`` names no installed package.
    except (OSError, configparser.Error, LookupError, ImportError) as error:
        _fail(f"cannot load {args.config_uri}: {error}")
    return EXIT_ERROR


def main() -> None:
    sys.exit(run())
