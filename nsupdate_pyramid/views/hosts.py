from __future__ import annotations

from pyramid.request import Request
from pyramid.view import view_config

from ..resources import HostResource, Hosts
from ..security import Permission
from ..services import hosts as host_service


@view_config(context=Hosts, permission=Permission.LIST.value, request_method="GET",
             renderer="hosts/list.jinja2")
def list_hosts(context: Hosts, request: Request) -> dict:
    return {"hosts": host_service.hosts_for_user(request.dbsession, request.identity.user_id)}


@view_config(context=HostResource, permission=Permission.VIEW.value, request_method="GET",
             renderer="hosts/view.jinja2")
def view_host(context: HostResource, request: Request) -> dict:
    return {"host": context.host}
