"""The owner's mail when an update request gets the host blocked (an address in nsupdate.bad_ips).

Mails go to the aiosmtpd server of tests/fixtures/smtp.py; the language test uses test_profile's
app with a tiny German catalog (its greeting is translated, the subject is not).
"""
from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select, update

from nsupdate_pyramid.api.environment import update_env
from nsupdate_pyramid.models import Host, User
from nsupdate_pyramid.services import dyndns
from tests import test_profile
from tests.conftest import AppClient
from tests.fixtures.net import free_port
from tests.fixtures.smtp import Mailbox
from tests.test_api import Router, basic, records

BAD = "198.18.0.5"  # in nsupdate.bad_ips of the test settings
FQDN = "home.example.org"
german_app = test_profile.german_app  # the fixture: the app with a tiny German catalog


@pytest.fixture
def home(make_user: Any, make_domain: Any, make_host: Any) -> tuple[Any, str]:
    alice = make_user("alice")
    make_domain("example.org", alice)
    return make_host(FQDN, alice, comment="the cellar router")


def _client(app: Any) -> AppClient:
    return AppClient(app, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "192.0.2.7"})


def _host(dbsession: Any) -> Host:
    dbsession.expire_all()
    return dbsession.scalars(select(Host).where(Host.fqdn == FQDN)).one()


def test_flagging_mails_the_owner_once_in_their_language(
        german_app: Any, mailbox: Mailbox, home: tuple[Any, str], dbsession: Any) -> None:
    mailbox.attach(german_app)
    dbsession.execute(update(User).values(language="de"))
    dbsession.commit()
    router = Router(_client(german_app), FQDN, home[1])
    assert router.update(myip="192.0.2.1").text == "good 192.0.2.1"
    assert mailbox.messages() == []  # a good update mails nobody

    answer = router.update(myip=BAD)
    assert (answer.status_int, answer.text) == (200, "abuse")
    message = mailbox.only("alice@example.org")
    assert message["Subject"] == f"[nsupdate test] Your host {FQDN} is blocked for abuse"  # no German
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = mailbox.parts(message)
    for part in (text, html):
        assert "Hallo alice," in part
        assert FQDN in part and BAD in part and "the cellar router" in part
        assert f"http://example.com/hosts/{FQDN}/" in part
    assert "<p>" in html and "<p>" not in text

    # Already blocked: refused, and no second mail (GET fast path and POST through Pyramid).
    assert router.update(myip=BAD).text == "abuse"
    assert router.update(method="POST", myip="198.18.0.6").text == "abuse"
    assert len(mailbox.messages()) == 1
    host = _host(dbsession)
    assert host.abuse and host.abuse_blocked


def test_english_owner_and_an_address_mixed_with_good_ones(
        app: Any, client: AppClient, mailbox: Mailbox, home: tuple[Any, str], dbsession: Any) -> None:
    memory = app.registry["nsupdate.dns_backends"]["memory"]
    memory.records.clear()
    router = Router(client, FQDN, home[1])
    # The bad address first: the good one after it must not publish the blocked host again.
    assert router.update(myip=f"{BAD},192.0.2.1,2001:db8::1").text == "abuse"
    assert records(memory) == [] and records(memory, rdtype="AAAA") == []
    host = _host(dbsession)
    assert host.abuse_blocked and host.published_ipv4 == "" and host.published_ipv6 == ""
    assert f"blacklisted ip address: '{BAD}'" in host.client_result_msg
    message = mailbox.only("alice@example.org")  # language "": the default, English
    assert message["Subject"] == f"[nsupdate test] Your host {FQDN} is blocked for abuse"
    text, _html = mailbox.parts(message)
    assert "Hello alice," in text and f"sent the address {BAD}" in text


def test_a_broken_smtp_server_does_not_change_the_answer(
        app: Any, client: AppClient, mailbox: Mailbox, home: tuple[Any, str], dbsession: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    dead = Mailbox(mailbox.inbox, free_port())  # nothing listens there
    dead.attach(app)
    try:
        router = Router(client, FQDN, home[1])
        with caplog.at_level(logging.ERROR, logger="nsupdate_pyramid.mail"):
            answer = router.update(myip=BAD)
            assert (answer.status_int, answer.text) == (200, "abuse")
            assert dead.messages() == []
        assert "could not send the mail" in caplog.text
        assert _host(dbsession).abuse_blocked
    finally:
        dead.detach()


def test_an_owner_without_address_gets_nothing(
        app: Any, client: AppClient, mailbox: Mailbox, home: tuple[Any, str], dbsession: Any) -> None:
    dbsession.execute(update(User).values(email=""))
    dbsession.commit()
    response = client.get("/nic/update", params={"myip": BAD}, headers=basic(FQDN, home[1]))
    assert response.text == "abuse"
    assert mailbox.messages() == []


def test_two_requests_that_read_the_host_before_either_flagged_it_mail_once(
        app: Any, client: AppClient, home: tuple[Any, str], dbsession: Any) -> None:
    """Both decide on a row that is not flagged yet; only the first write may flag (and mail),
    the second finds the row changed and answers from the fresh, blocked one."""
    env = update_env(app.registry, {"REMOTE_ADDR": "192.0.2.7", "wsgi.url_scheme": "http",
                                    "HTTP_HOST": "example.com"})
    told: list[tuple[int, str, str]] = []
    env.flagged = lambda *args: told.append(args)
    stale = dyndns._read_host(env, FQDN)
    assert stale is not None and not stale.abuse

    def attempt(updater: dyndns.HostUpdater) -> dyndns.Answer:
        return updater.run({"myip": BAD}, dyndns.UPDATE)

    for _ in range(2):
        assert dyndns._apply(env, stale, dyndns.HostChanges(stale.id), attempt).body == "abuse"
    assert told == [(stale.id, FQDN, BAD)]
    assert _host(dbsession).abuse_blocked
