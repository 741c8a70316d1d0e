"""The traversal tree.

Conventions: every resource has ``__name__`` and ``__parent__`` and owns its
``__acl__``; containers raise ``KeyError`` for unknown children (traversal makes
that a 404); owned objects (hosts, domains) end their ACL with DENY_ALL so the
public grants of the root never leak down, and a denied request for one of them
answers 404, never 403, so nobody learns that a name exists.
"""
from __future__ import annotations

from pyramid.config import Configurator

from .account import Account
from .admin import Admin
from .base import PrivateResource
from .domains import DomainResource, Domains
from .hosts import (
    HostResource,
    Hosts,
    RelatedHostResource,
    RelatedHosts,
    ServiceConfigResource,
    ServiceConfigs,
)
from .registration import PasswordReset, Registration, ResetToken
from .root import Root, root_factory

__all__ = [
    "Account", "Admin", "DomainResource", "Domains", "HostResource", "Hosts", "PasswordReset",
    "PrivateResource", "Registration", "RelatedHostResource", "RelatedHosts", "ResetToken", "Root",
    "ServiceConfigResource", "ServiceConfigs", "root_factory",
]


def includeme(config: Configurator) -> None:
    config.set_root_factory(root_factory)
