from __future__ import annotations

from typing import Any

from pyramid.authorization import Allow, Authenticated

from ..models import Host
from ..security import Permission, user_principal
from ..services import hosts as host_service
from .base import ADMIN_THEN_DENY, PrivateResource, Resource


class Hosts(Resource):
    """``/hosts/``: the logged-in user's hosts."""

    @property
    def __acl__(self) -> list[Any]:
        return [(Allow, Authenticated, (Permission.LIST.value, Permission.ADD.value)), *ADMIN_THEN_DENY]

    def __getitem__(self, fqdn: str) -> HostResource:
        host = host_service.get_host_by_fqdn(self.request.dbsession, fqdn)
        if host is None or host.fqdn != fqdn:
            # Only the canonical spelling is a URL; others would make duplicate pages.
            raise KeyError(fqdn)
        return HostResource(self, host)


class HostResource(PrivateResource):
    """``/hosts/{fqdn}/``."""

    def __init__(self, parent: Hosts, host: Host) -> None:
        super().__init__(parent, host.fqdn)
        self.host = host

    @property
    def __acl__(self) -> list[Any]:
        owner = user_principal(self.host.owner_id)
        granted = (Permission.VIEW.value, Permission.EDIT.value, Permission.DELETE.value,
                   Permission.UPDATE.value)
        return [(Allow, owner, granted), *ADMIN_THEN_DENY]
