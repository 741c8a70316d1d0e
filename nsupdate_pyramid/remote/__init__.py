"""Remote login (GitHub, Google, Bitbucket) through velruse: the providers and their routes.

The views that finish a login (account creation, linking) are in ``views/remote.py``; what
they decide is in ``services/remote_logins.py``.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pyramid.config import Configurator

if TYPE_CHECKING:
    from .providers import OAuth2Provider

__all__ = ["OAuth2Provider", "includeme"]


def __getattr__(name: str) -> Any:
    """``OAuth2Provider`` and friends on demand: the providers module imports ``requests``."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.providers"), name)


def includeme(config: Configurator) -> None:
    settings = config.registry["nsupdate.settings"]
    if not settings.remote_providers():
        # No remote login configured: spare every web process the HTTP client (5 MiB).
        config.registry["nsupdate.remote_providers"] = {}
        return
    from .providers import add_remote_login, build_providers

    providers = build_providers(settings)
    config.registry["nsupdate.remote_providers"] = {p.name: p for p in providers}
    for provider in providers:
        add_remote_login(config, provider)
