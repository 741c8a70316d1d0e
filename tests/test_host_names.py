"""Host and domain names: validation, normalisation and the blacklists."""
from __future__ import annotations

from typing import Any

import pytest

from nsupdate_pyramid.models import BlacklistedHost
from nsupdate_pyramid.services import hosts as host_service
from nsupdate_pyramid.services.errors import AlreadyExists, InvalidValue, NotFound
from nsupdate_pyramid.services.names import check_domain_name, check_host_label


@pytest.mark.parametrize(("given", "expected"), [("Home", "home"), ("a-b-1", "a-b-1"), ("x", "x"),
                                                 ("a" * 63, "a" * 63)])
def test_valid_host_labels(given: str, expected: str) -> None:
    assert check_host_label(given) == expected


@pytest.mark.parametrize("bad", ["", "-a", "a-", "a_b", "a.b", "a b", "ä", "a" * 64])
def test_invalid_host_labels(bad: str) -> None:
    with pytest.raises(InvalidValue):
        check_host_label(bad)


@pytest.mark.parametrize(("given", "expected"), [("Example.ORG.", "example.org"),
                                                 ("_srv.example.org", "_srv.example.org")])
def test_valid_domains(given: str, expected: str) -> None:
    assert check_domain_name(given) == expected


@pytest.mark.parametrize("bad", ["org", "foo..bar.com", "-a.org", "a b.org", "x" * 64 + ".org", ""])
def test_invalid_domains(bad: str) -> None:
    with pytest.raises(InvalidValue):
        check_domain_name(bad)


def test_blacklists_from_table_and_ini(dbsession: Any, make_user: Any, make_domain: Any) -> None:
    alice = make_user("alice")
    make_domain("example.org", alice)
    dbsession.add(BlacklistedHost(name_re="^www$"))
    dbsession.commit()
    with pytest.raises(InvalidValue, match="not allowed"):
        host_service.create_host(dbsession, "www.example.org", alice)
    with pytest.raises(InvalidValue, match="not allowed"):
        host_service.create_host(dbsession, "mail-1.example.org", alice, blacklist=("^mail",))
    host, _ = host_service.create_host(dbsession, "wwwx.example.org", alice, blacklist=("^mail",))
    assert host.fqdn == "wwwx.example.org"


def test_duplicates_and_unknown_domains(dbsession: Any, make_user: Any, make_domain: Any) -> None:
    alice = make_user("alice")
    make_domain("example.org", alice)
    host_service.create_host(dbsession, "Home.Example.org.", alice)
    with pytest.raises(AlreadyExists):
        host_service.create_host(dbsession, "home.example.org", alice)
    with pytest.raises(NotFound):
        host_service.create_host(dbsession, "home.example.net", alice)
    with pytest.raises(InvalidValue):
        host_service.create_host(dbsession, "localhost", alice)
