from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..models import utcnow
from ..resources import Root
from ..security import Permission
from ..services import domains as domain_service
from ..services import hosts as host_service
from ..services.overview import nameserver_answers
from .detect import detect_urls

ROBOTS = "\n".join([
    "User-agent: *",
    "Crawl-delay: 10",
    *(f"Disallow: {path}" for path in (
        "/account/", "/admin/", "/hosts/", "/domains/", "/login", "/myip", "/detectip/",
        "/nic/")),
    "",
])

#: Seconds the overview may spend asking nameservers what they serve for the user's hosts.
NAMESERVER_BUDGET = 2.0


@view_config(context=Root, permission=Permission.VIEW.value, request_method="GET",
             renderer="home.jinja2")
def home(context: Root, request: Request) -> dict:
    """Everyone: the visitor's addresses. Logged in: the overview of hosts and domains."""
    page = {"detect": detect_urls(request)}
    if request.identity is None:
        return page
    settings = request.app_settings
    hosts = host_service.hosts_for_user(request.dbsession, request.identity.user_id)
    own, public = domain_service.domains_for_user(request.dbsession, request.identity.user_id)
    answers = nameserver_answers(hosts, request.registry["nsupdate.dns_backends"].get,
                                 settings.default_ttl, budget=NAMESERVER_BUDGET)
    request.override_renderer = "home_overview.jinja2"
    return {**page, "hosts": hosts, "own_domains": own, "public_domains": public,
            "answers": answers, "now": utcnow()}


@view_config(route_name="robots", permission=Permission.VIEW.value, request_method="GET")
def robots(request: Request) -> Response:
    return Response(ROBOTS, content_type="text/plain", charset="utf-8")
