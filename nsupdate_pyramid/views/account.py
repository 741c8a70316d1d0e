from __future__ import annotations

from pyramid.request import Request
from pyramid.view import view_config

from ..models import User
from ..resources import Account
from ..security import Permission


@view_config(context=Account, permission=Permission.VIEW.value, request_method="GET",
             renderer="account/view.jinja2")
def view_account(context: Account, request: Request) -> dict:
    return {"user": request.dbsession.get(User, request.identity.user_id)}
