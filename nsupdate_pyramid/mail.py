"""Outgoing mail: pyramid_mailer for the wire, Jinja2 for the text, sent after commit.

Every mail has a plain-text and an HTML part rendered from ``templates/mail/<name>.txt.jinja2``
and ``.html.jinja2`` in the recipient's language. A mail is queued when the request's
transaction commits (never for one that is rolled back) and leaves from a background thread,
so a slow or broken SMTP server neither delays a page nor turns it into an error, and a page
takes as long whether or not it sent a mail (which would otherwise tell who has an account).

``mail.top_level_directory`` set: pyramid_mailer's debug mailer writes each mail as an ``.eml``
file there instead (development). Otherwise SMTP; ``mail.tls`` insists on STARTTLS and,
unlike smtplib's default, checks the server's certificate.
"""
from __future__ import annotations

import functools
import logging
import re
import smtplib
import ssl
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

import transaction
from pyramid.config import Configurator
from pyramid.i18n import TranslationString, make_localizer
from pyramid.interfaces import ITranslationDirectories
from pyramid.request import Request
from pyramid.threadlocal import manager as threadlocal_manager
from pyramid_jinja2 import IJinja2Environment
from pyramid_mailer.interfaces import IMailer
from pyramid_mailer.mailer import DebugMailer, Mailer
from pyramid_mailer.message import Message
from repoze.sendmail.mailer import SMTPMailer

from .settings import AppSettings

log = logging.getLogger(__name__)


_BARE_NEWLINE = re.compile(rb"\r?\n")


class _LineEndings:
    """repoze.sendmail hands smtplib bytes with bare LF line ends, which smtplib sends as they
    are; servers that follow RFC 5321 (and those hardened against SMTP smuggling) refuse them.
    """

    def sendmail(self, from_addr: str, to_addrs: Any, msg: Any, *args: Any, **kw: Any) -> Any:
        if isinstance(msg, bytes):
            msg = _BARE_NEWLINE.sub(b"\r\n", msg)
        return super().sendmail(from_addr, to_addrs, msg, *args, **kw)  # type: ignore[misc]


class _SMTP(_LineEndings, smtplib.SMTP):
    """smtplib's STARTTLS without a context does not check the certificate; this one does."""

    def __init__(self, *args: Any, context: ssl.SSLContext, **kw: Any) -> None:
        self._context = context
        super().__init__(*args, **kw)

    def starttls(self, *args: Any, context: ssl.SSLContext | None = None, **kw: Any) -> Any:
        return super().starttls(*args, context=context or self._context, **kw)


class _SMTP_SSL(_LineEndings, smtplib.SMTP_SSL):
    pass


def make_mailer(settings: AppSettings) -> Any:
    """The pyramid_mailer mailer the ``mail.*`` settings describe."""
    if settings.mail_top_level_directory:
        return DebugMailer(settings.mail_top_level_directory)
    context = ssl.create_default_context(cafile=settings.mail_ca_file or None)
    smtp = SMTPMailer(hostname=settings.mail_host, port=settings.mail_port,
                      username=settings.mail_username or None,
                      password=settings.mail_password or None,
                      # tls: STARTTLS or fail; otherwise plain (a relay on this machine)
                      no_tls=not settings.mail_tls, force_tls=settings.mail_tls,
                      ssl=settings.mail_ssl)
    smtp.smtp = functools.partial(_SMTP, context=context)
    smtp.smtp_ssl = functools.partial(_SMTP_SSL, context=context)
    return Mailer(smtp_mailer=smtp, default_sender=settings.mail_default_sender or None)


class Outbox:
    """Sends committed mails one after the other from a daemon thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail")
        self._lock = threading.Lock()
        self._pending: list[Future[None]] = []

    def submit(self, mailer: Any, message: Message) -> None:
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._pool.submit(self._deliver, mailer, message))

    @staticmethod
    def _deliver(mailer: Any, message: Message) -> None:
        try:
            mailer.send_immediately(message)
        except Exception:
            log.exception("could not send the mail %r to %s", message.subject, message.recipients)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued mail was handed over (tests, and before the process ends)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result(timeout=timeout)


def _text_environment(registry: Any, environment: Any) -> Any:
    """The page environment without HTML escaping, for the plain-text parts (made once)."""
    text_environment = registry.get("nsupdate.mail_text_environment")
    if text_environment is None:
        text_environment = registry["nsupdate.mail_text_environment"] = environment.overlay(
            autoescape=False)
    return text_environment


class _RenderingRequest:
    """What pyramid_jinja2's gettext looks for on the current request: the mail's localizer."""

    def __init__(self, registry: Any, localizer: Any) -> None:
        self.registry = registry
        self.localizer = localizer


class Postman:
    """Renders mails in the recipient's language and sends them when ``tm`` commits.

    Plain values only (registry, transaction manager, base URL): services use it without
    seeing the request.
    """

    def __init__(self, registry: Any, transaction_manager: transaction.TransactionManager,
                 base_url: str) -> None:
        self.registry = registry
        self.tm = transaction_manager
        self.base_url = base_url.rstrip("/")
        self.settings: AppSettings = registry["nsupdate.settings"]

    def url(self, path: str) -> str:
        """An absolute link to ``path`` on this site (links in mails cannot be relative)."""
        return self.base_url + "/" + path.lstrip("/")

    def render(self, template: str, values: Mapping[str, Any], language: str,
               subject: TranslationString) -> Message:
        settings = self.settings
        if language not in settings.languages:
            language = settings.default_language
        dirs = self.registry.queryUtility(ITranslationDirectories, default=[])
        localizer = make_localizer(language, dirs)
        environment = self.registry.getUtility(IJinja2Environment, name=".jinja2")
        context = {"service_name": settings.service_name, "service_contact": settings.service_contact,
                   "site_url": self.url("/"), **values}
        threadlocal_manager.push({"request": _RenderingRequest(self.registry, localizer),
                                  "registry": self.registry})
        try:
            html = environment.get_template(f"mail/{template}.html.jinja2").render(context)
            text = _text_environment(self.registry, environment).get_template(
                f"mail/{template}.txt.jinja2").render(context)
            title = localizer.translate(subject)
        finally:
            threadlocal_manager.pop()
        # Named here: without a domain, make_msgid would look up this machine's name in DNS.
        domain = (settings.mail_default_sender.rpartition("@")[2].rstrip(">")
                  or urlsplit(self.base_url).hostname or "localhost")
        return Message(
            subject=f"[{settings.service_name}] {title}", recipients=[values["recipient"]],
            body=text, html=html, sender=settings.mail_default_sender or None,
            extra_headers={"Date": formatdate(usegmt=True), "Message-ID": make_msgid(domain=domain),
                           "Auto-Submitted": "auto-generated"})

    def send(self, recipient: str, template: str, subject: TranslationString, language: str,
             **values: Any) -> None:
        """Queue a mail to ``recipient``; it leaves only if the current transaction commits."""
        message = self.render(template, {**values, "recipient": recipient}, language, subject)
        mailer = self.registry.getUtility(IMailer)
        outbox: Outbox = self.registry["nsupdate.outbox"]

        def after_commit(committed: bool) -> None:
            if committed:
                outbox.submit(mailer, message)

        self.tm.get().addAfterCommitHook(after_commit)


def _postman(request: Request) -> Postman:
    base_url = request.app_settings.base_url or request.application_url
    return Postman(request.registry, request.tm, base_url)


def includeme(config: Configurator) -> None:
    settings: AppSettings = config.registry["nsupdate.settings"]
    config.registry.registerUtility(make_mailer(settings), IMailer)
    config.registry["nsupdate.outbox"] = Outbox()
    config.add_request_method(_postman, "postman", reify=True)
