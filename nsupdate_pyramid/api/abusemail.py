"""The owner's mail when an update request gets their host blocked for abuse.

A request that sends an address in ``nsupdate.bad_ips`` flags its host (abuse and
abuse_blocked, see ``HostUpdater._blacklisted``). Once that write is committed, the request
reads the owner's address and language (one indexed query, only on this rare path) and hands
the mail to the mail machinery in a transaction of its own: it leaves from the outbox's
thread, so a slow or broken SMTP server neither delays nor changes the answer.
"""
from __future__ import annotations

import logging
from typing import Any

import transaction
from sqlalchemy import select
from webob import Request

from ..i18n import _
from ..mail import Postman
from ..models import Host, User
from ..services.hoststore import HostStore

log = logging.getLogger(__name__)

OWNER_QUERY = (
    select(User.email, User.username, User.language, Host.comment)
    .join(User, Host.owner_id == User.id)
)


def host_flagged(registry: Any, environ: dict[str, Any], store: HostStore, host_id: int,
                 fqdn: str, address: str) -> None:
    """Called after the flag is committed; never raises (the answer is already decided)."""
    try:
        with store.read() as connection:
            owner = connection.execute(OWNER_QUERY.where(Host.id == host_id)).one_or_none()
        if owner is None or not owner.email:
            return
        settings = registry["nsupdate.settings"]
        manager = transaction.TransactionManager(explicit=True)
        postman = Postman(registry, manager, settings.base_url or Request(environ).application_url)
        with manager:  # its commit hands the mail to the outbox
            postman.send(owner.email, "host_blocked",
                         _("Your host ${fqdn} is blocked for abuse", mapping={"fqdn": fqdn}),
                         owner.language or settings.default_language,
                         username=owner.username, fqdn=fqdn, address=address,
                         comment=owner.comment or "", host_url=postman.url(f"/hosts/{fqdn}/"))
    except Exception:
        log.exception("%s: could not mail the owner about the abuse block", fqdn)
