from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..i18n import _
from ..resources import HostResource, Hosts
from ..security import Permission
from ..services import hosts as host_service
from ..services.errors import ServiceError
from .helpers import flash


@view_config(context=Hosts, permission=Permission.LIST.value, request_method="GET",
             renderer="hosts/list.jinja2")
def list_hosts(context: Hosts, request: Request) -> dict:
    return {"hosts": host_service.hosts_for_user(request.dbsession, request.identity.user_id)}


@view_config(context=HostResource, permission=Permission.VIEW.value, request_method="GET",
             renderer="hosts/view.jinja2")
def view_host(context: HostResource, request: Request) -> dict:
    return {"host": context.host, "lan_ip": context.host.lan_ip, "lan_error": None}


@view_config(context=HostResource, name="lan", permission=Permission.EDIT.value,
             request_method="POST", renderer="hosts/view.jinja2")
def set_lan_address(context: HostResource, request: Request) -> dict | Response:
    """The split-horizon address: the built-in nameserver answers it to the host's own network."""
    host = context.host
    value = request.POST.get("lan_ip", "")[:100]
    backend = request.registry["nsupdate.dns_backends"].get(host.domain.backend)
    try:
        lan = host_service.set_lan_address(host, value, backend, request.app_settings.default_ttl)
    except ServiceError as error:
        request.response.status_int = 400
        return {"host": host, "lan_ip": value, "lan_error": request.localizer.translate(error.args[0])}
    flash(request, _("LAN address saved.") if lan else _("LAN address removed."), "success")
    return HTTPSeeOther(location=request.resource_url(context))
