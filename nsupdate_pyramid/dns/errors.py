"""Typed DNS backend failures, each with a message a person can act on.

The update API turns any of these into ``dnserr`` plus a server fault; the
class decides whether the per-domain circuit breaker trips (the nameserver is
unreachable or rejects our key, so retrying at once only adds load and delay).
"""
from __future__ import annotations


class DNSBackendError(Exception):
    """Base class. ``str(error)`` is the human message (English, for logs and result messages)."""

    #: Whether repeated failures of this kind should pause updates to the domain for a while.
    trips_breaker = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DNSTimeout(DNSBackendError):
    """No answer in time from any nameserver."""

    trips_breaker = True


class DNSNetworkError(DNSBackendError):
    """The nameserver could not be reached at all (connection refused, no route, ...)."""

    trips_breaker = True


class DNSRefused(DNSBackendError):
    """The nameserver answered REFUSED (e.g. updates not allowed for this key or address)."""


class DNSBadKey(DNSBackendError):
    """TSIG failed (bad signature, unknown key, wrong algorithm) or the server is not
    authoritative (NOTAUTH): the domain's settings are wrong."""

    trips_breaker = True


class DNSServFail(DNSBackendError):
    """The nameserver answered SERVFAIL or another unexpected response code."""


class DNSNotZone(DNSBackendError):
    """The name is not inside the zone the nameserver serves (NOTZONE)."""


class DNSRateLimited(DNSBackendError):
    """A DNS provider's HTTP API says we sent too many requests (HTTP 429, Rackspace 413 overLimit).

    It trips the breaker: every retry before the provider's window ends is refused again and
    counts against the account's limit, which other domains on the same token share."""

    trips_breaker = True


class DNSConfigError(DNSBackendError):
    """The domain's settings cannot work (e.g. a TSIG secret that is not base64)."""

    trips_breaker = True
