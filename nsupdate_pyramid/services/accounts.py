"""Accounts people run themselves: registration, activation, password reset and change,
email change, language, deletion, and the clean-up of registrations nobody activated.

Answers never tell who has an account: registering a taken name or address, or asking for a
reset of an unknown address, looks the same from outside (same page, a mail either way where
a mailbox is involved, the same password-hash work) as the ordinary case.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from ..dns.errors import DNSBackendError
from ..dns.zone import ZoneInfo
from ..i18n import _
from ..interfaces import IZoneKeeper
from ..mail import Postman
from ..models import Domain, Host, User, utcnow
from ..security import passwords
from ..security.tokens import BadToken, TokenSigner
from ..settings import AppSettings
from .domains import zone_info
from .errors import InvalidValue
from .names import check_username
from .throttle import account_key, forget_failures
from .users import get_user_by_username

log = logging.getLogger(__name__)

ACTIVATE, RESET, EMAIL = "activate", "reset", "email"
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Passwords people pick first; length alone would let these through.
_COMMON_PASSWORDS = frozenset({
    "password", "password1", "password12", "password123", "passw0rd", "1234567890", "12345678910",
    "123456789012", "0123456789", "qwertyuiop", "qwertzuiop", "azertyuiop", "1q2w3e4r5t",
    "iloveyou12", "letmeinplease", "abcdefghij", "abc1234567", "trustno1234", "administrator",
    "changeme123", "welcome123", "football123", "dynamicdns", "nsupdate123",
})


# --- validation ------------------------------------------------------------------------------

def check_email(email: str) -> str:
    """A deliverable-looking address: a dot-atom local part and a DNS domain with a dot.

    Internationalised domains are accepted in either form; the domain is stored lower-case.
    """
    email = email.strip()
    local, at, domain = email.rpartition("@")
    invalid = InvalidValue(_("Enter a valid email address, like name@example.org."))
    if not at or not local or len(local) > 64 or len(email) > 254 or not _LOCAL_PART.match(local):
        raise invalid
    if domain.endswith("."):
        raise invalid
    domain = domain.lower()
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise invalid from None
    labels = ascii_domain.split(".")
    if (len(labels) < 2 or len(ascii_domain) > 253 or not all(_DOMAIN_LABEL.match(x) for x in labels)
            or not re.fullmatch(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}", labels[-1])):
        raise invalid
    return f"{local}@{domain}"


def check_password(password: str, min_length: int, *, username: str = "", email: str = "") -> str:
    """At least ``min_length`` characters, not a well-known one, not the user name or address."""
    if len(password) < min_length:
        raise InvalidValue(_("The password must have at least ${count} characters.",
                             mapping={"count": min_length}))
    if len(password) > 4096:
        raise InvalidValue(_("The password is too long."))
    lowered = password.lower()
    personal = {value.lower() for value in (username, email, email.partition("@")[0])
                if len(value) >= 3}
    if (lowered in _COMMON_PASSWORDS or len(set(password)) < 4
            or any(value in lowered for value in personal)):
        raise InvalidValue(_("This password is too easy to guess (a common password, or one "
                             "containing your user name or email address)."))
    return password


def _users_with_email(dbsession: Session, email: str) -> list[User]:
    return list(dbsession.scalars(select(User).where(func.lower(User.email) == email.lower())
                                  .order_by(User.id)))


# --- registration ------------------------------------------------------------------------------

def register(dbsession: Session, postman: Postman, signer: TokenSigner, settings: AppSettings,
             username: str, email: str, password: str, language: str) -> None:
    """Create an inactive account and mail its activation link, or mail why not.

    Already taken (name or address): nothing is created; the address given gets a mail saying
    so (the existing owner, when it is their address, with a pointer to the password reset),
    and the caller shows the same "check your mail" page as for a new account.
    """
    username = check_username(username)
    email = check_email(email)
    check_password(password, settings.password_min_length, username=username, email=email)
    owners = _users_with_email(dbsession, email)
    if owners:
        passwords.hash_password(password)  # as long as making the account would have taken
        owner = owners[0]
        if owner.activated is None and not owner.is_active:
            _mail_activation(postman, signer, settings, owner, owner.language or language)
        else:
            postman.send(email, "already_registered", _("You already have an account"),
                         owner.language or language, usernames=[u.username for u in owners],
                         reset_url=postman.url("/password-reset"))
        return
    if get_user_by_username(dbsession, username) is not None:
        passwords.hash_password(password)
        postman.send(email, "username_taken", _("Choose another user name"), language,
                     username=username, register_url=postman.url("/register"))
        return
    user = User(username=username, email=email, password_hash=passwords.hash_password(password),
                is_active=False, activated=None, language="")
    dbsession.add(user)
    dbsession.flush()
    _mail_activation(postman, signer, settings, user, language)


def _activation_bound(user: User) -> str:
    return f"{user.is_active}:{user.activated}"


def _mail_activation(postman: Postman, signer: TokenSigner, settings: AppSettings, user: User,
                     language: str) -> None:
    token = signer.make(ACTIVATE, user.id, settings.activation_max_age, _activation_bound(user))
    postman.send(user.email, "activation", _("Activate your account"), language,
                 username=user.username, url=postman.url(f"/register/activate/{token}"),
                 days=max(1, settings.activation_max_age // 86400))


def _user_for_token(dbsession: Session, signer: TokenSigner, token: str, purpose: str,
                    bound: Any) -> tuple[User, dict[str, Any]]:
    parsed = signer.peek(token, purpose)
    user = dbsession.get(User, parsed.user_id)
    if user is None:
        raise BadToken
    signer.check(token, bound(user))
    return user, parsed.data


def activation_user(dbsession: Session, signer: TokenSigner, token: str) -> User:
    """The account a valid, unused activation link is for; BadToken otherwise."""
    user, _data = _user_for_token(dbsession, signer, token, ACTIVATE, _activation_bound)
    return user


def activate(dbsession: Session, signer: TokenSigner, token: str) -> User:
    user = activation_user(dbsession, signer, token)
    user.is_active = True
    user.activated = utcnow()
    return user


def cleanup_registrations(dbsession: Session, max_age: int, *, dry_run: bool = False) -> list[str]:
    """Remove accounts whose activation link has expired unused; returns their names.

    Only never-activated accounts go: one an operator switched off keeps its activation date.
    """
    cutoff = utcnow() - timedelta(seconds=max_age)
    expired = list(dbsession.scalars(select(User).where(
        User.activated.is_(None), User.is_active.is_(False), User.date_joined < cutoff)
        .order_by(User.id)))
    names = [user.username for user in expired]
    if expired and not dry_run:
        dbsession.execute(delete(User).where(User.id.in_([user.id for user in expired])))
    return names


# --- passwords ---------------------------------------------------------------------------------

def request_password_reset(dbsession: Session, postman: Postman, signer: TokenSigner,
                           settings: AppSettings, email: str, language: str) -> None:
    """Mail a reset link to each active account with this address; nothing for unknown ones
    (the caller says the same either way, and the mail leaves after the response)."""
    try:
        email = check_email(email)
    except InvalidValue:
        return
    for user in _users_with_email(dbsession, email):
        if not user.is_active:
            continue
        token = signer.make(RESET, user.id, settings.password_reset_max_age, user.password_hash)
        postman.send(user.email, "password_reset", _("Reset your password"),
                     user.language or language, username=user.username,
                     url=postman.url(f"/password-reset/{token}"),
                     minutes=settings.password_reset_max_age // 60)


def reset_user(dbsession: Session, signer: TokenSigner, token: str) -> User:
    """The active account of a valid reset link. Signed over the password hash, so setting a
    password (with this link or otherwise) voids it."""
    user, _data = _user_for_token(dbsession, signer, token, RESET, lambda u: u.password_hash)
    if not user.is_active:
        raise BadToken
    return user


def set_password(dbsession: Session, user: User, new_password: str, settings: AppSettings) -> None:
    """Store a new password: ends every other login (their cookies carry the old hash's token)
    and lifts a login lockout of the account."""
    check_password(new_password, settings.password_min_length, username=user.username,
                   email=user.email)
    user.password_hash = passwords.hash_password(new_password)
    forget_failures(dbsession, [account_key(user.username)])


def change_password(dbsession: Session, user: User, current: str, new_password: str,
                    settings: AppSettings) -> None:
    """Needs the current password; an account without one (remote logins only) sets its first."""
    if user.password_hash and not passwords.verify_password(user.password_hash, current):
        raise InvalidValue(_("The current password is wrong."))
    set_password(dbsession, user, new_password, settings)


# --- profile -----------------------------------------------------------------------------------

def set_language(user: User, language: str, settings: AppSettings) -> None:
    """"" = follow the browser; otherwise one of ``nsupdate.languages``."""
    if language and language not in settings.languages:
        raise InvalidValue(_("Unknown language."))
    user.language = language


def request_email_change(dbsession: Session, postman: Postman, signer: TokenSigner,
                         settings: AppSettings, user: User, new_email: str, password: str) -> str:
    """Mail a confirmation link to the new address; nothing changes before it is followed.

    Accounts without a password (made by a remote login) are asked for none: the login is the
    proof, and the new address must still confirm.
    """
    if user.password_hash and not passwords.verify_password(user.password_hash, password):
        raise InvalidValue(_("The password is wrong."))
    new_email = check_email(new_email)
    if new_email.lower() == user.email.lower():
        raise InvalidValue(_("This is already your address."))
    token = signer.make(EMAIL, user.id, settings.email_change_max_age, user.email, email=new_email)
    postman.send(new_email, "email_change", _("Confirm your new email address"),
                 user.language or settings.default_language, username=user.username,
                 url=postman.url(f"/account/confirm-email/{token}"),
                 hours=max(1, settings.email_change_max_age // 3600))
    return new_email


def email_change(dbsession: Session, signer: TokenSigner, token: str, user_id: int) -> tuple[User, str]:
    """The account and new address of a valid link for the logged-in ``user_id``.

    Signed over the current address: once changed, the link (and any older one) is void.
    """
    user, data = _user_for_token(dbsession, signer, token, EMAIL, lambda u: u.email)
    if user.id != user_id or not isinstance(data.get("email"), str):
        raise BadToken
    return user, data["email"]


def confirm_email_change(dbsession: Session, postman: Postman, signer: TokenSigner, token: str,
                         user_id: int) -> str:
    """Make the link's address the account's; the old address (if any) is told, so that its
    owner notices a change they did not make."""
    user, new_email = email_change(dbsession, signer, token, user_id)
    old_email = user.email
    user.email = new_email
    if old_email:
        postman.send(old_email, "email_changed", _("Your email address was changed"),
                     user.language or postman.settings.default_language, username=user.username,
                     new_email=new_email, reset_url=postman.url("/password-reset"))
    return new_email


# --- deletion ----------------------------------------------------------------------------------

@dataclass
class DNSCleanup:
    """Records to remove once the deletion is committed: (backend name, zone, relative names)."""

    backend: str
    zone: ZoneInfo
    names: list[str]
    fqdns: list[str]


@dataclass
class DeletionReport:
    username: str
    hosts: list[str] = field(default_factory=list)
    domains_deleted: list[str] = field(default_factory=list)
    domains_kept: list[tuple[str, str]] = field(default_factory=list)  # (domain, new owner)
    dns: list[DNSCleanup] = field(default_factory=list)


def _heir(dbsession: Session, domain: Domain, leaving: User) -> User:
    """Who keeps a domain that others still use: the first admin, else its busiest user."""
    admin = dbsession.scalars(select(User).where(
        User.is_admin.is_(True), User.is_active.is_(True), User.id != leaving.id)
        .order_by(User.id).limit(1)).first()
    if admin is not None:
        return admin
    owner_id = dbsession.scalars(
        select(Host.owner_id).where(Host.domain_id == domain.id, Host.owner_id != leaving.id)
        .group_by(Host.owner_id).order_by(func.count().desc(), Host.owner_id).limit(1)).one()
    return dbsession.get(User, owner_id)


def check_deletion_consent(user: User, password: str = "", typed_username: str = "") -> None:
    """The password, or for an account without one (remote logins only) its name typed out."""
    if user.password_hash:
        if not passwords.verify_password(user.password_hash, password):
            raise InvalidValue(_("The password is wrong."))
    elif typed_username.strip().lower() != user.username.lower():
        raise InvalidValue(_("Type your user name exactly as shown to confirm."))


def delete_account(dbsession: Session, user: User, password: str, backends: Mapping[str, Any],
                   default_ttl: int, *, typed_username: str = "") -> DeletionReport:
    """Delete the account, its hosts, and its domains nobody else has hosts in.

    A domain in which other people have hosts is handed over (to the first admin, else to the
    user with the most hosts in it) instead of pulling their hosts away. The DNS records of the
    deleted hosts are listed in the report for :func:`remove_records`, which runs after commit.
    """
    check_deletion_consent(user, password, typed_username)
    report = DeletionReport(user.username)
    hosts = list(dbsession.scalars(select(Host).options(selectinload(Host.related_hosts))
                                   .where(Host.owner_id == user.id).order_by(Host.fqdn)))
    domains = list(dbsession.scalars(select(Domain).where(Domain.owner_id == user.id)
                                     .order_by(Domain.name)))
    doomed_domains = set()
    for domain in domains:
        others = dbsession.scalar(select(func.count()).select_from(Host).where(
            Host.domain_id == domain.id, Host.owner_id != user.id))
        if others:
            heir = _heir(dbsession, domain, user)
            domain.owner_id = heir.id
            report.domains_kept.append((domain.name, heir.username))
        else:
            doomed_domains.add(domain.id)
            report.domains_deleted.append(domain.name)
    for host in hosts:
        report.hosts.append(host.fqdn)
        backend = backends.get(host.domain.backend)
        # A builtin zone goes with its domain row; any other nameserver keeps the zone.
        if backend is None or (host.domain_id in doomed_domains and IZoneKeeper.providedBy(backend)):
            continue
        names = [host.name, *(f"{related.name}.{host.name}" for related in host.related_hosts)]
        fqdns = [f"{name}.{host.domain.name}" for name in names]
        report.dns.append(DNSCleanup(host.domain.backend, zone_info(host.domain, default_ttl),
                                     names, fqdns))
    dbsession.execute(delete(Host).where(Host.owner_id == user.id))
    if doomed_domains:
        dbsession.execute(delete(Domain).where(Domain.id.in_(doomed_domains)))
    dbsession.flush()
    dbsession.execute(delete(User).where(User.id == user.id))
    forget_failures(dbsession, [account_key(user.username)])
    return report


def remove_records(report: DeletionReport, backends: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Delete the A, AAAA and TXT records of the deleted hosts; returns (fqdn, error) failures.

    After the first failure in a zone the rest of it is skipped: its nameserver is not answering
    and each try would wait for the timeout again.
    """
    failures: list[tuple[str, str]] = []
    broken: set[str] = set()
    for cleanup in report.dns:
        backend = backends[cleanup.backend]
        for name, fqdn in zip(cleanup.names, cleanup.fqdns, strict=True):
            if cleanup.zone.name in broken:
                failures.append((fqdn, _("skipped after an earlier error in this zone")))
                continue
            try:
                for rdtype in ("A", "AAAA", "TXT"):
                    backend.delete(cleanup.zone, name, rdtype)
            except DNSBackendError as error:
                log.warning("account %s deleted: records of %s stay: %s", report.username, fqdn,
                            error.message)
                failures.append((fqdn, error.message))
                broken.add(cleanup.zone.name)
    return failures
