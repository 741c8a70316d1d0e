"""Updating a host from the web UI: the manual form on the host page and the browser updater.

Both go through the same service as ``/nic/update_authorized`` (services/dyndns.py), so the
answers, counters and result messages are those an update client would get.
"""
from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..api.environment import update_env
from ..forms.update import ManualUpdateForm
from ..i18n import _
from ..resources import HostResource
from ..security import Permission
from ..services import dyndns
from .detect import detect_urls
from .helpers import flash, release_transaction
from .hosts import view_host

#: Seconds between two address checks of the browser updater: default and the allowed range.
UPDATER_INTERVAL = (60, 10, 3600)
#: Answers that will not go away by trying again: the browser updater stops on them.
FINAL_ANSWERS = ("badauth", "nohost", "notfqdn", "abuse", "badagent")


def _succeeded(answer: dyndns.Answer) -> bool:
    return all(line.split(" ", 1)[0] in ("good", "nochg") for line in answer.body.splitlines())


@view_config(context=HostResource, name="update", permission=Permission.UPDATE.value,
             request_method="POST", renderer="hosts/view.jinja2")
def manual_update(context: HostResource, request: Request) -> dict | Response:
    form = ManualUpdateForm(request.POST)
    if not form.validate():
        request.response.status_int = 400
        return {**view_host(context, request), "update_form": form}
    # The permission is checked, so admins may update other people's hosts here.
    fqdn, owner_id = context.host.fqdn, context.host.owner_id
    release_transaction(request)
    answer = dyndns.handle_owner_request(update_env(request.registry, request.environ),
                                         {"hostname": fqdn, "myip": form.myip()}, owner_id,
                                         dyndns.UPDATE)
    flash(request, _("Update result: ${answer}", mapping={"answer": answer.body}),
          "success" if _succeeded(answer) else "error")
    return HTTPSeeOther(location=request.resource_url(context))


@view_config(context=HostResource, name="browser-updater", permission=Permission.UPDATE.value,
             request_method="GET", renderer="hosts/browser_updater.jinja2")
def browser_updater(context: HostResource, request: Request) -> dict:
    """The page's JavaScript (static/js/updater.js) calls /nic/update_authorized, which only
    takes the owner's own hosts: for anyone else (an admin) the page explains and stays idle."""
    default, low, high = UPDATER_INTERVAL
    return {"host": context.host, "detect": detect_urls(request),
            "is_owner": request.identity.user_id == context.host.owner_id,
            "interval": {"default": default, "min": low, "max": high},
            "final_answers": FINAL_ANSWERS}
