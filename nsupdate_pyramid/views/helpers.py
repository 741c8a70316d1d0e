"""Small things several views need."""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from pyramid.request import Request

from ..i18n import _
from ..services import accounts

#: Reports how removing DNS records went: (request, failures as (fqdn, reason), names removed).
RecordsOutcome = Callable[[Request, list[tuple[str, object]], int], None]


def safe_came_from(request: Request, came_from: str | None, default: str) -> str:
    """Only same-site paths are followed after login: no open redirects."""
    if not came_from:
        return default
    parts = urlsplit(came_from)
    if (parts.scheme or parts.netloc or not came_from.startswith("/") or came_from.startswith("//")
            or "\\" in came_from or any(ord(c) < 32 for c in came_from)):
        return default
    return came_from


def login_url(request: Request) -> str:
    """The login page, coming back to this page afterwards."""
    return f"{request.application_url}/login?{urlencode({'came_from': request.path_qs})}"


def flash(request: Request, message: object, queue: str = "info") -> None:
    """Store a message, translated now so the next page shows it in the user's language."""
    request.session.flash(request.localizer.translate(message), queue=queue)


def commit_transaction(request: Request) -> None:
    """Commit what the request changed so far and go on in a new transaction.

    For work that goes through connections of its own afterwards (the built-in DNS backend):
    on SQLite the request's transaction holds the write lock they would wait for.
    """
    request.tm.commit()
    request.tm.begin()


def release_transaction(request: Request) -> None:
    """End the request's read-only transaction before calling the update service.

    The service writes the host through connections of its own (services/hoststore.py). On
    SQLite the request's transaction (BEGIN IMMEDIATE, opened to load the login) holds the
    write lock they would wait for until busy_timeout. ORM objects loaded so far are expired.
    """
    request.tm.abort()
    request.tm.begin()


def flash_record_failures(request: Request, failures: list[tuple[str, object]], removed: int) -> None:
    """One warning per name whose records stayed, with the reason."""
    for fqdn, reason in failures:
        flash(request, _("The DNS records of ${name} could not be removed (${reason}); "
                         "ask the administrator to remove them.",
                         mapping={"name": fqdn, "reason": request.localizer.translate(reason)}),
              "warning")


def remove_records_after_commit(request: Request, report: accounts.DeletionReport,
                                say: RecordsOutcome = flash_record_failures) -> None:
    """Remove the DNS records of what was deleted once the deletion is committed (backends
    write through connections of their own), then let ``say`` report how it went (the session
    cookie is written after the transaction has ended)."""
    if not report.dns:
        return
    backends = request.registry["nsupdate.dns_backends"]

    def after_commit(committed: bool) -> None:
        if not committed:
            return
        failures = accounts.remove_records(report, backends)
        say(request, failures, sum(len(cleanup.fqdns) for cleanup in report.dns) - len(failures))

    request.tm.get().addAfterCommitHook(after_commit)
