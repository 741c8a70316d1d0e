"""Host pages: list, add, view (with the LAN form), edit, delete, new secret, configuration help."""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..forms.hosts import HostAddForm, HostEditForm
from ..i18n import _
from ..models import User
from ..resources import HostResource, Hosts
from ..security import Permission
from ..services import clientconfig, lookups
from ..services import domains as domain_service
from ..services import hosts as host_service
from ..services.errors import ServiceError
from .helpers import commit_transaction, flash, remove_records_after_commit

#: Seconds all reverse lookups of one host page may take together.
REVERSE_BUDGET = 2.0


@view_config(context=Hosts, permission=Permission.LIST.value, request_method="GET",
             renderer="hosts/list.jinja2")
def list_hosts(context: Hosts, request: Request) -> dict:
    return {"hosts": host_service.hosts_for_user(request.dbsession, request.identity.user_id)}


def usable_domains(request: Request) -> list[str]:
    """The user's own domains, then the public ones: where they may add hosts."""
    own, public = domain_service.domains_for_user(request.dbsession, request.identity.user_id)
    return [domain.name for domain in own + public]


def config_page(request: Request, context: HostResource, secret: str | None) -> dict[str, Any]:
    """The configuration help: with the secret only right after it was made (never stored)."""
    settings = request.app_settings
    shown = secret or request.localizer.translate(_("<your secret>"))
    target = clientconfig.update_target(
        context.host.fqdn, shown, www_host=settings.www_host, ipv4_host=settings.ipv4_host,
        ipv6_host=settings.ipv6_host, base_url=settings.base_url, request_host=request.host,
        tls=settings.we_have_tls)
    return {"host": context.host, "secret": secret, "target": target,
            "snippets": clientconfig.all_snippets(target),
            "fritzbox": clientconfig.fritzbox_urls(target)}


@view_config(context=Hosts, name="add", permission=Permission.ADD.value,
             request_method=("GET", "POST"), renderer="hosts/add.jinja2")
def add_host(context: Hosts, request: Request) -> dict | Response:
    form = HostAddForm(request.POST, domains=usable_domains(request))
    if request.method == "POST" and form.validate():
        owner = request.dbsession.get(User, request.identity.user_id)
        try:
            host, secret = host_service.add_host(
                request.dbsession, form.name.data, form.domain.data, owner,
                comment=form.comment.data, blacklist=request.app_settings.host_blacklist)
        except ServiceError as error:
            form.name.errors = [error.args[0]]
        else:
            flash(request, _("Host ${fqdn} added. Its update secret is shown below, this once.",
                             mapping={"fqdn": host.fqdn}), "success")
            request.override_renderer = "hosts/config.jinja2"
            return config_page(request, HostResource(context, host), secret)
    if form.errors:
        request.response.status_int = 400
    return {"form": form}


def _published(host: Any) -> list[str]:
    return [address for address in (host.published_ipv4, host.published_ipv6) if address]


@view_config(context=HostResource, permission=Permission.VIEW.value, request_method="GET",
             renderer="hosts/view.jinja2")
def view_host(context: HostResource, request: Request,
              lan_ip: str | None = None, lan_error: str | None = None) -> dict:
    host = context.host
    settings = request.app_settings
    resolver = lookups.make_resolver(settings.resolvers, min(settings.dns_timeout, REVERSE_BUDGET))
    reverse = lookups.reverse_names(resolver, _published(host), REVERSE_BUDGET)
    no_tls = [family for family, stamp, tls in (
        ("IPv4", host.last_update_ipv4, host.tls_update_ipv4),
        ("IPv6", host.last_update_ipv6, host.tls_update_ipv6)) if stamp and not tls]
    return {"host": host, "lan_ip": host.lan_ip if lan_ip is None else lan_ip,
            "lan_error": lan_error, "reverse": reverse, "no_tls": no_tls}


@view_config(context=HostResource, name="lan", permission=Permission.EDIT.value,
             request_method="POST", renderer="hosts/view.jinja2")
def set_lan_address(context: HostResource, request: Request) -> dict | Response:
    """The split-horizon address: the built-in nameserver answers it to the host's own network."""
    host = context.host
    value = request.POST.get("lan_ip", "")[:100]
    try:
        lan = host_service.set_lan_address(host, value)
    except ServiceError as error:
        request.response.status_int = 400
        return {"host": host, "lan_ip": value, "lan_error": request.localizer.translate(error.args[0])}
    backend = request.registry["nsupdate.dns_backends"].get(host.domain.backend)
    zone = domain_service.zone_info(host.domain, request.app_settings.default_ttl)
    name, location = host.name, request.resource_url(context)
    commit_transaction(request)  # the setting is kept even if the nameserver fails below
    try:
        host_service.publish_lan_address(backend, zone, name, lan)
    except ServiceError as error:
        flash(request, _("LAN address saved, but not published: ${reason}",
                         mapping={"reason": request.localizer.translate(error.args[0])}), "error")
        return HTTPSeeOther(location=location)
    flash(request, _("LAN address saved.") if lan else _("LAN address removed."), "success")
    return HTTPSeeOther(location=location)


@view_config(context=HostResource, name="edit", permission=Permission.EDIT.value,
             request_method=("GET", "POST"), renderer="hosts/edit.jinja2")
def edit_host(context: HostResource, request: Request) -> dict | Response:
    host = context.host
    form = HostEditForm(request.POST, obj=host) if request.method == "POST" else \
        HostEditForm(obj=host)
    if request.method == "POST" and form.validate():
        host_service.edit_host(host, comment=form.comment.data, available=form.available.data,
                               netmask_ipv4=form.netmask_ipv4.data,
                               netmask_ipv6=form.netmask_ipv6.data,
                               clear_abuse=form.clear_abuse.data)
        flash(request, _("Host updated."), "success")
        return HTTPSeeOther(location=request.resource_url(context))
    if form.errors:
        request.response.status_int = 400
    return {"host": host, "form": form}


@view_config(context=HostResource, name="delete", permission=Permission.DELETE.value,
             request_method=("GET", "POST"), renderer="hosts/delete.jinja2")
def delete_host(context: HostResource, request: Request) -> dict | Response:
    host = context.host
    error = None
    if request.method == "POST":
        fqdn = host.fqdn
        try:
            report = host_service.delete_host(request.dbsession, host,
                                              request.app_settings.default_ttl)
        except ServiceError as exc:
            error = exc.args[0]
            request.response.status_int = 400
        else:
            remove_records_after_commit(request, report)
            flash(request, _("Host ${fqdn} deleted.", mapping={"fqdn": fqdn}), "success")
            return HTTPSeeOther(location=request.resource_url(context.__parent__))
    return {"host": host, "error": error}


@view_config(context=HostResource, name="secret", permission=Permission.EDIT.value,
             request_method="POST", renderer="hosts/config.jinja2")
def new_secret(context: HostResource, request: Request) -> dict:
    """POST only: a link (or a prefetching browser) must not break the router's login."""
    secret = host_service.new_secret(context.host)
    flash(request, _("A new update secret was made; the old one no longer works. It is shown "
                     "below, this once."), "success")
    return config_page(request, context, secret)


@view_config(context=HostResource, name="config", permission=Permission.VIEW.value,
             request_method="GET", renderer="hosts/config.jinja2")
def show_config(context: HostResource, request: Request) -> dict:
    return config_page(request, context, None)
