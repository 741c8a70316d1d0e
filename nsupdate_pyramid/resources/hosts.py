from __future__ import annotations

from typing import Any

from pyramid.authorization import Allow, Authenticated

from ..models import Host, RelatedHost, ServiceConfig
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

    def __getitem__(self, key: str) -> Resource:
        if key == "related":
            return RelatedHosts(self, key)
        if key == "services":
            return ServiceConfigs(self, key)
        raise KeyError(key)


class _HostPart(PrivateResource):
    """Below a host: the host's ACL decides (owner, admins; 404 for everyone else)."""

    # Nothing of its own: ACLHelper goes on to the host's ACL, which ends with DENY_ALL.
    __acl__: list[Any] = []

    @property
    def host(self) -> Host:
        return self.__parent__.host


class RelatedHosts(_HostPart):
    """``/hosts/{fqdn}/related/``: names under the host whose addresses follow its prefix."""

    def __getitem__(self, key: str) -> RelatedHostResource:
        for related in self.host.related_hosts:
            if str(related.id) == key:
                return RelatedHostResource(self, related)
        raise KeyError(key)


class RelatedHostResource(_HostPart):
    """``/hosts/{fqdn}/related/{id}``."""

    def __init__(self, parent: RelatedHosts, related: RelatedHost) -> None:
        super().__init__(parent, str(related.id))
        self.related = related


class ServiceConfigs(_HostPart):
    """``/hosts/{fqdn}/services/``: the host's accounts at third-party dyndns2 services."""

    def __getitem__(self, key: str) -> ServiceConfigResource:
        for config in self.host.service_configs:
            if str(config.id) == key:
                return ServiceConfigResource(self, config)
        raise KeyError(key)


class ServiceConfigResource(_HostPart):
    """``/hosts/{fqdn}/services/{id}``."""

    def __init__(self, parent: ServiceConfigs, config: ServiceConfig) -> None:
        super().__init__(parent, str(config.id))
        self.config = config
