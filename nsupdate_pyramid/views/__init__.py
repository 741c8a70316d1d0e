"""Web UI views: thin (parse, authorize, call a service, render)."""
from __future__ import annotations

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    config.add_route("robots", "/robots.txt")
    config.add_route("well_known_change_password", "/.well-known/change-password")
    config.include(".custom_pages")
