"""The operator's own pages: ``<nsupdate.custom_templates>/pages/NAME.jinja2`` is served at
``/NAME`` (an about page, a privacy notice, site-specific help), like nsupdate.info's custom
templates. The folder is also first on the template search path, so any of our templates can be
overridden by a file of the same relative name (e.g. ``includes/footer.jinja2``).

Pages are found at start-up; a new one needs a restart. A page must not hide one of ours:
a name that is taken stops the start with a clear error.
"""
from __future__ import annotations

import re
from pathlib import Path

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.request import Request

from ..resources import Root
from ..security import Permission

PAGE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
PAGES_FOLDER = "pages"


def custom_page(context: Root, request: Request) -> dict:
    """Nothing but the template (it gets the usual page globals: identity, service_name, ...)."""
    return {}


def page_names(folder: str) -> list[str]:
    """The pages in ``folder``/pages; raises ConfigurationError for a bad folder or file name."""
    base = Path(folder)
    if not base.is_dir():
        raise ConfigurationError(f"nsupdate.custom_templates: {folder!r} is not a folder")
    names = sorted(path.stem for path in (base / PAGES_FOLDER).glob("*.jinja2"))
    bad = [name for name in names if not PAGE_NAME.fullmatch(name)]
    if bad:
        raise ConfigurationError(
            f"nsupdate.custom_templates: page names must be lower-case letters, digits, - and _ "
            f"(they become URLs): rename {', '.join(bad)}")
    return names


def _check_free(config: Configurator, names: list[str]) -> None:
    """Run after every other view is registered: no custom page may shadow one of ours."""
    taken = set()
    for entry in config.registry.introspector.get_category("views"):
        view = entry["introspectable"]
        if view["context"] is Root and view["name"] in names and view["callable"] is not custom_page:
            taken.add(view["name"])
    for name in names:
        try:
            Root(None)[name]  # type: ignore[arg-type]
        except KeyError:
            continue
        taken.add(name)
    if taken:
        raise ConfigurationError(
            f"nsupdate.custom_templates: {', '.join(sorted(taken))} would hide built-in pages; "
            f"rename these files in {PAGES_FOLDER}/")


def includeme(config: Configurator) -> None:
    folder = config.registry["nsupdate.settings"].custom_templates
    if not folder:
        return
    names = page_names(folder)
    for name in names:
        config.add_view(custom_page, context=Root, name=name, permission=Permission.VIEW.value,
                        request_method="GET", renderer=f"{PAGES_FOLDER}/{name}.jinja2")
    config.action(("nsupdate.custom_pages",), _check_free, args=(config, names), order=10_000)
