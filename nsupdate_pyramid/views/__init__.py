"""Web UI views: thin (parse, authorize, call a service, render)."""
from __future__ import annotations

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    config.add_route("robots", "/robots.txt")
