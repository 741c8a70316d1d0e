"""Who is asking (identity) and what they may do (ACL permissions)."""
from __future__ import annotations

from pyramid.config import Configurator
from pyramid.session import SignedCookieSessionFactory

from .permissions import ADMINS, Permission, user_principal
from .policy import SecurityPolicy, derive_key, make_security_policy
from .tokens import TokenSigner

__all__ = ["ADMINS", "Permission", "SecurityPolicy", "user_principal"]


SESSION_COOKIE = "nsu_session"


def includeme(config: Configurator) -> None:
    settings = config.registry["nsupdate.settings"]
    config.set_security_policy(make_security_policy(settings))
    # Signs the links we mail (activation, password reset, email change).
    config.registry["nsupdate.tokens"] = TokenSigner(derive_key(settings.session_secret,
                                                                "account-tokens"))
    config.set_session_factory(SignedCookieSessionFactory(
        derive_key(settings.session_secret, "session"),
        cookie_name=SESSION_COOKIE,
        secure=settings.we_have_tls,
        httponly=True,
        samesite="Lax",
        timeout=settings.session_max_age,
        reissue_time=settings.session_max_age // 10,
    ))
    # Every state-changing request needs the session's CSRF token unless a view opts out.
    config.set_default_csrf_options(require_csrf=True)
