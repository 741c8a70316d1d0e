"""Small things several views need."""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from pyramid.request import Request


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
