from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..resources import Root
from ..security import Permission

ROBOTS = "\n".join([
    "User-agent: *",
    "Crawl-delay: 10",
    *(f"Disallow: {path}" for path in (
        "/account/", "/admin/", "/hosts/", "/domains/", "/login", "/myip", "/detectip/",
        "/nic/")),
    "",
])


@view_config(context=Root, permission=Permission.VIEW.value, request_method="GET",
             renderer="home.jinja2")
def home(context: Root, request: Request) -> dict:
    return {}


@view_config(route_name="robots", permission=Permission.VIEW.value, request_method="GET")
def robots(request: Request) -> Response:
    return Response(ROBOTS, content_type="text/plain", charset="utf-8")
