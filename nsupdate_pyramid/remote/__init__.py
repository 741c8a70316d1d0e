"""Remote login (GitHub, Google, Bitbucket) through velruse: the providers and their routes.

The views that finish a login (account creation, linking) are in ``views/remote.py``; what
they decide is in ``services/remote_logins.py``.
"""
from __future__ import annotations

from pyramid.config import Configurator

from .providers import STATE_KEY, OAuth2Provider, add_remote_login, build_providers

__all__ = ["STATE_KEY", "OAuth2Provider", "add_remote_login", "build_providers", "includeme"]


def includeme(config: Configurator) -> None:
    providers = build_providers(config.registry["nsupdate.settings"])
    config.registry["nsupdate.remote_providers"] = {p.name: p for p in providers}
    for provider in providers:
        add_remote_login(config, provider)
