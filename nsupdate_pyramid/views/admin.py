"""The admin pages: status figures, lists with search/sort/pages, row edit/delete, bulk actions,
the audit log, and the plain health endpoint for load balancers.

Thin on purpose: parse the request, call ``services.admin``, render. Every POST carries the
session's CSRF token (Pyramid's default CSRF check is on for every unsafe method).
"""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..i18n import _
from ..resources import Root
from ..resources.admin import Admin, AdminCollection, AdminRow, AuditLog
from ..security import Permission
from ..services import accounts
from ..services import admin as admin_service
from ..services.errors import ServiceError
from .helpers import flash, remove_records_after_commit

ADMIN = Permission.ADMIN.value


def _actor(request: Request) -> admin_service.Actor:
    identity = request.identity
    return admin_service.Actor(identity.user_id, identity.username)


def _ttl(request: Request) -> int:
    return request.registry["nsupdate.settings"].default_ttl


def _say_failed_names(request: Request, failures: list[tuple[str, object]], removed: int) -> None:
    """Admins get one line naming every name whose records stayed."""
    if failures:
        flash(request, _("Some DNS records could not be removed: ${names}",
                         mapping={"names": ", ".join(name for name, _r in failures)}), "warning")


def _remove_records_after_commit(request: Request, report: accounts.DeletionReport) -> None:
    """DNS records of deleted or flagged hosts go once the change is committed."""
    remove_records_after_commit(request, report, _say_failed_names)


def _nav(request: Request) -> list[tuple[str, Any]]:
    admin = request.root["admin"]
    return [(request.resource_url(admin, key), kind.title)
            for key, kind in admin_service.KINDS.items()] + \
        [(request.resource_url(admin, "log"), _("Audit log"))]


@view_config(context=Admin, permission=ADMIN, request_method="GET", renderer="admin/index.jinja2")
def admin_index(context: Admin, request: Request) -> dict:
    return {"figures": admin_service.status_figures(request.dbsession), "nav": _nav(request)}


@view_config(context=AdminCollection, permission=ADMIN, request_method="GET",
             renderer="admin/list.jinja2")
def admin_list(context: AdminCollection, request: Request) -> dict:
    params = request.GET
    page = admin_service.list_rows(
        request.dbsession, context.kind, query=params.get("q", ""),
        sort=params.get("sort", "name"), descending=params.get("desc") == "1",
        cursor=params.get("after", ""))

    def url(**changes: Any) -> str:
        query = {"q": page.query, "sort": page.sort, "desc": "1" if page.descending else ""}
        query.update(changes)
        return request.resource_url(context, query={k: v for k, v in query.items() if v})

    return {"kind": context.kind, "page": page, "url": url, "nav": _nav(request),
            "attribute": admin_service.attribute}


@view_config(context=AdminCollection, name="bulk", permission=ADMIN, request_method="POST")
def admin_bulk(context: AdminCollection, request: Request) -> Response:
    ids = [int(value) for value in request.POST.getall("ids") if value.isdigit()]
    try:
        changed, report = admin_service.bulk_change(
            request.dbsession, context.kind, request.POST.get("action", ""), ids, _actor(request),
            _ttl(request))
    except ServiceError as error:
        flash(request, error.args[0], "error")
    else:
        _remove_records_after_commit(request, report)
        flash(request, _("${count} rows changed.", mapping={"count": changed}), "success")
    return HTTPSeeOther(location=request.POST.get("back", "") if
                        request.POST.get("back", "").startswith(request.resource_url(context))
                        else request.resource_url(context))


@view_config(context=AdminCollection, name="add", permission=ADMIN,
             request_method=("GET", "POST"), renderer="admin/item.jinja2")
def admin_add(context: AdminCollection, request: Request) -> dict | Response:
    if not context.kind.creatable:
        request.response.status_int = 404
        return {"kind": context.kind, "row": None, "values": {}, "error": None, "nav": _nav(request)}
    values: dict[str, Any] = {}
    error = None
    if request.method == "POST":
        try:
            values = admin_service.parse_form(context.kind, request.POST)
            row = admin_service.create_row(request.dbsession, context.kind, values, _actor(request))
        except ServiceError as failure:
            error = failure.args[0]
            request.response.status_int = 400
        else:
            flash(request, _("Saved."), "success")
            return HTTPSeeOther(location=request.resource_url(context, str(row.id)))
    return {"kind": context.kind, "row": None, "values": values, "error": error, "nav": _nav(request)}


@view_config(context=AdminRow, permission=ADMIN, request_method=("GET", "POST"),
             renderer="admin/item.jinja2")
def admin_row(context: AdminRow, request: Request) -> dict | Response:
    error = None
    if request.method == "POST":
        try:
            values = admin_service.parse_form(context.kind, request.POST)
            report = admin_service.edit_row(request.dbsession, context.kind, context.row, values,
                                            _actor(request), _ttl(request))
        except ServiceError as failure:
            error = failure.args[0]
            request.response.status_int = 400
        else:
            _remove_records_after_commit(request, report)
            flash(request, _("Saved."), "success")
            return HTTPSeeOther(location=request.resource_url(context))
    values = {f.name: getattr(context.row, f.name) for f in context.kind.fields}
    return {"kind": context.kind, "row": context.row, "values": values, "error": error,
            "nav": _nav(request), "attribute": admin_service.attribute}


@view_config(context=AdminRow, name="delete", permission=ADMIN, request_method="POST")
def admin_delete(context: AdminRow, request: Request) -> Response:
    try:
        report = admin_service.delete_row(request.dbsession, context.kind, context.row,
                                          _actor(request), _ttl(request))
    except ServiceError as error:
        flash(request, error.args[0], "error")
        return HTTPSeeOther(location=request.resource_url(context))
    _remove_records_after_commit(request, report)
    flash(request, _("Deleted."), "success")
    return HTTPSeeOther(location=request.resource_url(context.__parent__))


@view_config(context=AuditLog, permission=ADMIN, request_method="GET", renderer="admin/log.jinja2")
def admin_log(context: AuditLog, request: Request) -> dict:
    before = request.GET.get("before", "")
    entries, next_before = admin_service.audit_page(
        request.dbsession, before=int(before) if before.isdigit() else None)
    return {"entries": entries, "next_before": next_before, "nav": _nav(request)}


@view_config(context=Root, name="healthz", permission=Permission.VIEW.value,
             request_method=("GET", "HEAD"))
def healthz(context: Root, request: Request) -> Response:
    """For load balancers: 200 ``ok`` when the database answers, else 503; nothing more."""
    healthy = admin_service.database_ok(request.dbsession)
    response = Response("ok\n" if healthy else "database unavailable\n",
                        status=200 if healthy else 503, content_type="text/plain", charset="utf-8")
    response.cache_control.no_store = True
    return response
