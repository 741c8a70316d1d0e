from __future__ import annotations

from pyramid.request import Request
from pyramid.view import view_config

from ..resources import DomainResource, Domains
from ..security import Permission
from ..services import domains as domain_service


@view_config(context=Domains, permission=Permission.LIST.value, request_method="GET",
             renderer="domains/list.jinja2")
def list_domains(context: Domains, request: Request) -> dict:
    own, public = domain_service.domains_for_user(request.dbsession, request.identity.user_id)
    return {"own_domains": own, "public_domains": public}


@view_config(context=DomainResource, permission=Permission.VIEW.value, request_method="GET",
             renderer="domains/view.jinja2")
def view_domain(context: DomainResource, request: Request) -> dict:
    return {"domain": context.domain}
