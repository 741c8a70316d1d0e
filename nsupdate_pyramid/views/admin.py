from __future__ import annotations

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import func, select

from ..models import Domain, Host, User
from ..resources import Admin
from ..security import Permission


@view_config(context=Admin, permission=Permission.ADMIN.value, request_method="GET",
             renderer="admin/index.jinja2")
def admin_index(context: Admin, request: Request) -> dict:
    db = request.dbsession

    def count(*where: object, model: type = Host) -> int:
        return db.scalar(select(func.count()).select_from(model).where(*where)) or 0

    return {
        "figures": {
            "users": count(model=User),
            "admins": count(User.is_admin.is_(True), model=User),
            "domains": count(model=Domain),
            "public_domains": count(Domain.public.is_(True), model=Domain),
            "hosts": count(),
            "abuse": count(Host.abuse.is_(True)),
            "abuse_blocked": count(Host.abuse_blocked.is_(True)),
            "unavailable": count(Host.available.is_(False)),
        },
    }
