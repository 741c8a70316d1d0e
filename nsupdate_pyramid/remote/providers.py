"""OAuth 2 providers for velruse: GitHub, Google and Bitbucket, in velruse's provider shape.

velruse 1.1.1 (2013, unmaintained) ships providers for all three, but as shipped GitHub's fails
against github.com (token in the query string, answered 401 since 2021), Bitbucket's speaks
OAuth 1.0a to an API removed in 2019, and Google's returns a "complete" login with an empty
profile when the user-info call fails. None sets a timeout, catches network errors, or uses the
OAuth ``state`` once: a replayed callback passes its check. So these are app-side providers
with velruse's interface: ``login(request)`` stores the state and redirects to the provider,
``callback(request)`` is the callback route's factory and returns the context, a velruse
``AuthenticationComplete`` (ours: :class:`RemoteLoginComplete`) or ``AuthenticationDenied``;
they are registered with ``velruse.api.register_provider`` so ``velruse.login_url`` works.

What every provider here does the same way:

- ``login`` is a POST with the page's CSRF token; the state (32 random bytes) is kept in the
  session together with where to go afterwards and, for a logged-in user, whose account the
  remote login is to be added to.
- ``callback`` takes the state out of the session before anything else (so a callback URL
  works at most once), and raises velruse's ``CSRFError`` unless the state is the one this
  provider handed out in this session.
- Tokens go in the ``Authorization`` header, secrets in POST bodies, never in URLs.
- Any network, TLS or protocol failure raises velruse's ``ThirdPartyFailure``; so does a
  profile without an id: no login without one.
"""
from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

import requests
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from velruse.api import register_provider
from velruse.exceptions import CSRFError, ThirdPartyFailure
from velruse.utils import flat_url

from ..resources.remote import RemoteLoginComplete, RemoteLoginDenied
from ..resources.root import root_factory
from ..security import Permission
from ..views.helpers import safe_came_from

#: One pending remote login per browser session; a new one replaces the old.
STATE_KEY = "remote_login.state"
CALLBACK_ANSWER_KEY = "nsupdate.remote_login.answer"  # in the WSGI environ, for retries
#: Seconds for each call to the provider (connect and read).
TIMEOUT = 10
USER_AGENT = "nsupdate-pyramid remote login"


class OAuth2Provider:
    """The authorization-code flow; subclasses say where and read the profile."""

    type = ""
    #: Shown on buttons and account pages.
    title = ""
    domain = ""

    def __init__(self, name: str, consumer_key: str, consumer_secret: str, scope: str = "") -> None:
        self.name = name
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.scope = scope
        self.login_route = f"velruse.{name}-login"
        self.callback_route = f"velruse.{name}-callback"

    # -- endpoints (subclasses) ------------------------------------------------------------------

    def authorize_url(self) -> str:
        raise NotImplementedError

    def authorize_origin(self) -> str:
        """Where the login buttons' POST is redirected to (the pages' CSP form-action allows it)."""
        parts = urlsplit(self.authorize_url())
        return f"{parts.scheme}://{parts.netloc}"

    def authorize_params(self, request: Request, state: str) -> dict[str, str]:
        params = {"client_id": self.consumer_key, "response_type": "code", "state": state,
                  "redirect_uri": self.redirect_uri(request)}
        if self.scope:
            params["scope"] = self.scope
        return params

    def fetch_token(self, request: Request, code: str) -> str:
        raise NotImplementedError

    def fetch_profile(self, token: str) -> dict[str, Any]:
        raise NotImplementedError

    # -- the flow --------------------------------------------------------------------------------

    def redirect_uri(self, request: Request) -> str:
        return request.route_url(self.callback_route)

    def login(self, request: Request) -> HTTPFound:
        """Start: remember the state in the session and send the browser to the provider."""
        state = secrets.token_urlsafe(32)
        identity = request.identity
        request.session[STATE_KEY] = {
            "provider": self.name, "state": state,
            "came_from": safe_came_from(request, request.POST.get("came_from"), ""),
            "link_user_id": identity.user_id if identity is not None else None,
        }
        return HTTPFound(location=flat_url(self.authorize_url(),
                                           **self.authorize_params(request, state)))

    def callback(self, request: Request) -> RemoteLoginComplete | RemoteLoginDenied:
        """The callback route's factory: check the state, exchange the code, read the profile.

        pyramid_retry runs a request again, on the same environ, when its database transaction
        hits a conflict; the provider's code is single-use, so the second attempt takes the
        first one's answer instead of exchanging it again (which the provider would refuse).
        """
        answered = request.environ.get(CALLBACK_ANSWER_KEY)
        if answered is not None:
            request.session.pop(STATE_KEY, None)
            return answered
        answer = self._answer(request)
        request.environ[CALLBACK_ANSWER_KEY] = answer
        return answer

    def _answer(self, request: Request) -> RemoteLoginComplete | RemoteLoginDenied:
        saved = request.session.pop(STATE_KEY, None)
        given = request.GET.get("state", "")
        if (not isinstance(saved, dict) or saved.get("provider") != self.name
                or not hmac.compare_digest(str(saved.get("state", "")).encode(), given.encode())):
            raise CSRFError(f"{self.name}: the state is missing, used or not ours")
        came_from = saved.get("came_from") or ""
        code = request.GET.get("code", "")
        if not code:
            reason = request.GET.get("error_description") or request.GET.get("error") or "no code"
            return RemoteLoginDenied(reason=reason[:200], provider_name=self.name,
                                     provider_type=self.type, came_from=came_from)
        try:
            token = self.fetch_token(request, code)
            profile = self.fetch_profile(token)
        except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ThirdPartyFailure(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        accounts = profile.get("accounts") or [{}]
        if not str(accounts[0].get("userid") or ""):
            raise ThirdPartyFailure(f"{self.name}: the profile has no user id")
        return RemoteLoginComplete(profile=profile, credentials={"oauthAccessToken": token},
                                   provider_name=self.name, provider_type=self.type,
                                   came_from=came_from, link_user_id=saved.get("link_user_id"))

    # -- HTTP ------------------------------------------------------------------------------------

    @staticmethod
    def _json(response: requests.Response, what: str) -> Any:
        if response.status_code != 200:
            raise ThirdPartyFailure(f"{what}: HTTP {response.status_code}: {response.text[:200]}")
        data = response.json()
        if isinstance(data, dict) and "error" in data:
            # GitHub answers a bad code with 200 and an error body.
            raise ThirdPartyFailure(f"{what}: {data.get('error')}: {data.get('error_description', '')}")
        return data

    def _post_token(self, url: str, data: dict[str, str], **kw: Any) -> str:
        response = requests.post(url, data=data, timeout=TIMEOUT, allow_redirects=False,
                                 headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                                 **kw)
        token = self._json(response, f"{self.name} token")["access_token"]
        if not isinstance(token, str) or not token:
            raise ThirdPartyFailure(f"{self.name}: no access token")
        return token

    def _get(self, url: str, token: str, **headers: str) -> Any:
        response = requests.get(url, timeout=TIMEOUT, allow_redirects=False, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/json",
            "User-Agent": USER_AGENT, **headers})
        return self._json(response, f"{self.name} {url}")


def _profile(domain: str, userid: Any, username: str, display_name: str,
             emails: list[tuple[str, bool, bool]]) -> dict[str, Any]:
    """velruse's profile shape (Portable Contacts); emails are (address, primary, verified)."""
    profile: dict[str, Any] = {
        "accounts": [{"domain": domain, "username": username, "userid": userid}],
        "preferredUsername": username,
        "displayName": display_name or username,
        "emails": [{"value": address, "primary": primary, "verified": verified}
                   for address, primary, verified in emails],
    }
    verified = [address for address, primary, ok in sorted(emails, key=lambda e: not e[1]) if ok]
    if verified:
        profile["verifiedEmail"] = verified[0]
    return profile


class GitHubProvider(OAuth2Provider):
    """GitHub OAuth Apps (and GitHub Enterprise Server through ``url``/``api_url``)."""

    type = "github"
    title = "GitHub"

    def __init__(self, name: str, consumer_key: str, consumer_secret: str, scope: str, *,
                 url: str = "https://github.com", api_url: str = "https://api.github.com") -> None:
        super().__init__(name, consumer_key, consumer_secret, scope or "read:user user:email")
        self.url = url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.domain = self.url.split("://", 1)[-1]

    def authorize_url(self) -> str:
        return f"{self.url}/login/oauth/authorize"

    def authorize_params(self, request: Request, state: str) -> dict[str, str]:
        params = super().authorize_params(request, state)
        del params["response_type"]  # GitHub knows only the code flow
        return params

    def fetch_token(self, request: Request, code: str) -> str:
        return self._post_token(f"{self.url}/login/oauth/access_token", {
            "client_id": self.consumer_key, "client_secret": self.consumer_secret, "code": code,
            "redirect_uri": self.redirect_uri(request)})

    def fetch_profile(self, token: str) -> dict[str, Any]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        user = self._get(f"{self.api_url}/user", token, **headers)
        # The public address in /user may be unverified; /user/emails says (scope user:email).
        try:
            listed = self._get(f"{self.api_url}/user/emails", token, **headers)
        except ThirdPartyFailure:
            listed = []
        emails = [(str(e["email"]), bool(e.get("primary")), bool(e.get("verified")))
                  for e in listed if isinstance(e, dict) and e.get("email")]
        return _profile(self.domain, user["id"], str(user["login"]), str(user.get("name") or ""),
                        emails)


class GoogleProvider(OAuth2Provider):
    """Google's OAuth 2 / OpenID Connect endpoints (user info, not the id_token, is read)."""

    type = "google_oauth2"
    title = "Google"
    domain = "accounts.google.com"
    AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
    EXCHANGE_URL = "https://oauth2.googleapis.com/token"
    USERINFO_URL = "https://openidconnect.googleapis.com/v1/userinfo"

    def __init__(self, name: str, consumer_key: str, consumer_secret: str, scope: str) -> None:
        super().__init__(name, consumer_key, consumer_secret, scope or "openid email profile")

    def authorize_url(self) -> str:
        return self.AUTHORIZE_URL

    def authorize_params(self, request: Request, state: str) -> dict[str, str]:
        return {**super().authorize_params(request, state), "prompt": "select_account"}

    def fetch_token(self, request: Request, code: str) -> str:
        return self._post_token(self.EXCHANGE_URL, {
            "client_id": self.consumer_key, "client_secret": self.consumer_secret, "code": code,
            "redirect_uri": self.redirect_uri(request), "grant_type": "authorization_code"})

    def fetch_profile(self, token: str) -> dict[str, Any]:
        info = self._get(self.USERINFO_URL, token)
        email = str(info.get("email") or "")
        emails = [(email, True, info.get("email_verified") is True)] if email else []
        return _profile(self.domain, info["sub"], email.partition("@")[0],
                        str(info.get("name") or ""), emails)


class BitbucketProvider(OAuth2Provider):
    """Bitbucket Cloud OAuth 2 consumers and the 2.0 API (velruse's is OAuth 1 / API 1.0)."""

    type = "bitbucket"
    title = "Bitbucket"
    domain = "bitbucket.org"
    AUTHORIZE_URL = "https://bitbucket.org/site/oauth2/authorize"
    EXCHANGE_URL = "https://bitbucket.org/site/oauth2/access_token"
    API_URL = "https://api.bitbucket.org/2.0"

    def authorize_url(self) -> str:
        return self.AUTHORIZE_URL

    def authorize_params(self, request: Request, state: str) -> dict[str, str]:
        # The callback URL and the scopes are fixed on the consumer at Bitbucket.
        return {"client_id": self.consumer_key, "response_type": "code", "state": state}

    def fetch_token(self, request: Request, code: str) -> str:
        return self._post_token(self.EXCHANGE_URL, {"grant_type": "authorization_code", "code": code},
                                auth=(self.consumer_key, self.consumer_secret))

    def fetch_profile(self, token: str) -> dict[str, Any]:
        user = self._get(f"{self.API_URL}/user", token)
        listed = self._get(f"{self.API_URL}/user/emails", token).get("values", [])
        emails = [(str(e["email"]), bool(e.get("is_primary")), bool(e.get("is_confirmed")))
                  for e in listed if isinstance(e, dict) and e.get("email")]
        return _profile(self.domain, user["uuid"], str(user.get("nickname") or ""),
                        str(user.get("display_name") or ""), emails)


def build_providers(settings: Any) -> list[OAuth2Provider]:
    """The providers whose keys the ini sets (see AppSettings.remote_providers)."""
    built: list[OAuth2Provider] = []
    for name in settings.remote_providers():
        key = getattr(settings, f"{name}_consumer_key")
        secret = getattr(settings, f"{name}_consumer_secret")
        if name == "github":
            built.append(GitHubProvider(name, key, secret, settings.github_scope,
                                        url=settings.github_url, api_url=settings.github_api_url))
        elif name == "google":
            built.append(GoogleProvider(name, key, secret, settings.google_scope))
        else:
            built.append(BitbucketProvider(name, key, secret))
    return built


def add_remote_login(config: Configurator, provider: OAuth2Provider) -> None:
    """Register like velruse's ``add_*_login``: ``/login/<name>`` (POST, CSRF) and its callback."""
    config.add_route(provider.login_route, f"/login/{provider.name}", factory=root_factory)
    config.add_view(provider, attr="login", route_name=provider.login_route,
                    request_method="POST", permission=Permission.VIEW.value)
    config.add_route(provider.callback_route, f"/login/{provider.name}/callback",
                     use_global_views=True, factory=provider.callback)
    register_provider(config, provider.name, provider)
