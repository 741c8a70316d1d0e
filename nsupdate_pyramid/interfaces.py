"""Interfaces of pluggable parts, looked up with ``request.find_service``."""
from __future__ import annotations

from zope.interface import Attribute, Interface


class IDNSBackend(Interface):
    """Publishes a domain's records. One instance serves every domain that names it.

    ``zone`` is a :class:`nsupdate_pyramid.dns.zone.ZoneInfo`; names are relative to it.
    Calls are idempotent (replace, never add) because a request may be retried.
    """

    name = Attribute("The name the backend is registered under in the ini file")

    def update(zone, name, rdtype, values, ttl=None):
        """Replace the RRset ``name``/``rdtype`` with ``values``."""

    def delete(zone, name, rdtype):
        """Remove the RRset; no error if it does not exist."""

    def query(zone, name, rdtype):
        """The current values at the authoritative source, as a list of text."""

    def check(zone):
        """Can we reach the nameserver and are we allowed to update? -> CheckResult."""


class IZoneKeeper(Interface):
    """A backend whose zones live in our own database (the builtin one): a new domain needs its
    zone row, written in the same transaction as the domain."""

    def create_zone(dbsession, domain_id, zone_name):
        """Add the zone (serial 1, NS records from ``nameserver.ns``) through ``dbsession``."""
