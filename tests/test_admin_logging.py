"""Structured log lines: one per update-API answer and per admin change, and no secret in any
log line of a run of API requests (the secrets they used are grepped for in the captured logs)."""
from __future__ import annotations

import base64
import logging
import re
from typing import Any

import pytest

from tests.conftest import PASSWORD, AppClient

WRONG_SECRET = "not-the-secret-7f3a"  # a secret the log must not show


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def updates(client: AppClient, make_user: Any, make_domain: Any, make_host: Any,
            app: Any, caplog: pytest.LogCaptureFixture) -> tuple[str, str]:
    """Every kind of API request, with everything logged down to DEBUG captured."""
    app.registry["nsupdate.dns_backends"]["memory"].records.clear()
    alice = make_user("alice")
    make_domain("example.org", alice)
    _host, secret = make_host("home.example.org", alice)
    caplog.set_level(logging.DEBUG)
    agent = {"User-Agent": "test-router/1.0"}
    client.get("/nic/update", {"myip": "192.0.2.1"},
               headers={**_basic("home.example.org", secret), **agent})
    client.get("/nic/update", {"myip": "192.0.2.1"},
               headers={**_basic("home.example.org", secret), **agent})
    client.get("/nic/update", {"myip": "192.0.2.2"},
               headers={**_basic("home.example.org", WRONG_SECRET), **agent}, expect_errors=True)
    client.post("/nic/update", {"myip": "192.0.2.3"},
                headers={**_basic("home.example.org", secret), **agent})
    client.post("/dynamicdns/update/home.example.org/", {"key": secret, "ip": "192.0.2.4"})
    client.get("/nic/update", headers={"Authorization": "Basic !!!"}, expect_errors=True)
    client.login("alice")
    return secret, caplog.text


def test_one_line_per_update_answer(updates: tuple[str, str]) -> None:
    _secret, text = updates
    lines = [line for line in text.splitlines() if "update fqdn=" in line]
    assert len(lines) == 6, lines
    first = lines[0]
    assert "fqdn=home.example.org result='good 192.0.2.1' status=200 client=192.0.2.7 tls=no" in first
    assert "agent='test-router/1.0'" in first and re.search(r"ms=\d+\.\d", first)
    assert "result='nochg 192.0.2.1'" in lines[1]
    assert "result='badauth' status=401" in lines[2]
    assert "result='good 192.0.2.3'" in lines[3]  # POST: through the Pyramid view
    assert "fqdn=home.example.org result='good 192.0.2.4'" in lines[4]  # key URL
    assert "fqdn=- result='badauth'" in lines[5]


def test_no_secret_in_any_log_line(updates: tuple[str, str], settings: dict[str, str]) -> None:
    secret, text = updates
    for value in (secret, WRONG_SECRET, PASSWORD, settings["session.secret"]):
        assert value not in text
    # Nor their base64 (an Authorization header written out would show them so).
    assert base64.b64encode(f"home.example.org:{secret}".encode()).decode() not in text


def test_admin_change_is_logged(client: AppClient, make_user: Any,
                                caplog: pytest.LogCaptureFixture) -> None:
    make_user("root", admin=True)
    bob = make_user("bob")
    client.login("root")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/users/").text)
    caplog.set_level(logging.INFO, logger="nsupdate_pyramid.audit")
    client.post("/admin/users/bulk", {"csrf_token": token.group(1), "action": "deactivate",
                                      "ids": [str(bob.id)]})
    lines = [r.getMessage() for r in caplog.records if r.name == "nsupdate_pyramid.audit"]
    assert lines == ["admin action=bulk deactivate kind=users target=bob actor=root "
                     "detail=is_active = False; rows: 1"]


def test_update_lines_are_written_by_a_background_thread(tmp_path: Any, settings: dict[str, str]) -> None:
    """nsupdate.update_log_queue: the request only queues the record; the lines reach the
    handlers the logging configuration gave the logger (here a file on the root logger), in
    order, formatted there, with the request thread's name; other loggers are untouched."""
    import threading

    import webtest

    from nsupdate_pyramid import main
    from nsupdate_pyramid.api.updatelog import log as update_log
    from nsupdate_pyramid.api.updatelog import unqueue_update_log
    from nsupdate_pyramid.models import get_engine
    from tests.conftest import seed_home_host

    url = f"sqlite:///{tmp_path / 'queued.sqlite'}"
    engine = get_engine({"sqlalchemy.url": url})
    secret = seed_home_host(engine)
    engine.dispose()
    root = logging.getLogger()
    handler = logging.FileHandler(tmp_path / "updates.log")
    handler.setFormatter(logging.Formatter("%(threadName)s %(name)s %(message)s"))
    saved = (update_log.handlers[:], update_log.propagate, update_log.level, root.handlers[:], root.level)
    root.handlers, root.level = [handler], logging.WARNING
    update_log.handlers, update_log.propagate = [], True
    update_log.setLevel(logging.INFO)
    try:
        app = main({}, **{**settings, "sqlalchemy.url": url, "nsupdate.update_log_queue": "true"})
        assert not update_log.propagate and len(update_log.handlers) == 1
        client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "192.0.2.7"})
        caller = threading.current_thread().name
        for address in ("192.0.2.1", "192.0.2.1", "192.0.2.2"):
            client.get("/nic/update", {"myip": address}, headers=_basic("home.example.org", secret))
        logging.getLogger("nsupdate_pyramid.other").warning("direct line")
        unqueue_update_log()  # as at exit: everything queued is written
        assert update_log.handlers == [] and update_log.propagate
    finally:
        unqueue_update_log()
        update_log.handlers, update_log.propagate, level, root.handlers, root.level = saved
        update_log.setLevel(level)
        handler.close()
    lines = (tmp_path / "updates.log").read_text().splitlines()
    updates = [line for line in lines if "update fqdn=" in line]
    assert [line.split("result=")[1].split(" ")[0:2] for line in updates] == [
        ["'good", "192.0.2.1'"], ["'nochg", "192.0.2.1'"], ["'good", "192.0.2.2'"]]
    assert all(line.startswith(f"{caller} nsupdate_pyramid.updates ") for line in updates)
    assert f"{caller} nsupdate_pyramid.other direct line" in lines  # written directly, as before


def test_batch_writer_respects_each_handlers_level_and_kind() -> None:
    """One write per batch for a plain stream; any other handler gets handle() per record;
    each handler's level and filters decide what it gets."""
    import io
    import logging.handlers
    import queue

    from nsupdate_pyramid.api.updatelog import BatchWriter

    stream = io.StringIO()
    plain = logging.StreamHandler(stream)
    plain.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    plain.setLevel(logging.WARNING)
    other = logging.handlers.BufferingHandler(capacity=100)
    other.addFilter(lambda record: "skip" not in record.getMessage())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    for level, message in ((logging.INFO, "one"), (logging.WARNING, "two"), (logging.ERROR, "skip me")):
        records.put(logging.LogRecord("nsupdate_pyramid.updates", level, __file__, 1, message, None, None))
    BatchWriter(records, [plain, other]).write_queued()
    assert stream.getvalue() == "WARNING two\nERROR skip me\n"
    assert [record.getMessage() for record in other.buffer] == ["one", "two"]
    assert records.empty()
