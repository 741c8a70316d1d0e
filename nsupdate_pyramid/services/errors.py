"""Errors the service layer raises; each carries a message fit to show a person."""
from __future__ import annotations


class ServiceError(Exception):
    """Base class; ``str(error)`` is one translatable sentence."""


class NotFound(ServiceError):
    pass


class AlreadyExists(ServiceError):
    pass


class InvalidValue(ServiceError):
    pass


class BackendFailed(ServiceError):
    """The domain's nameserver or DNS provider did not take the change."""
