"""The admin pages: only admins see them (everyone else gets 404), every change needs the CSRF
token and lands in the audit log, lists search, sort and page by keyset, and /healthz answers."""
from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from nsupdate_pyramid.models import AuditEntry, BlacklistedHost, Domain, Host, Service, User
from tests.conftest import AppClient

ADMIN_PATHS = ["/admin/", "/admin/users/", "/admin/hosts/", "/admin/domains/", "/admin/related/",
               "/admin/services/", "/admin/blacklist/", "/admin/log/", "/admin/services/add"]


@pytest.fixture
def world(make_user: Any, make_domain: Any, make_host: Any, dbsession: Any) -> dict[str, Any]:
    root = make_user("root", admin=True)
    alice = make_user("alice")
    domain = make_domain("example.org", alice)
    hosts = {}
    for name, faults in (("alpha", 5), ("beta", 50), ("gamma", 0)):
        hosts[name], _secret = make_host(f"{name}.example.org", alice)
        hosts[name].client_faults = faults
    dbsession.commit()
    return {"root": root, "alice": alice, "domain": domain, "hosts": hosts}


def _csrf(page: Any) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def _audit(dbsession: Any) -> list[AuditEntry]:
    dbsession.expire_all()
    return list(dbsession.scalars(select(AuditEntry).order_by(AuditEntry.id)))


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_anonymous_and_users_get_404(client: AppClient, world: dict[str, Any], path: str) -> None:
    assert client.get(path, expect_errors=True).status_int == 404
    client.login("alice")
    assert client.get(path, expect_errors=True).status_int == 404
    host_id = world["hosts"]["alpha"].id
    assert client.get(f"/admin/hosts/{host_id}/", expect_errors=True).status_int == 404
    assert client.post(f"/admin/hosts/{host_id}/delete", {"csrf_token": client.csrf_token()},
                       expect_errors=True).status_int == 404


def test_admin_sees_every_page(client: AppClient, world: dict[str, Any]) -> None:
    client.login("root")
    for path in ADMIN_PATHS:
        assert client.get(path).status_int == 200, path
    host = world["hosts"]["alpha"]
    page = client.get(f"/admin/hosts/{host.id}/")
    assert "alpha.example.org" in page.text
    assert client.get("/admin/hosts/999999/", expect_errors=True).status_int == 404
    assert client.get("/admin/nope/", expect_errors=True).status_int == 404


def test_status_figures(client: AppClient, world: dict[str, Any]) -> None:
    client.login("root")
    page = client.get("/admin/")
    assert "<dt>Hosts</dt><dd>3</dd>" in page.text
    assert "<dt>Users</dt><dd>2</dd>" in page.text
    assert "<dt>Hosts with client faults</dt><dd>2</dd>" in page.text
    assert '<dt>Database schema version</dt><dd class="mono">0006</dd>' in page.text
    assert '<dt>Application version</dt><dd class="mono">0.' in page.text


def test_list_search_sort_and_keyset_pages(client: AppClient, world: dict[str, Any]) -> None:
    from nsupdate_pyramid.services import admin as admin_service

    client.login("root")
    text = client.get("/admin/hosts/", {"q": "BET"}).text
    assert "beta.example.org" in text and "alpha.example.org" not in text
    by_faults = client.get("/admin/hosts/", {"sort": "client_faults", "desc": "1"}).text
    assert by_faults.index("beta.example.org") < by_faults.index("alpha.example.org") \
        < by_faults.index("gamma.example.org")
    page = admin_service.list_rows(client.app.registry["dbsession_factory"](),
                                   admin_service.KINDS["hosts"], size=2)
    assert [h.fqdn for h in page.rows] == ["alpha.example.org", "beta.example.org"]
    assert page.next_cursor
    first = client.get("/admin/hosts/")
    assert "gamma.example.org" in first.text  # 50 a page by default
    second = admin_service.list_rows(client.app.registry["dbsession_factory"](),
                                     admin_service.KINDS["hosts"], cursor=page.next_cursor, size=2)
    assert [h.fqdn for h in second.rows] == ["gamma.example.org"] and second.next_cursor is None
    # A next-page link carries the cursor and shows the rest.
    html = client.get("/admin/hosts/", {"sort": "client_faults", "after": "5 " + str(
        world["hosts"]["alpha"].id)}).text
    assert "beta.example.org" in html and "alpha.example.org" not in html


def test_edit_writes_audit_and_needs_csrf(client: AppClient, world: dict[str, Any],
                                          dbsession: Any) -> None:
    client.login("root")
    host = world["hosts"]["alpha"]
    page = client.get(f"/admin/hosts/{host.id}/")
    form = {"csrf_token": _csrf(page), "comment": "checked", "available": "on", "abuse": "on",
            "client_faults": "0", "server_faults": "0", "api_auth_faults": "0",
            "netmask_ipv4": "32", "netmask_ipv6": "64", "staleness": "0"}
    assert client.post(f"/admin/hosts/{host.id}/", {**form, "csrf_token": "wrong"},
                       expect_errors=True).status_int == 400
    dbsession.expire_all()
    assert dbsession.get(Host, host.id).comment == ""
    assert client.post(f"/admin/hosts/{host.id}/", form).status_int == 303
    dbsession.expire_all()
    changed = dbsession.get(Host, host.id)
    assert changed.comment == "checked" and changed.abuse and changed.client_faults == 0
    entry = _audit(dbsession)[-1]
    assert (entry.actor, entry.action, entry.target_type, entry.target) == (
        "root", "edit", "hosts", "alpha.example.org")
    assert "abuse: False -> True" in entry.detail and "client_faults: 5 -> 0" in entry.detail
    log_page = client.get("/admin/log/")
    assert "alpha.example.org" in log_page.text and "root" in log_page.text
    bad = client.post(f"/admin/hosts/{host.id}/", {**form, "netmask_ipv4": "40"}, expect_errors=True)
    assert bad.status_int == 400


def test_bulk_actions(client: AppClient, world: dict[str, Any], dbsession: Any) -> None:
    client.login("root")
    token = _csrf(client.get("/admin/hosts/"))
    ids = [str(world["hosts"][name].id) for name in ("alpha", "beta")]
    for action in ("set-abuse", "set-abuse-blocked", "reset-available", "reset-faults"):
        response = client.post("/admin/hosts/bulk", {"csrf_token": token, "action": action,
                                                     "ids": ids})
        assert response.status_int == 303
    dbsession.expire_all()
    for name in ("alpha", "beta"):
        host = dbsession.get(Host, world["hosts"][name].id)
        assert host.abuse and host.abuse_blocked and not host.available and host.client_faults == 0
    gamma = dbsession.get(Host, world["hosts"]["gamma"].id)
    assert not gamma.abuse and gamma.available
    actions = [entry.action for entry in _audit(dbsession)]
    assert actions[-4:] == ["bulk set-abuse", "bulk set-abuse-blocked", "bulk reset-available",
                            "bulk reset-faults"]
    assert client.post("/admin/hosts/bulk", {"action": "set-abuse", "ids": ids},
                       expect_errors=True).status_int == 400
    # Domains have their own actions.
    client.post("/admin/domains/bulk", {"csrf_token": token, "action": "reset-available",
                                        "ids": [str(world["domain"].id)]})
    dbsession.expire_all()
    assert dbsession.get(Domain, world["domain"].id).available is False


def test_delete_host_and_user(client: AppClient, world: dict[str, Any], dbsession: Any,
                              make_user: Any, make_host: Any) -> None:
    client.login("root")
    token = _csrf(client.get("/admin/"))
    host_id, alice_id = world["hosts"]["gamma"].id, world["alice"].id
    assert client.post(f"/admin/hosts/{host_id}/delete", {"csrf_token": token}).status_int == 303
    dbsession.expire_all()
    assert dbsession.get(Host, host_id) is None
    # A user who owns domains is refused; one without is deleted with their hosts.
    client.post(f"/admin/users/{alice_id}/delete", {"csrf_token": token})
    dbsession.expire_all()
    assert dbsession.get(User, alice_id) is not None
    bob_id = make_user("bob").id
    make_host("bobs.example.org", dbsession.get(User, bob_id))
    client.post(f"/admin/users/{bob_id}/delete", {"csrf_token": token})
    dbsession.expire_all()
    assert dbsession.get(User, bob_id) is None
    assert dbsession.scalars(select(Host).where(Host.fqdn == "bobs.example.org")).first() is None
    assert [e.action for e in _audit(dbsession)] == ["delete", "delete"]


def test_create_service_and_blacklist_pattern(client: AppClient, world: dict[str, Any],
                                              dbsession: Any) -> None:
    client.login("root")
    token = _csrf(client.get("/admin/services/add"))
    response = client.post("/admin/services/add", {
        "csrf_token": token, "name": "other", "server": "dyn.example.net", "path": "/nic/update",
        "secure": "on", "accept_ipv4": "on", "comment": ""})
    assert response.status_int == 303
    assert dbsession.scalars(select(Service).where(Service.name == "other")).one().secure
    bad = client.post("/admin/blacklist/add", {"csrf_token": token, "name_re": "("},
                      expect_errors=True)
    assert bad.status_int == 400
    client.post("/admin/blacklist/add", {"csrf_token": token, "name_re": "^admin"})
    pattern = dbsession.scalars(select(BlacklistedHost)).one()
    assert pattern.name_re == "^admin" and pattern.created_by_id == world["root"].id
    assert client.get("/admin/users/add", expect_errors=True).status_int == 404


def test_healthz(client: AppClient, world: dict[str, Any]) -> None:
    response = client.get("/healthz")
    assert response.status_int == 200 and response.text == "ok\n"
    assert response.content_type == "text/plain"
    assert "Set-Cookie" not in response.headers
