"""DNS backends, declared by name in the ini and registered as services.

``dns.backends`` lists ``name = package.module:Class`` lines; each class has a
``create_service(name, settings)`` classmethod that reads its own
``dns.backend.<name>.*`` keys. ``config.add_dns_backend`` lets add-ons register more.
Pages find a backend with ``request.find_service(IDNSBackend, name=..., context=None)``;
the update API, which runs in front of Pyramid, reads the same instances from
``registry["nsupdate.dns_backends"]``.
"""
from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from ..interfaces import IDNSBackend

SETTINGS_PREFIX = "dns.backend."


def backend_settings(settings: dict[str, Any], name: str) -> dict[str, str]:
    """The ``dns.backend.<name>.*`` keys, without the prefix."""
    prefix = f"{SETTINGS_PREFIX}{name}."
    return {key[len(prefix):]: value for key, value in settings.items() if key.startswith(prefix)}


def add_dns_backend(config: Configurator, name: str, factory: Any) -> None:
    """Create the backend and register it; a backend with a ``bind_registry(registry)`` method
    gets the registry too (the builtin one writes through the app's own database)."""
    cls = config.maybe_dotted(factory)
    backend = cls.create_service(name, backend_settings(config.get_settings(), name))
    bind = getattr(backend, "bind_registry", None)
    if bind is not None:
        bind(config.registry)
    config.register_service(backend, IDNSBackend, name=name)
    config.registry.setdefault("nsupdate.dns_backends", {})[name] = backend


def includeme(config: Configurator) -> None:
    config.include("pyramid_services")
    config.add_directive("add_dns_backend", add_dns_backend)
    for name, dotted in config.registry["nsupdate.settings"].dns_backends.items():
        config.add_dns_backend(name, dotted)
