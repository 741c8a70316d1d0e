"""The fast path: answers to ordinary questions kept as ready wire bytes, keyed by the question.

dnspython needs about 100 µs to parse a query and write an answer; a Python server that does
that for every query manages a few thousand a second. Most queries are the same few questions
over and over, so the first answer to each is kept, and later ones are served by copying:

- the key is the question as it travels (name lower-cased, type, class), the EDNS state (none,
  or the payload size and the OPT flags, DO included), the RD bit and the transport (UDP answers
  may be truncated, TCP ones never);
- a hit is the query's own id and question bytes (so the name keeps the case it was sent in,
  which DNS 0x20 clients check) around the kept header flags and sections. Names in the kept
  answer are compression pointers into the question, so they take its case too.

The header and question are read by hand with ``struct``; anything unusual goes the full
dnspython way and is not kept: another opcode, more than one question, records in the query
(TSIG), EDNS options other than a cookie (ECS, padding), EDNS versions other than 0, meta types
(AXFR, IXFR), other classes, trailing bytes. Answers that depend on the client's address (names
with a LAN value) are never kept. The cache is emptied whenever the snapshot is replaced (a
zone loaded whole) and when it is full (a flood of random names cannot grow it past ``limit``).
When a zone is patched in place, only the answers that may have changed are dropped: those for
the changed names, and those carrying the zone's SOA (negative answers and the apex's SOA),
whose serial moved; a busy zone's other 10 000 hot answers stay.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable

COUNTS = struct.Struct("!HHHH")
SHORT = struct.Struct("!H")
HEADER = 12
OPT = 41
COOKIE = 10
MAX_NAME = 255
FLAGS = (b"\x00", b"\x01", b"\x02", b"\x03")
#: Answers kept at most (about 200 bytes each, key included).
LIMIT = 20_000


def question_key(data: bytes, tcp: bool) -> tuple[bytes, int] | None:
    """(key, end of the question) for an ordinary query; None: take the slow path."""
    size = len(data)
    if size < HEADER + 5 or data[2] & 0xF8:  # QR set or an opcode other than QUERY
        return None
    qdcount, ancount, nscount, arcount = COUNTS.unpack_from(data, 4)
    if qdcount != 1 or ancount or nscount or arcount > 1:
        return None
    position = HEADER
    length = data[position]
    while length:
        if length > 63:  # a compression pointer or an extended label type
            return None
        position += length + 1
        if position >= size:
            return None
        length = data[position]
    name_end = position + 1
    end = name_end + 4
    if name_end - HEADER > MAX_NAME or end > size:
        return None
    qtype = SHORT.unpack_from(data, name_end)[0]
    if 128 <= qtype < 255 or data[name_end + 2:end] != b"\x00\x01":  # meta types; class IN only
        return None
    if not arcount:
        if end != size:
            return None
        edns = b"\x00"
    else:
        # OPT: root name, type 41, class = payload size, TTL = extended rcode, version, flags.
        rdata = end + 11
        if rdata > size or data[end] or SHORT.unpack_from(data, end + 1)[0] != OPT or data[end + 5] \
                or data[end + 6] or rdata + SHORT.unpack_from(data, end + 9)[0] != size:
            return None
        while rdata < size:  # options: only a cookie, which our answers do not depend on
            if rdata + 4 > size or SHORT.unpack_from(data, rdata)[0] != COOKIE:
                return None
            rdata += 4 + SHORT.unpack_from(data, rdata + 2)[0]
        if rdata != size:
            return None
        edns = b"\x01" + data[end + 3:end + 9]
    flags = (data[2] & 1) | (2 if tcp else 0)  # RD, transport
    return data[HEADER:name_end].lower() + data[name_end:end] + edns + FLAGS[flags], end


def patch(query: bytes, answer: bytes, end: int) -> bytes:
    """A kept answer for this query: its id and its question as sent (case included)."""
    return query[:2] + answer[2:HEADER] + query[HEADER:end] + answer[end:]


class AnswerCache:
    """Kept answers of one snapshot; a new snapshot (a zone loaded whole) starts empty.

    Besides the answers (read on every query) two indexes, written only when an answer is kept
    and read only when a zone is patched: the keys by question name, and the keys of answers
    that carry a SOA, by question name.
    """

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.answers: dict[bytes, bytes] = {}
        self.by_name: dict[bytes, list[bytes]] = {}
        self.with_soa: dict[bytes, bytes] = {}
        self.snapshot: object = None

    def current(self, snapshot: object) -> dict[bytes, bytes]:
        """The answers kept for ``snapshot`` (emptied when it is not the one they came from)."""
        if snapshot is not self.snapshot:
            self.clear()
            self.snapshot = snapshot
        return self.answers

    def clear(self) -> None:
        self.answers = {}
        self.by_name = {}
        self.with_soa = {}

    def keep(self, key: bytes, end: int, wire: bytes, soa: bool = False) -> None:
        """Keep ``wire`` if it answers exactly the question of ``key`` (same length and name);
        ``soa``: it carries the zone's SOA (so its serial), in any section."""
        if len(self.answers) >= self.limit:
            self.clear()
        name_end = end - 4
        name = key[:name_end - HEADER]
        if len(wire) >= end and wire[4:6] == b"\x00\x01" and wire[HEADER:name_end].lower() == name:
            if key not in self.answers:
                self.by_name.setdefault(name, []).append(key)
            self.answers[key] = wire
            if soa:
                self.with_soa[key] = name

    def forget(self, origin_wire: bytes, keys: Iterable[bytes], everything: bool = False) -> None:
        """A zone was patched: drop the answers for its changed names (``keys`` relative to
        ``origin_wire``, as in the zone data) and those carrying its SOA; ``everything``: all."""
        if everything:
            self.clear()
            return
        answers, by_name, with_soa = self.answers, self.by_name, self.with_soa
        for key in keys:
            for kept in by_name.pop(key + origin_wire, ()):
                answers.pop(kept, None)
                with_soa.pop(kept, None)
        stale = [(kept, name) for kept, name in with_soa.items() if name.endswith(origin_wire)]
        for kept, name in stale:
            answers.pop(kept, None)
            del with_soa[kept]
            same_name = by_name.get(name)
            if same_name is not None:
                same_name.remove(kept)
                if not same_name:
                    del by_name[name]
