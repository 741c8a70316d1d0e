"""Validation and normalisation of host and domain names."""
from __future__ import annotations

import re

import dns.exception
import dns.name

from ..i18n import _
from .errors import InvalidValue

HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,149}$")


def normalize_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


def check_host_label(label: str) -> str:
    """A host name is one DNS label: a-z, 0-9 and inner hyphens, at most 63 long."""
    label = normalize_name(label)
    if not HOST_LABEL.match(label):
        raise InvalidValue(_("Invalid host name: use 1 to 63 of a-z, 0-9 and '-' (not at the ends)."))
    return label


def check_domain_name(name: str) -> str:
    """At least two labels, each a valid DNS label, 253 characters at most."""
    name = normalize_name(name)
    try:
        parsed = dns.name.from_text(name)
    except dns.exception.DNSException:
        raise InvalidValue(_("Invalid domain name.")) from None
    labels = [label.decode("ascii", "replace") for label in parsed.labels if label]
    if len(labels) < 2 or len(name) > 253:
        raise InvalidValue(_("Invalid domain name."))
    for label in labels:
        if not re.fullmatch(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?", label):
            raise InvalidValue(_("Invalid domain name."))
    return name


def check_username(username: str) -> str:
    username = username.strip()
    if not USERNAME.match(username):
        raise InvalidValue(_("Invalid user name: use up to 150 letters, digits and . _ @ + -"))
    return username
