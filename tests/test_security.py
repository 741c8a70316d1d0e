"""Security by default: permissions on every view, no IDOR, CSRF, cookies, headers, login."""
from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.httpexceptions import default_exceptionresponse_view
from pyramid.location import lineage
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.static import static_view

from nsupdate_pyramid import main, resources
from nsupdate_pyramid.api import ROUTES
from nsupdate_pyramid.api import views as api
from nsupdate_pyramid.security import passwords, secrets
from nsupdate_pyramid.views import auth, errors, home, remote
from tests.conftest import PASSWORD, AppClient

# Views anyone may call, each for a stated reason.
PUBLIC_VIEWS = {
    # The update API authenticates the host (Basic auth / key) or the owner's session itself.
    api.nic_update, api.nic_delete, api.nic_update_authorized, api.nic_delete_authorized,
    api.dynamicdns_update,
    api.myip, api.detectip_json, api.detectip_beacon, api.detectip_result,  # echo the caller
    api.api_error,  # "911" instead of a 500 on the API routes
    errors.not_found,  # the 404 page
    errors.forbidden,  # the 403/404/login-redirect page
    errors.bad_csrf,  # the "form expired" page
    errors.server_error,  # the friendly 500
    errors.undecodable_url,  # 400 for a URL that is not UTF-8
    default_exceptionresponse_view,  # Pyramid's own renderer of HTTP exceptions
    remote.remote_login_bad_state,  # 400 for a remote-login callback without our OAuth state
    remote.remote_login_failed,  # 502 when the login provider fails
}


def _registered_views(app: Any) -> list[dict[str, Any]]:
    views = []
    for entry in app.registry.introspector.get_category("views"):
        view = entry["introspectable"]
        permissions = [r for r in entry["related"] if r.category_name == "permissions"]
        views.append({"intr": view, "permission": permissions[0]["value"] if permissions else None})
    return views


def test_every_view_declares_a_permission(app: Any) -> None:
    offenders = []
    for view in _registered_views(app):
        intr = view["intr"]
        callable_ = intr["callable"]
        if callable_ in PUBLIC_VIEWS:
            continue
        if view["permission"] not in (None, NO_PERMISSION_REQUIRED):
            continue
        if isinstance(callable_, static_view):
            continue  # CSS and images: public by nature
        offenders.append(intr.title)
    assert not offenders, f"views without permission=: {offenders}"


def test_public_views_are_error_views_or_api_routes(app: Any) -> None:
    """The allow-list must not grow into a back door: error handling or the API's own routes."""
    for view in _registered_views(app):
        intr = view["intr"]
        if intr["callable"] in PUBLIC_VIEWS:
            assert intr["exception_only"] or intr["context"] is not None or \
                intr["route_name"] in ROUTES, intr.title


def _sample_tree(request: Any, alice: Any, domain: Any, host: Any) -> list[Any]:
    root = resources.Root(request)
    hosts, domains = root["hosts"], root["domains"]
    return [root, hosts, domains, root["account"], root["admin"],
            resources.HostResource(hosts, host), resources.DomainResource(domains, domain)]


def test_every_resource_has_lineage_and_acl(client: AppClient, make_user: Any, make_domain: Any,
                                            make_host: Any) -> None:
    alice = make_user("alice")
    domain = make_domain("example.org", alice)
    host, _ = make_host("home.example.org", alice)
    request = client.app.request_factory.blank("/")
    request.registry = client.app.registry
    for node in _sample_tree(request, alice, domain, host):
        chain = list(lineage(node))
        assert isinstance(chain[-1], resources.Root), f"{node!r} is orphaned"
        assert hasattr(node, "__acl__") and hasattr(node, "__name__")
        # Admins are granted everything everywhere (and not by accident of inheritance alone).
        assert ACLHelper().permits(node, [Everyone, Authenticated, "group:admins"], "edit")


def test_acl_owner_other_and_anonymous(make_user: Any, make_domain: Any, make_host: Any,
                                       client: AppClient) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    domain = make_domain("example.org", alice)
    public = make_domain("public.example", alice, public=True)
    host, _ = make_host("home.example.org", alice)
    request = client.app.request_factory.blank("/")
    root = resources.Root(request)
    acl = ACLHelper()
    alice_p = [Everyone, Authenticated, f"user:{alice.id}"]
    bob_p = [Everyone, Authenticated, f"user:{bob.id}"]
    host_res = resources.HostResource(root["hosts"], host)
    for permission in ("view", "edit", "delete", "update"):
        assert acl.permits(host_res, alice_p, permission)
        assert not acl.permits(host_res, bob_p, permission)
        assert not acl.permits(host_res, [Everyone], permission)
    domain_res = resources.DomainResource(root["domains"], domain)
    assert acl.permits(domain_res, alice_p, "edit")
    assert not acl.permits(domain_res, bob_p, "use")
    public_res = resources.DomainResource(root["domains"], public)
    assert acl.permits(public_res, bob_p, "use")
    assert not acl.permits(public_res, bob_p, "view")
    assert not acl.permits(root["admin"], alice_p, "admin")
    assert not acl.permits(root["hosts"], [Everyone], "list")


# ---- IDOR: another user's objects do not exist for you ---------------------------------

def _views_for(app: Any, context: type) -> list[tuple[str, str]]:
    """(view name, method) of every view registered on ``context``."""
    found = []
    for view in _registered_views(app):
        intr = view["intr"]
        if intr["context"] is context:
            methods = intr["request_methods"] or ("GET", "POST")
            if isinstance(methods, str):
                methods = (methods,)
            found.extend((intr["name"], method) for method in methods)
    return found


def test_other_users_objects_are_404(client: AppClient, make_user: Any, make_domain: Any,
                                     make_host: Any) -> None:
    alice = make_user("alice")
    make_user("bob")
    domain = make_domain("example.org", alice)
    make_host("home.example.org", alice)
    client.login("bob")
    token = client.csrf_token()
    urls = []
    for context, path in ((resources.HostResource, "/hosts/home.example.org/"),
                          (resources.DomainResource, f"/domains/{domain.name}/")):
        views = _views_for(client.app, context)
        assert views, f"no views on {context.__name__}?"
        for name, method in views:
            urls.append((method, path + (f"@@{name}" if name else "")))
    for method, url in urls:
        if method == "GET":
            response = client.get(url, expect_errors=True)
        else:
            send = getattr(client, method.lower())  # post, put, patch, delete
            response = send(url, params={"csrf_token": token}, headers={"X-CSRF-Token": token},
                            expect_errors=True)
        assert response.status_int == 404, f"{method} {url} answered {response.status}"
        assert "home.example.org" not in response.text or url.endswith("/")
    # The answer for someone else's host equals the answer for a host that does not exist.
    other = client.get("/hosts/home.example.org/", expect_errors=True)
    missing = client.get("/hosts/nothing.example.org/", expect_errors=True)
    assert other.status_int == missing.status_int == 404
    assert other.text == missing.text


def test_owner_and_admin_see_the_host(client: AppClient, make_user: Any, make_domain: Any,
                                      make_host: Any) -> None:
    alice = make_user("alice")
    make_user("root", admin=True)
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    client.login("alice")
    assert client.get("/hosts/home.example.org/").status_int == 200
    client.logout()
    client.login("root")
    assert client.get("/hosts/home.example.org/").status_int == 200
    assert client.get("/admin/").status_int == 200


def test_admin_area_is_404_for_everyone_else(client: AppClient, make_user: Any) -> None:
    make_user("alice")
    assert client.get("/admin/", expect_errors=True).status_int == 404
    client.login("alice")
    assert client.get("/admin/", expect_errors=True).status_int == 404


def test_anonymous_is_sent_to_login_whether_or_not_the_host_exists(
        client: AppClient, make_user: Any, make_domain: Any, make_host: Any) -> None:
    alice = make_user("alice")
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    existing = client.get("/hosts/home.example.org/")
    missing = client.get("/hosts/nope.example.org/")
    assert existing.status_int == missing.status_int == 303
    assert existing.location.startswith("http://example.com/login?came_from=%2Fhosts%2Fhome")
    assert missing.location.startswith("http://example.com/login?came_from=%2Fhosts%2Fnope")


def test_host_urls_use_the_canonical_name(client: AppClient, make_user: Any, make_domain: Any,
                                          make_host: Any) -> None:
    alice = make_user("alice")
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    client.login("alice")
    assert client.get("/hosts/HOME.example.org/", expect_errors=True).status_int == 404


# ---- login and logout ------------------------------------------------------------------

def test_login_failure_does_not_reveal_whether_the_user_exists(client: AppClient,
                                                               make_user: Any) -> None:
    make_user("alice")
    make_user("sleeper", active=False)
    wrong_password = client.login("alice", "not the password")
    no_such_user = client.login("mallory", "not the password")
    inactive = client.login("sleeper")
    for page in (wrong_password, no_such_user, inactive):
        assert page.status_int == 200
        assert "Wrong user name or password" in page.text
        assert "nsu_auth" not in page.headers.get("Set-Cookie", "")

    def strip(page: Any) -> str:
        text = re.sub(r'name="csrf_token" value="[^"]+"', "", page.text)
        return re.sub(r'name="username" value="[^"]*"', "", text)

    assert strip(wrong_password) == strip(no_such_user) == strip(inactive)


def test_login_is_case_insensitive_and_sets_safe_cookies(client: AppClient, make_user: Any) -> None:
    make_user("Alice")
    response = client.login("aLiCe")
    assert response.status_int == 303
    assert response.location == "http://example.com/hosts/"
    cookies = response.headers.getall("Set-Cookie")
    auth_cookies = [c for c in cookies if c.startswith("nsu_auth=")]
    assert auth_cookies
    for cookie in cookies:
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "secure" not in cookie.lower().split("samesite")[0]  # plain http in this test
    assert not any("Max-Age" in c or "expires" in c.lower() for c in auth_cookies), \
        "without 'keep me logged in' the login ends with the browser session"


def test_keep_me_logged_in_sets_a_lasting_cookie(client: AppClient, make_user: Any) -> None:
    make_user("alice")
    response = client.login("alice", remember="1")
    auth_cookies = [c for c in response.headers.getall("Set-Cookie") if c.startswith("nsu_auth=")]
    assert any("Max-Age=2592000" in c for c in auth_cookies)  # nsupdate.remember_max_age


def test_cookies_are_secure_with_tls(settings: dict[str, str], dbengine: Any,
                                     session_factory: Any, make_user: Any) -> None:
    tls_app = main({}, **{**settings, "nsupdate.we_have_tls": "true"})
    tls_app.registry["dbsession_factory"] = session_factory
    make_user("alice")
    client = AppClient(tls_app, extra_environ={"HTTP_HOST": "example.com",
                                               "wsgi.url_scheme": "https"})
    response = client.login("alice")
    assert response.status_int == 303
    for cookie in response.headers.getall("Set-Cookie"):
        assert "; secure" in cookie.lower(), cookie
        assert "HttpOnly" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_login_rotates_the_session_and_csrf_token(client: AppClient, make_user: Any) -> None:
    make_user("alice")
    before = client.csrf_token()
    session_before = client.cookies.get("nsu_session")
    client.login("alice")
    assert client.csrf_token() != before
    assert client.cookies.get("nsu_session") != session_before


def test_login_needs_csrf(client: AppClient, make_user: Any) -> None:
    make_user("alice")
    response = client.post("/login", {"username": "alice", "password": PASSWORD}, expect_errors=True)
    assert response.status_int == 400
    assert "Form expired" in response.text
    assert "nsu_auth" not in response.headers.get("Set-Cookie", "")


def test_logout_is_post_with_csrf(client: AppClient, make_user: Any) -> None:
    make_user("alice")
    client.login("alice")
    assert client.get("/logout", expect_errors=True).status_int == 404
    forged = client.post("/logout", {}, expect_errors=True)
    assert forged.status_int == 400
    assert client.get("/hosts/").status_int == 200  # still logged in
    client.logout()
    assert client.get("/hosts/").status_int == 303


@pytest.mark.parametrize(("came_from", "expected"), [
    ("/domains/", "http://example.com/domains/"),
    ("//evil.example/", "http://example.com/hosts/"),
    ("https://evil.example/", "http://example.com/hosts/"),
    ("/\\evil.example", "http://example.com/hosts/"),
    ("javascript:alert(1)", "http://example.com/hosts/"),
])
def test_came_from_stays_on_site(client: AppClient, make_user: Any, came_from: str,
                                 expected: str) -> None:
    make_user("alice")
    form = client.get("/login", params={"came_from": came_from}).forms[0]
    form["username"] = "alice"
    form["password"] = PASSWORD
    assert form.submit().location == expected


def test_password_change_ends_other_logins(client: AppClient, make_user: Any,
                                           dbsession: Any) -> None:
    user = make_user("alice")
    client.login("alice")
    user.password_hash = passwords.hash_password("a new password")
    dbsession.commit()
    assert client.get("/hosts/").status_int == 303


def test_deactivated_user_is_logged_out(client: AppClient, make_user: Any, dbsession: Any) -> None:
    user = make_user("alice")
    client.login("alice")
    user.is_active = False
    dbsession.commit()
    assert client.get("/hosts/").status_int == 303


# ---- headers -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/login", "/hosts/", "/nothing-here", "/static/css/site.css",
                                  "/nic/update", "/nic/update?hostname=bad.example.org",
                                  "/robots.txt"])
def test_security_headers_everywhere(client: AppClient, path: str) -> None:
    response = client.get(path, expect_errors=True)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


# ---- stored credentials --------------------------------------------------------------------

def test_passwords_are_argon2id_and_legacy_hashes_upgrade(make_user: Any, dbsession: Any,
                                                          client: AppClient) -> None:
    user = make_user("alice")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    salt = "abc"
    user.password_hash = f"sha1${salt}${hashlib.sha1((salt + PASSWORD).encode()).hexdigest()}"
    dbsession.commit()
    assert client.login("alice").status_int == 303
    dbsession.expire_all()
    assert dbsession.get(type(user), user.id).password_hash.startswith("$argon2id$")


def test_django_pbkdf2_hash_verifies() -> None:
    import base64

    digest = hashlib.pbkdf2_hmac("sha256", b"secret", b"saltsalt", 1000)
    encoded = f"pbkdf2_sha256$1000$saltsalt${base64.b64encode(digest).decode()}"
    assert passwords.verify_password(encoded, "secret")
    assert not passwords.verify_password(encoded, "wrong")
    assert passwords.needs_rehash(encoded)
    assert not passwords.verify_password("unknown$format", "secret")


def test_update_secrets_are_hashed_and_legacy_hashes_verify() -> None:
    from argon2 import PasswordHasher

    secret = secrets.generate_secret()
    assert len(secret) >= 20
    encoded = secrets.hash_secret(secret)
    assert secret not in encoded
    assert secrets.verify_secret(encoded, secret)
    assert not secrets.verify_secret(encoded, secret + "x")
    assert secrets.hash_secret(secret) != encoded  # salted
    legacy_sha1 = "sha1$s4lt$" + hashlib.sha1(b"s4ltold-secret").hexdigest()
    assert secrets.verify_secret(legacy_sha1, "old-secret")
    weak = "weakargon2" + PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("old")
    assert secrets.verify_secret(weak, "old")
    assert not secrets.verify_secret(weak, "new")
    assert secrets.needs_rehash(weak) and not secrets.needs_rehash(encoded)
    assert not secrets.verify_secret("", "anything")


def test_views_module_names_are_stable() -> None:
    """The allow-list above refers to these callables by name: keep them importable."""
    assert auth.login and auth.logout and home.home
