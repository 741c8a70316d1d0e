"""Translation: one domain, message ids in English, Babel catalogs under locale/."""
from __future__ import annotations

from pyramid.config import Configurator
from pyramid.i18n import TranslationStringFactory
from pyramid.request import Request

DOMAIN = "nsupdate_pyramid"
_ = TranslationStringFactory(DOMAIN)


def negotiate_locale(request: Request) -> str:
    """The user's saved language, else the browser's best match, else the default."""
    settings = request.registry["nsupdate.settings"]
    identity = request.identity  # only pages translate, so the API never pays for this
    if identity is not None and identity.language in settings.languages:
        return identity.language
    return request.accept_language.lookup(settings.languages, default=settings.default_language)


def includeme(config: Configurator) -> None:
    config.add_translation_dirs("nsupdate_pyramid:locale/")
    config.set_locale_negotiator(negotiate_locale)
