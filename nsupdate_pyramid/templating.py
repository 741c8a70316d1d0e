"""Jinja2 set-up: translations in templates, helpers, and the operator's override folder."""
from __future__ import annotations

import logging
from typing import Any

from pyramid.config import Configurator
from pyramid.events import BeforeRender, subscriber

from .services.ipaddr import client_address

log = logging.getLogger(__name__)


def _safe_identity(request: Any) -> Any:
    """The identity, or None when loading it fails (e.g. while rendering a database error)."""
    try:
        return request.identity
    except Exception:
        log.warning("could not load the identity for %s", request.path, exc_info=True)
        return None


@subscriber(BeforeRender)
def add_page_globals(event: BeforeRender) -> None:
    request = event.get("request")
    if request is None:
        return
    settings = request.registry["nsupdate.settings"]
    event.setdefault("service_name", settings.service_name)
    event.setdefault("identity", _safe_identity(request))
    event.setdefault("visitor_address", client_address(request))


def includeme(config: Configurator) -> None:
    settings: dict[str, Any] = config.get_settings()
    search_path = ["nsupdate_pyramid:templates"]
    custom = config.registry["nsupdate.settings"].custom_templates
    if custom:
        search_path.insert(0, custom)  # the operator's files win over ours
    settings["jinja2.directories"] = "\n".join(search_path)
    settings.setdefault("jinja2.i18n.domain", "nsupdate_pyramid")
    settings.setdefault("jinja2.autoescape", "true")
    settings.setdefault("jinja2.trim_blocks", "true")
    settings.setdefault("jinja2.lstrip_blocks", "true")
    settings.setdefault("jinja2.extensions", "jinja2.ext.i18n")
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    config.add_static_view("static", "nsupdate_pyramid:static", cache_max_age=3600)
