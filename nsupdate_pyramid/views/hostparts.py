"""Related hosts and third-party service configurations, under their host.

The host's ACL covers them (owner and admins); for anyone else they answer 404 like the host.
"""
from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from wtforms import Form

from ..forms.hosts import RelatedHostForm, ServiceConfigForm
from ..i18n import _
from ..resources import RelatedHostResource, RelatedHosts, ServiceConfigResource, ServiceConfigs
from ..security import Permission
from ..services import accounts, hostparts
from ..services import hosts as host_service
from ..services.errors import ServiceError
from .helpers import flash, remove_records_after_commit

VIEW, EDIT = Permission.VIEW.value, Permission.EDIT.value


def _put_error(form: Form, error: ServiceError, default_field: str) -> None:
    field = getattr(error, "field", default_field)
    getattr(form, field).errors = [error.args[0]]


def _remove_names(request: Request, host: object, names: list[str]) -> None:
    report = accounts.DeletionReport("", dns=[host_service.dns_cleanup(
        host, names, request.app_settings.default_ttl)])
    remove_records_after_commit(request, report)


def _container(context: object) -> object:
    """The list page: the context itself (add) or its parent (edit)."""
    return context if isinstance(context, RelatedHosts | ServiceConfigs) else context.__parent__


# --- related hosts -----------------------------------------------------------------------------

@view_config(context=RelatedHosts, permission=VIEW, request_method="GET",
             renderer="hosts/related_list.jinja2")
def list_related(context: RelatedHosts, request: Request) -> dict:
    return {"host": context.host, "related_hosts": context.host.related_hosts}


def _related_form(context: RelatedHosts | RelatedHostResource, request: Request,
                  related: object | None) -> dict | Response:
    host = context.host
    form = RelatedHostForm(request.POST or None, obj=related)
    if request.method == "POST" and form.validate():
        data = hostparts.RelatedInput(
            form.name.data, form.comment.data, form.available.data,
            form.interface_id_ipv4.data or "", form.interface_id_ipv6.data or "")
        try:
            saved, old_name = hostparts.save_related(request.dbsession, host, related, data)
        except ServiceError as error:
            _put_error(form, error, "name")
        else:
            if old_name:
                _remove_names(request, host, [f"{old_name}.{host.name}"])
            message = _("Related host ${name} updated.") if related else \
                _("Related host ${name} added.")
            flash(request, _(message, mapping={"name": f"{saved.name}.{host.fqdn}"}), "success")
            return HTTPSeeOther(location=request.resource_url(_container(context)))
    if form.errors:
        request.response.status_int = 400
    return {"host": host, "form": form, "related": related}


@view_config(context=RelatedHosts, name="add", permission=EDIT, request_method=("GET", "POST"),
             renderer="hosts/related_form.jinja2")
def add_related(context: RelatedHosts, request: Request) -> dict | Response:
    return _related_form(context, request, None)


@view_config(context=RelatedHostResource, permission=VIEW, request_method="GET",
             renderer="hosts/related_form.jinja2")
@view_config(context=RelatedHostResource, permission=EDIT, request_method="POST",
             renderer="hosts/related_form.jinja2")
def edit_related(context: RelatedHostResource, request: Request) -> dict | Response:
    return _related_form(context, request, context.related)


@view_config(context=RelatedHostResource, name="delete", permission=EDIT,
             request_method=("GET", "POST"), renderer="hosts/confirm_delete.jinja2")
def delete_related(context: RelatedHostResource, request: Request) -> dict | Response:
    host = context.host
    fqdn = f"{context.related.name}.{host.fqdn}"
    if request.method == "POST":
        name = hostparts.delete_related(request.dbsession, context.related)
        _remove_names(request, host, [name])
        flash(request, _("Related host ${name} deleted.", mapping={"name": fqdn}), "success")
        return HTTPSeeOther(location=request.resource_url(context.__parent__))
    return {"title": _("Delete the related host ${name}", mapping={"name": fqdn}),
            "question": _("Delete ${name}? Its DNS records are removed.", mapping={"name": fqdn}),
            "back": request.resource_url(context.__parent__)}


# --- third-party services ----------------------------------------------------------------------

@view_config(context=ServiceConfigs, permission=VIEW, request_method="GET",
             renderer="hosts/services_list.jinja2")
def list_services(context: ServiceConfigs, request: Request) -> dict:
    return {"host": context.host, "configs": context.host.service_configs,
            "offered": hostparts.services(request.dbsession)}


def _service_form(context: ServiceConfigs | ServiceConfigResource, request: Request,
                  config: object | None) -> dict | Response:
    host = context.host
    choices = [(service.id, service.name) for service in hostparts.services(request.dbsession)]
    form = ServiceConfigForm(request.POST or None, obj=config, services=choices)
    if config is not None:  # the service of an existing config stays
        form.service.choices = [(config.service_id, config.service.name)]
        form.service.data = config.service_id
    if request.method == "POST" and form.validate():
        data = hostparts.ServiceInput(
            form.service.data, form.hostname.data, form.name.data, form.password.data or "",
            form.give_ipv4.data, form.give_ipv6.data, form.enabled.data, form.comment.data)
        try:
            hostparts.save_service_config(request.dbsession, host, config, data)
        except ServiceError as error:
            _put_error(form, error, "service")
        else:
            flash(request, _("Service configuration updated.") if config else
                  _("Service configuration added."), "success")
            return HTTPSeeOther(location=request.resource_url(_container(context)))
    if form.errors:
        request.response.status_int = 400
    return {"host": host, "form": form, "config": config}


@view_config(context=ServiceConfigs, name="add", permission=EDIT,
             request_method=("GET", "POST"), renderer="hosts/service_form.jinja2")
def add_service(context: ServiceConfigs, request: Request) -> dict | Response:
    return _service_form(context, request, None)


@view_config(context=ServiceConfigResource, permission=VIEW, request_method="GET",
             renderer="hosts/service_form.jinja2")
@view_config(context=ServiceConfigResource, permission=EDIT, request_method="POST",
             renderer="hosts/service_form.jinja2")
def edit_service(context: ServiceConfigResource, request: Request) -> dict | Response:
    return _service_form(context, request, context.config)


@view_config(context=ServiceConfigResource, name="delete", permission=EDIT,
             request_method=("GET", "POST"), renderer="hosts/confirm_delete.jinja2")
def delete_service(context: ServiceConfigResource, request: Request) -> dict | Response:
    name = context.config.service.name
    if request.method == "POST":
        hostparts.delete_service_config(request.dbsession, context.config)
        flash(request, _("Service configuration deleted."), "success")
        return HTTPSeeOther(location=request.resource_url(context.__parent__))
    return {"title": _("Delete a service configuration"),
            "question": _("Stop passing the updates of ${fqdn} on to ${service}?",
                          mapping={"fqdn": context.host.fqdn, "service": name}),
            "back": request.resource_url(context.__parent__)}
