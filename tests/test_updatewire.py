"""The hand-made UPDATE wire format (dns/updatewire.py) checked against dnspython both ways,
and the rfc2136 backend's use of it against the real servers."""
from __future__ import annotations

import base64
import struct
import time
import uuid
from typing import Any

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.tsig
import dns.tsigkeyring
import pytest

from nsupdate_pyramid.dns import updatewire
from nsupdate_pyramid.dns.rfc2136 import RFC2136Backend
from nsupdate_pyramid.dns.zone import ZoneInfo

SECRET = base64.b64encode(b"k" * 32).decode()
ZONE = dns.name.from_text("DDNS.test.")
SERVERS = {"bind": "bind_server", "pdns": "pdns_server", "knot": "knot_server"}


def keyring(algorithm: dns.name.Name) -> tuple[dict[Any, Any], dns.name.Name]:
    ring = dns.tsigkeyring.from_text({"Update-Key.": (algorithm.to_text(), SECRET)})
    (name,) = ring
    return ring, name


def changes() -> list[updatewire.RRsetChange]:
    a = dns.rdtypes.IN.A.A(dns.rdataclass.IN, dns.rdatatype.A, "192.0.2.1")
    aaaa = dns.rdtypes.IN.AAAA.AAAA(dns.rdataclass.IN, dns.rdatatype.AAAA, "2001:db8::1")
    txt = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [b"hello world"])

    def owner(label: str) -> bytes:
        return dns.name.from_text(label, ZONE).to_wire()

    return [updatewire.RRsetChange(owner("Home"), 1, 60, (a.to_digestable(),)),
            updatewire.RRsetChange(owner("home"), 28, 60, (aaaa.to_digestable(),)),
            updatewire.RRsetChange(owner("txt"), 16, 5, (txt.to_digestable(),)),
            updatewire.RRsetChange(owner("gone"), 1, 0, ())]


def signed_answer(request: updatewire.Request, ring: Any, name: Any, rcode: int = 0,
                  signing_ring: Any = None) -> bytes:
    """The answer a server would send, signed (by default with the request's own key)."""
    parsed = dns.message.from_wire(request.wire, keyring=ring)
    answer = dns.message.make_response(parsed)
    answer.set_rcode(rcode)
    answer.use_tsig(signing_ring or ring, keyname=name)
    return answer.to_wire()


@pytest.mark.parametrize("algorithm", list(updatewire.HASHES), ids=str)
def test_dnspython_reads_and_verifies_our_request(algorithm: dns.name.Name) -> None:
    ring, name = keyring(algorithm)
    request = updatewire.render(ZONE, changes(), updatewire.SigningKey.from_dnspython(ring[name]))
    parsed = dns.message.from_wire(request.wire, keyring=ring)  # raises on a bad MAC
    assert parsed.had_tsig and parsed.id == request.id
    assert parsed.opcode() == dns.opcode.UPDATE
    assert parsed.zone[0].name == ZONE and parsed.zone[0].rdtype == dns.rdatatype.SOA
    text = [rrset.to_text() for rrset in parsed.update]
    assert text == ["Home.DDNS.test. ANY A", "Home.DDNS.test. 60 IN A 192.0.2.1",
                    "home.DDNS.test. ANY AAAA", "home.DDNS.test. 60 IN AAAA 2001:db8::1",
                    "txt.DDNS.test. ANY TXT", 'txt.DDNS.test. 5 IN TXT "hello world"',
                    "gone.DDNS.test. ANY A"]


@pytest.mark.parametrize("algorithm", list(updatewire.HASHES), ids=str)
def test_we_verify_dnspythons_answers(algorithm: dns.name.Name) -> None:
    ring, name = keyring(algorithm)
    request = updatewire.render(ZONE, changes(), updatewire.SigningKey.from_dnspython(ring[name]))
    assert updatewire.quick_rcode(request, signed_answer(request, ring, name)) == 0
    assert updatewire.quick_rcode(request, signed_answer(request, ring, name, dns.rcode.REFUSED)) \
        == dns.rcode.REFUSED


def test_anything_doubtful_is_left_to_dnspython() -> None:
    ring, name = keyring(dns.tsig.HMAC_SHA256)
    key = updatewire.SigningKey.from_dnspython(ring[name])
    request = updatewire.render(ZONE, changes(), key)
    good = signed_answer(request, ring, name)
    for position in (3, 20, len(good) - 8, len(good) - 1):  # flags, zone, MAC, other data
        tampered = bytearray(good)
        tampered[position] ^= 0x41
        assert updatewire.quick_rcode(request, bytes(tampered)) is None, position
    other_secret = base64.b64encode(b"x" * 32).decode()
    other_key = dns.tsigkeyring.from_text({"update-key.": ("hmac-sha256.", other_secret)})
    assert updatewire.quick_rcode(request, signed_answer(request, ring, name,
                                                         signing_ring=other_key)) is None
    unsigned = dns.message.make_response(dns.message.from_wire(request.wire, keyring=ring))
    unsigned.tsig = None
    assert updatewire.quick_rcode(request, unsigned.to_wire()) is None  # must be signed
    truncated = bytearray(good)
    truncated[2] |= 0x02  # TC
    assert updatewire.quick_rcode(request, bytes(truncated)) is None
    other_id = struct.pack("!H", request.id ^ 1) + good[2:]
    assert updatewire.quick_rcode(request, other_id) is None
    assert updatewire.quick_rcode(request, good[:40]) is None
    assert updatewire.quick_rcode(request, b"") is None
    # Signed too long ago: the clock check applies.
    assert updatewire.quick_rcode(request, good, now=time.time() + 3600) is None


def test_unsigned_requests_and_answers() -> None:
    request = updatewire.render(ZONE, changes(), None)
    parsed = dns.message.from_wire(request.wire)
    assert not parsed.had_tsig and len(parsed.update) == 7
    answer = dns.message.make_response(parsed)
    assert updatewire.quick_rcode(request, answer.to_wire()) == 0
    answer.set_rcode(dns.rcode.NOTAUTH)
    assert updatewire.quick_rcode(request, answer.to_wire()) == dns.rcode.NOTAUTH


class FastPathSpy(RFC2136Backend):
    """Records what the fast wire path answered: an RCODE, or None (dnspython took over)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast: list[int | None] = []

    def _send_update_fast(self, *args: Any) -> int | None:
        rcode = super()._send_update_fast(*args)
        self.fast.append(rcode)
        return rcode


@pytest.mark.parametrize("server_name", SERVERS.values())
def test_real_servers_take_our_updates_on_the_fast_path(request: pytest.FixtureRequest,
                                                        server_name: str) -> None:
    server = request.getfixturevalue(server_name)
    backend = FastPathSpy.create_service("rfc2136", {"timeout": "2"})
    zone = ZoneInfo(name=server.zone, nameserver=server.host, port=server.port,
                    tsig_key_name=server.key_name, tsig_algorithm=server.algorithm,
                    tsig_secret=server.secret)
    label = f"fast-{uuid.uuid4().hex[:10]}"
    backend.update(zone, label, "A", ["192.0.2.44"])
    backend.update(zone, label, "TXT", ["fast path"])
    backend.delete(zone, label, "TXT")
    assert backend.fast == [0, 0, 0]
    assert server.query(f"{label}.{server.zone}", "A") == ["192.0.2.44"]
    assert server.query(f"{label}.{server.zone}", "TXT") == []
