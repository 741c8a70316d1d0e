"""``nsupdate-admin INI COMMAND ...``: provisioning and maintenance from the shell.

The command lines are an interface other tooling relies on: keep them stable.
Errors print one line to stderr and exit 1 (2 for usage errors); never a traceback.
"""
from __future__ import annotations

import argparse
import configparser
import getpass
import sys
from collections.abc import Callable, Sequence
from email.utils import parseaddr
from typing import Any

from pyramid.i18n import TranslationString, make_localizer
from pyramid.interfaces import ITranslationDirectories
from pyramid.paster import bootstrap, setup_logging
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError

from .. import START_NAMESERVER_OPTION
from ..mail import Postman
from ..models import TSIG_ALGORITHMS
from ..services import accounts as account_service
from ..services import admin_maintenance as maintenance
from ..services import domains as domain_service
from ..services import hosts as host_service
from ..services import throttle as throttle_service
from ..services import users as user_service
from ..services.errors import NotFound, ServiceError
from ..settings import SettingsError

EXIT_ERROR = 1
EXIT_USAGE = 2
# ``domains --check``: at least one nameserver did not answer (monitoring can alert on it).
EXIT_CHECK_FAILED = 3


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
    _add_maintenance(commands)
    return parser


def _common(parser: argparse.ArgumentParser, *, dry_run: bool = True) -> None:
    if dry_run:
        parser.add_argument("--dry-run", action="store_true",
                            help="say what would change, change nothing, send no mail")
    parser.add_argument("--progress", action="store_true",
                        help="print done/total lines to stderr on long runs (default: on a terminal)")


def _add_maintenance(commands: Any) -> None:
    """nsupdate.info's management commands, with their option names (cron lines keep working)."""
    faults = commands.add_parser(
        "faults", help="show and reset fault counters and flags; flag abusive hosts",
        description="Show or reset the hosts' fault counters and flags. --flag-abuse runs before "
                    "the resets, as in nsupdate.info. Weekly cron: faults --flag-abuse=150 "
                    "--reset-client --notify-user")
    for kind in ("client", "server", "api-auth"):
        faults.add_argument(f"--show-{kind}", action="store_true", help=f"print {kind} faults per host")
    for kind in ("client", "server", "api-auth"):
        faults.add_argument(f"--reset-{kind}", action="store_true", help=f"set {kind} faults to 0")
    faults.add_argument("--reset-abuse", action="store_true", help="clear every abuse flag")
    faults.add_argument("--reset-abuse-blocked", action="store_true",
                        help="clear every abuse_blocked flag")
    faults.add_argument("--reset-available", action="store_true", help="make every host available")
    faults.add_argument("--flag-abuse", type=int, metavar="N",
                        help="flag hosts with more than N client faults as abusive (their records "
                             "are removed) and reset their client faults")
    faults.add_argument("--notify-user", action="store_true",
                        help="mail the owners of hosts flagged by --flag-abuse")
    _common(faults)
    faults.set_defaults(handler=cmd_faults, validate=_check_faults)

    domains = commands.add_parser(
        "domains", help="check the domains' nameservers; remove stale domains",
        description="--check asks every available domain's nameserver (through its backend) for "
                    "the zone and flags a domain that fails as unavailable and not public; the "
                    f"exit status is then {EXIT_CHECK_FAILED}. --stale-check deletes unavailable "
                    "domains without hosts and reports those with hosts.")
    domains.add_argument("--check", action="store_true", help="check the nameservers")
    domains.add_argument("--stale-check", action="store_true",
                         help="delete unavailable domains without hosts")
    domains.add_argument("--notify-user", action="store_true", help="mail the domains' owners")
    _common(domains)
    domains.set_defaults(handler=cmd_domains, validate=_check_domains)

    hosts = commands.add_parser(
        "hosts", help="list or export hosts; stale check",
        description="Without --stale-check: print the hosts the filters select (columns, or CSV "
                    "with --csv); the count goes to stderr. --stale-check: hosts without address "
                    "updates for 325 days are warned every 8 days, made unavailable at staleness "
                    "3 and deleted at 5 (nsupdate.info's rules).")
    hosts.add_argument("--stale-check", action="store_true", help="the stale check")
    hosts.add_argument("--notify-user", action="store_true", help="mail the stale hosts' owners")
    hosts.add_argument("--domain", default="", help="only hosts in this domain")
    hosts.add_argument("--owner", default="", metavar="USERNAME", help="only this user's hosts")
    hosts.add_argument("--abuse", action="store_true", help="only hosts flagged for abuse")
    hosts.add_argument("--abuse-blocked", action="store_true", help="only hosts blocked for abuse")
    hosts.add_argument("--unavailable", action="store_true", help="only unavailable hosts")
    hosts.add_argument("--faults", action="store_true", help="only hosts with a fault counter > 0")
    hosts.add_argument("--stale-days", type=int, metavar="N",
                       help="only hosts without an address update for N days")
    hosts.add_argument("--csv", action="store_true", help="CSV with a header line")
    _common(hosts)
    hosts.set_defaults(handler=cmd_hosts, validate=_check_hosts)

    users = commands.add_parser(
        "users", help="delete stale accounts",
        description="--stale-check: accounts neither used nor made within a year are deleted "
                    "unless they have hosts or domains. Administrators are never deleted.")
    users.add_argument("--stale-check", action="store_true", help="the stale check")
    _common(users)
    users.set_defaults(handler=cmd_users, validate=_check_users)

    testuser = commands.add_parser(
        "testuser", help="reset the public test account",
        description="Remove the test account's hosts (and its domains nobody else uses), reset "
                    "its password, address and settings; create it if missing.")
    testuser.add_argument("--username", default="test")
    testuser.add_argument("--password", default="test")
    testuser.add_argument("--email", default="",
                          help="default: the address of mail.default_sender")
    _common(testuser)
    testuser.set_defaults(handler=cmd_testuser)


def _check_faults(args: argparse.Namespace) -> str:
    chosen = [name for name, value in vars(args).items()
              if name.startswith(("show_", "reset_")) and value] or args.flag_abuse is not None
    if not chosen:
        return "give at least one --show-*, --reset-* or --flag-abuse option"
    if args.flag_abuse is not None and args.flag_abuse < 0:
        return "--flag-abuse needs a number >= 0"
    return ""


def _check_domains(args: argparse.Namespace) -> str:
    return "" if args.check or args.stale_check else "give --check and/or --stale-check"


def _check_hosts(args: argparse.Namespace) -> str:
    if args.notify_user and not args.stale_check:
        return "--notify-user goes with --stale-check"
    return ""


def _check_users(args: argparse.Namespace) -> str:
    return "" if args.stale_check else "give --stale-check"


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
        lan = host_service.set_lan_address(host, args.lan_ip)
        backend = registry["nsupdate.dns_backends"].get(host.domain.backend)
        zone = domain_service.zone_info(host.domain, registry["nsupdate.settings"].default_ttl)
        name = host.name
        # Commit first: the built-in backend writes through its own connection, which on
        # SQLite would wait for this transaction's write lock.
        env["request"].tm.commit()
        env["request"].tm.begin()
        host_service.publish_lan_address(backend, zone, name, lan)
        host = _host(env, args.fqdn)
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


# --- maintenance ------------------------------------------------------------------------------

After = Callable[[], int | None]


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    if args.progress or sys.stderr.isatty():
        return lambda line: print(line, file=sys.stderr, flush=True)
    return None


def _postman(env: dict[str, Any], args: argparse.Namespace) -> Postman | None:
    """Mails leave after commit, from the outbox that :func:`run` drains before exiting."""
    if args.dry_run or not getattr(args, "notify_user", False):
        return None
    request = env["request"]
    settings = env["registry"]["nsupdate.settings"]
    return Postman(env["registry"], request.tm, settings.base_url or request.application_url)


def _commit(env: dict[str, Any]) -> Callable[[], None]:
    """End the current transaction and begin the next (long runs commit as they go)."""
    tm = env["request"].tm

    def commit() -> None:
        tm.commit()
        tm.begin()

    return commit


def _remove_records(env: dict[str, Any], cleanups: list[Any]) -> Callable[[], None]:
    """After commit: delete the DNS records of what was deleted or flagged; failures are warned."""
    backends = env["registry"]["nsupdate.dns_backends"]

    def remove() -> None:
        if not cleanups:
            return
        report = maintenance.cleanup_report(cleanups)
        for fqdn, reason in account_service.remove_records(report, backends):
            print(f"nsupdate-admin: warning: records of {fqdn} stay: {_message(env, Exception(reason))}",
                  file=sys.stderr)

    return remove


def _then(*steps: Callable[[], Any]) -> After:
    def after() -> int | None:
        code = None
        for step in steps:
            code = step() or code
        return code

    return after


def cmd_faults(env: dict[str, Any], args: argparse.Namespace) -> After:
    settings = env["registry"]["nsupdate.settings"]
    options = maintenance.FaultOptions(**{
        name: getattr(args, name) for name in maintenance.FaultOptions.__dataclass_fields__})
    summary = maintenance.faults(env["request"].dbsession, options, print,
                                 postman=_postman(env, args), default_ttl=settings.default_ttl,
                                 progress=_progress(args))
    return _then(_remove_records(env, summary.dns), lambda: print(summary.line(args.dry_run)))


def cmd_domains(env: dict[str, Any], args: argparse.Namespace) -> After:
    registry = env["registry"]
    settings = registry["nsupdate.settings"]
    dbsession = env["request"].dbsession
    postman = _postman(env, args)
    summary = maintenance.DomainSummary()
    if args.check:
        maintenance.check_domains(dbsession, registry["nsupdate.dns_backends"], print,
                                  postman=postman, default_ttl=settings.default_ttl,
                                  notify_user=args.notify_user, dry_run=args.dry_run,
                                  commit=_commit(env), progress=_progress(args), summary=summary)
    if args.stale_check:
        maintenance.stale_domains(dbsession, print, postman=postman, notify_user=args.notify_user,
                                  dry_run=args.dry_run, summary=summary)

    def finish() -> int | None:
        print(summary.line(args.dry_run))
        return EXIT_CHECK_FAILED if summary.failed else None

    return finish


def cmd_hosts(env: dict[str, Any], args: argparse.Namespace) -> After | None:
    registry = env["registry"]
    settings = registry["nsupdate.settings"]
    dbsession = env["request"].dbsession
    if args.stale_check:
        summary = maintenance.stale_hosts(
            dbsession, print, postman=_postman(env, args), default_ttl=settings.default_ttl,
            backends=registry["nsupdate.dns_backends"], notify_user=args.notify_user,
            dry_run=args.dry_run, progress=_progress(args))
        return _then(_remove_records(env, summary.dns), lambda: print(summary.line(args.dry_run)))
    host_filter = maintenance.HostFilter(
        domain=args.domain, owner=args.owner, abuse=args.abuse, abuse_blocked=args.abuse_blocked,
        unavailable=args.unavailable, faults=args.faults, stale_days=args.stale_days)
    count = 0
    if args.csv:
        print(maintenance.csv_line(list(maintenance.HOST_COLUMNS)))
    for cells in maintenance.host_rows(dbsession, host_filter):
        count += 1
        if args.csv:
            print(maintenance.csv_line(cells))
        else:
            # fqdn owner available abuse abuse_blocked C S A (as faults --show-* prints them)
            print(" ".join(cells[:5]) + " " + " ".join(f"{c:<6}" for c in cells[5:8]).rstrip())
    print(f"hosts: {count} listed", file=sys.stderr)
    return None


def cmd_users(env: dict[str, Any], args: argparse.Namespace) -> After:
    summary = maintenance.stale_users(env["request"].dbsession, print, dry_run=args.dry_run)
    return lambda: print(summary.line(args.dry_run))


def cmd_testuser(env: dict[str, Any], args: argparse.Namespace) -> After:
    registry = env["registry"]
    settings = registry["nsupdate.settings"]
    email = args.email or parseaddr(settings.mail_default_sender)[1]
    if not email:
        raise CommandError("give --email (mail.default_sender is not set)")
    dbsession = env["request"].dbsession
    summary = maintenance.reset_test_user(
        dbsession, args.username, args.password, email, registry["nsupdate.dns_backends"],
        settings.default_ttl, dry_run=args.dry_run)
    if not args.dry_run:
        maintenance.audit(dbsession, "testuser", f"removed {summary.hosts} hosts and "
                          f"{summary.domains} domains", target_type="user", target=args.username)

    def finish() -> None:
        if not args.dry_run:
            print("Successfully reinitialized the test user")
        state = "created" if summary.created else "reset"
        print(f"testuser: {args.username} {state}, {summary.hosts} hosts and {summary.domains} "
              f"domains removed" + (" (dry run: nothing changed)" if args.dry_run else ""))

    return _then(_remove_records(env, summary.dns), finish)


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
    parser = build_parser()
    args = parser.parse_args(argv)
    validate = getattr(args, "validate", None)
    problem = validate(args) if callable(validate) else ""
    if problem:
        parser.error(problem)
    env = None
    try:
        setup_logging(args.config_uri)
        with bootstrap(args.config_uri, options={START_NAMESERVER_OPTION: "false"}) as env, \
                env["request"].tm:
            after = args.handler(env, args)
        # Committed: now what must not happen for a rolled-back run (DNS removals, the summary),
        # and the mails the commit released leave before the process ends.
        code = after() if callable(after) else None
        env["registry"]["nsupdate.outbox"].flush(timeout=60)
        return code or 0
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
