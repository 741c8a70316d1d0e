from __future__ import annotations

from typing import Any

from pyramid.authorization import Allow, Authenticated

from ..models import Domain
from ..security import Permission, user_principal
from ..services import domains as domain_service
from .base import ADMIN_THEN_DENY, PrivateResource, Resource


class Domains(Resource):
    """``/domains/``: the user's domains and the public ones."""

    @property
    def __acl__(self) -> list[Any]:
        return [(Allow, Authenticated, (Permission.LIST.value, Permission.ADD.value)), *ADMIN_THEN_DENY]

    def __getitem__(self, name: str) -> DomainResource:
        domain = domain_service.get_domain_by_name(self.request.dbsession, name)
        if domain is None or domain.name != name:
            raise KeyError(name)
        return DomainResource(self, domain)


class DomainResource(PrivateResource):
    """``/domains/{name}/``."""

    def __init__(self, parent: Domains, domain: Domain) -> None:
        super().__init__(parent, domain.name)
        self.domain = domain

    @property
    def __acl__(self) -> list[Any]:
        owner = user_principal(self.domain.owner_id)
        acl: list[Any] = [(Allow, owner, (Permission.VIEW.value, Permission.EDIT.value,
                                          Permission.DELETE.value, Permission.USE.value))]
        if self.domain.public:
            acl.append((Allow, Authenticated, Permission.USE.value))
        return [*acl, *ADMIN_THEN_DENY]
