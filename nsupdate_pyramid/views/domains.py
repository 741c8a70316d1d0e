"""Domain pages: list, add (with the "domain or host?" check), view, edit, delete, the
connectivity check, a new TSIG secret and nameserver configuration examples."""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..forms.domains import DomainAddForm, DomainEditForm
from ..i18n import _
from ..interfaces import IZoneKeeper
from ..models import Domain, User
from ..resources import DomainResource, Domains
from ..security import Permission
from ..services import domains as domain_service
from ..services import nsconfig
from ..services.errors import AlreadyExists, ServiceError
from ..services.lookups import NameKind
from .helpers import flash, remove_records_after_commit


@view_config(context=Domains, permission=Permission.LIST.value, request_method="GET",
             renderer="domains/list.jinja2")
def list_domains(context: Domains, request: Request) -> dict:
    own, public = domain_service.domains_for_user(request.dbsession, request.identity.user_id)
    return {"own_domains": own, "public_domains": public}


def _backends(request: Request) -> dict[str, Any]:
    return request.registry["nsupdate.dns_backends"]


def nameserver_page(request: Request, domain: Domain, secret: str | None) -> dict[str, Any]:
    """The configuration examples; the TSIG secret only right after it was made."""
    shown = secret or request.localizer.translate(_("<the domain's TSIG secret>"))
    key = nsconfig.ZoneKey(domain.name, domain.tsig_key_name or domain.name,
                           domain.tsig_algorithm, shown, domain.nameserver_ip)
    return {"domain": domain, "secret": secret, "examples": nsconfig.all_examples(key),
            "domain_url": request.resource_url(request.root, "domains", domain.name, "")}


@view_config(context=Domains, name="add", permission=Permission.ADD.value,
             request_method=("GET", "POST"), renderer="domains/add.jinja2")
def add_domain(context: Domains, request: Request) -> dict | Response:
    settings = request.app_settings
    backends = _backends(request)
    form = DomainAddForm(request.POST or None, backends=sorted(backends),
                         default=settings.default_backend)
    if request.method == "POST" and form.validate():
        backend = backends[form.backend.data]
        keeper = IZoneKeeper.providedBy(backend)
        try:
            found = domain_service.check_is_domain(
                request.dbsession, form.name.data,
                nameserver="" if keeper else form.nameserver_ip.data,
                port=form.nameserver_port.data, timeout=min(settings.dns_timeout, 3.0))
            owner = request.dbsession.get(User, request.identity.user_id)
            domain = domain_service.create_domain(
                request.dbsession, form.name.data, owner, backend=form.backend.data,
                nameserver_ip="" if keeper else form.nameserver_ip.data,
                nameserver2_ip="" if keeper else form.nameserver2_ip.data,
                nameserver_port=form.nameserver_port.data, tsig_algorithm=form.tsig_algorithm.data,
                tsig_secret="" if keeper else domain_service.generate_tsig_secret(
                    form.tsig_algorithm.data),
                comment=form.comment.data, dns_backend=backend)
        except AlreadyExists as error:
            form.name.errors = [error.args[0]]
        except ServiceError as error:
            field = form.nameserver_ip if str(error.args[0]).startswith("Invalid nameserver") \
                else form.name
            field.errors = [error.args[0]]
        else:
            flash(request, _("Domain ${name} added.", mapping={"name": domain.name}), "success")
            if keeper:
                return HTTPSeeOther(location=request.resource_url(context, domain.name, ""))
            if found.kind is NameKind.UNKNOWN and form.nameserver_ip.data:
                flash(request, _("Its nameserver did not confirm that it serves the zone "
                                 "(${detail}). Set it up with the examples below, then use "
                                 "\"Check the nameserver\".", mapping={"detail": found.detail}),
                      "warning")
            request.override_renderer = "domains/nameserver.jinja2"
            return nameserver_page(request, domain, domain.tsig_secret)
    if form.errors:
        request.response.status_int = 400
    return {"form": form}


@view_config(context=DomainResource, permission=Permission.VIEW.value, request_method="GET",
             renderer="domains/view.jinja2")
def view_domain(context: DomainResource, request: Request) -> dict:
    domain = context.domain
    return {"domain": domain,
            "zone_keeper": IZoneKeeper.providedBy(_backends(request).get(domain.backend)),
            "other_hosts": sum(host.owner_id != domain.owner_id for host in domain.hosts)}


@view_config(context=DomainResource, name="edit", permission=Permission.EDIT.value,
             request_method=("GET", "POST"), renderer="domains/edit.jinja2")
def edit_domain(context: DomainResource, request: Request) -> dict | Response:
    domain = context.domain
    form = DomainEditForm(request.POST or None, obj=domain)
    error = None
    if request.method == "POST" and form.validate():
        try:
            domain_service.edit_domain(
                domain, comment=form.comment.data, public=form.public.data,
                available=form.available.data, nameserver_ip=form.nameserver_ip.data,
                nameserver2_ip=form.nameserver2_ip.data, nameserver_port=form.nameserver_port.data,
                tsig_key_name=form.tsig_key_name.data, tsig_algorithm=form.tsig_algorithm.data)
        except ServiceError as exc:
            error = exc.args[0]
            if str(error).startswith("Invalid nameserver"):
                form.nameserver_ip.errors = [error]
                error = None
            elif "public" in str(error):
                form.public.errors = [error]
                error = None
        else:
            flash(request, _("Domain updated."), "success")
            return HTTPSeeOther(location=request.resource_url(context))
    if form.errors or error:
        request.response.status_int = 400
    return {"domain": domain, "form": form, "error": error}


@view_config(context=DomainResource, name="delete", permission=Permission.DELETE.value,
             request_method=("GET", "POST"), renderer="domains/delete.jinja2")
def delete_domain(context: DomainResource, request: Request) -> dict | Response:
    domain = context.domain
    error = None
    if request.method == "POST":
        name = domain.name
        try:
            report = domain_service.delete_domain(request.dbsession, domain, _backends(request),
                                                  request.app_settings.default_ttl)
        except ServiceError as exc:
            error = exc.args[0]
            request.response.status_int = 400
        else:
            remove_records_after_commit(request, report)
            flash(request, _("Domain ${name} deleted.", mapping={"name": name}), "success")
            return HTTPSeeOther(location=request.resource_url(context.__parent__))
    return {"domain": domain, "error": error,
            "own_hosts": sorted(h.fqdn for h in domain.hosts if h.owner_id == domain.owner_id),
            "other_hosts": sum(h.owner_id != domain.owner_id for h in domain.hosts)}


@view_config(context=DomainResource, name="check", permission=Permission.EDIT.value,
             request_method="POST")
def check_domain(context: DomainResource, request: Request) -> Response:
    """Ask the nameserver (SOA, then a test update); the result stays on the domain page."""
    domain = context.domain
    result = domain_service.check_domain(domain, _backends(request).get(domain.backend),
                                         request.app_settings.default_ttl)
    if result.ok:
        flash(request, _("The nameserver works: ${detail}", mapping={"detail": result.message}),
              "success")
    else:
        flash(request, _("The nameserver check failed: ${detail}",
                         mapping={"detail": result.message}), "error")
    return HTTPSeeOther(location=request.resource_url(context))


@view_config(context=DomainResource, name="tsig", permission=Permission.EDIT.value,
             request_method="POST", renderer="domains/nameserver.jinja2")
def new_tsig_secret(context: DomainResource, request: Request) -> dict:
    secret = domain_service.new_tsig_secret(context.domain)
    flash(request, _("A new TSIG secret was made. Give it to your nameserver: updates fail until "
                     "it has it. It is shown below, this once."), "success")
    return nameserver_page(request, context.domain, secret)


@view_config(context=DomainResource, name="nameserver", permission=Permission.VIEW.value,
             request_method="GET", renderer="domains/nameserver.jinja2")
def show_nameserver_config(context: DomainResource, request: Request) -> dict:
    return nameserver_page(request, context.domain, None)
