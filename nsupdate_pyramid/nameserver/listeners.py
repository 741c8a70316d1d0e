"""UDP and TCP: framing, EDNS payload sizes, truncation, and surviving any input.

- UDP answers fit the client's EDNS payload size (512 bytes without EDNS); larger ones are
  truncated with TC=1, so resolvers and ``dig`` ask again over TCP.
- TCP carries zone transfers and any answer size, several queries per connection.
- Ordinary questions are answered from kept wire bytes when they were asked before
  (:mod:`.fastpath`); everything else, and every first time, through dnspython.
- UDP sockets are read straight from the event loop, many datagrams per wake-up.
- A packet that does not parse gets FORMERR when its header can be read, else nothing;
  responses (QR=1) are never answered (no loops between servers). Nothing a client sends can
  stop the listener.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.tsig

from .config import ServerConfig
from .fastpath import AnswerCache, patch, question_key
from .responder import TRANSFER_TYPES, refuse, respond_keyed
from .transfer import transfer
from .zonedata import Snapshot

log = logging.getLogger(__name__)

HEADER = 12
QR = 0x80
UDP_DEFAULT = 512
TCP_IDLE_TIMEOUT = 10.0
TCP_MAX_QUERIES = 1000
TSIG_FAILURES = (dns.message.UnknownTSIGKey, dns.tsig.BadSignature, dns.tsig.BadTime,
                 dns.tsig.BadKey, dns.tsig.BadAlgorithm, dns.tsig.PeerError)


def carries_soa(response: dns.message.Message) -> bool:
    """Whether the answer holds a SOA (so the zone's serial): dropped when the serial moves."""
    return any(rrset.rdtype == dns.rdatatype.SOA for rrset in (*response.answer, *response.authority))


def header_only(data: bytes, rcode: int) -> bytes | None:
    """A bare answer with the query's id and opcode, for what cannot be parsed."""
    if len(data) < HEADER or data[2] & QR:
        return None
    return data[:2] + bytes([QR | (data[2] & 0x78), rcode]) + bytes(8)


class QueryHandler:
    """Turns request bytes into answer bytes, from the snapshot ``snapshot_of()`` returns."""

    def __init__(self, config: ServerConfig, snapshot_of: Callable[[], Snapshot]) -> None:
        self.config = config
        self.snapshot_of = snapshot_of
        # Signed requests are checked against the transfer key; without one TSIG is ignored.
        self.keyring = config.axfr_keyring if config.axfr_keyring is not None else False
        self.cache = AnswerCache()

    def parse(self, data: bytes) -> tuple[dns.message.Message | None, bytes | None]:
        """(query, None), or (None, the error answer to send or None to stay silent)."""
        if len(data) < HEADER or data[2] & QR:
            return None, None
        try:
            query = dns.message.from_wire(data, keyring=self.keyring)
        except TSIG_FAILURES:
            return None, self._notauth(data)
        except Exception:  # malformed in any of the many ways: FORMERR, never a crash
            return None, header_only(data, dns.rcode.FORMERR)
        if self.keyring is False:
            query.tsig = None  # not checked, so not signed back either
        return query, None

    def _notauth(self, data: bytes) -> bytes | None:
        """NOTAUTH with the question (clients match answers by it), unsigned: we cannot sign
        with a key we do not share."""
        try:
            query = dns.message.from_wire(data, keyring=False)
        except Exception:
            return header_only(data, dns.rcode.NOTAUTH)
        query.tsig = None
        return refuse(query, dns.rcode.NOTAUTH).to_wire()

    def kept(self, data: bytes, tcp: bool) -> tuple[Snapshot, tuple[bytes, int] | None, bytes | None]:
        """(the snapshot to answer from, the fast path's key or None, the kept answer or None)."""
        snapshot = self.snapshot_of()
        answers = self.cache.current(snapshot)
        question = question_key(data, tcp)
        if question is not None:
            kept = answers.get(question[0])
            if kept is not None:
                return snapshot, question, patch(data, kept, question[1])
        return snapshot, question, None

    def udp(self, data: bytes, source: str) -> bytes | None:
        snapshot, question, kept = self.kept(data, False)
        if kept is not None:
            return kept
        query, error = self.parse(data)
        if query is None:
            return error
        try:
            response, varies = respond_keyed(query, source, snapshot, self.config)
            limit = max(query.payload, UDP_DEFAULT) if query.edns >= 0 else UDP_DEFAULT
            wire = response.to_wire(max_size=limit, prefer_truncation=True)
        except Exception:
            log.exception("failed to answer a UDP query from %s", source)
            return header_only(data, dns.rcode.SERVFAIL)
        if question is not None and not varies:
            self.cache.keep(question[0], question[1], wire, carries_soa(response))
        return wire

    def tcp(self, data: bytes, source: str) -> Iterator[bytes]:
        snapshot, question, kept = self.kept(data, True)
        if kept is not None:
            yield kept
            return
        query, error = self.parse(data)
        if query is None:
            if error is not None:
                yield error
            return
        try:
            if len(query.question) == 1 and query.question[0].rdtype in TRANSFER_TYPES \
                    and query.opcode() == dns.opcode.QUERY:
                yield from transfer(query, source, snapshot, self.config)
                return
            response, varies = respond_keyed(query, source, snapshot, self.config)
            wire = response.to_wire(max_size=65535)
        except Exception:
            log.exception("failed to answer a TCP query from %s", source)
            answer = header_only(data, dns.rcode.SERVFAIL)
            if answer is not None:
                yield answer
            return
        if question is not None and not varies:
            self.cache.keep(question[0], question[1], wire, carries_soa(response))
        yield wire


class UDPListener:
    """One UDP socket, read directly from the event loop: every wake-up drains up to ``BATCH``
    datagrams (asyncio's datagram transport reads one per loop iteration, and the loop's own
    overhead per packet then costs more than answering it)."""

    BATCH = 64
    RECEIVE_BUFFER = 4 << 20  # asked for; the kernel caps it at net.core.rmem_max

    def __init__(self, handler: QueryHandler, sock: socket.socket) -> None:
        self.handler = handler
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self._backlog: collections.deque[tuple[bytes, Any]] = collections.deque()
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RECEIVE_BUFFER)
        self.loop.add_reader(sock, self._readable)

    def get_extra_info(self, name: str) -> Any:
        return self.sock.getsockname() if name == "sockname" else None

    def _readable(self) -> None:
        receive, answer = self.sock.recvfrom, self.handler.udp
        for _ in range(self.BATCH):
            try:
                data, addr = receive(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable from a client
                log.debug("UDP error: %s", exc)
                continue
            response = answer(data, addr[0])
            if response is not None:
                self._send(response, addr)

    def _send(self, response: bytes, addr: Any) -> None:
        if not self._backlog:
            try:
                self.sock.sendto(response, addr)
                return
            except (BlockingIOError, InterruptedError):
                self.loop.add_writer(self.sock, self._writable)
            except OSError as exc:
                log.debug("UDP send to %s: %s", addr, exc)
                return
        if len(self._backlog) < 4096:
            self._backlog.append((response, addr))

    def _writable(self) -> None:
        while self._backlog:
            response, addr = self._backlog[0]
            try:
                self.sock.sendto(response, addr)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("UDP send to %s: %s", addr, exc)
            self._backlog.popleft()
        self.loop.remove_writer(self.sock)

    def close(self) -> None:
        self.loop.remove_reader(self.sock)
        self.loop.remove_writer(self.sock)
        self.sock.close()


def tcp_client_handler(handler: QueryHandler) -> Callable[..., Awaitable[None]]:
    """asyncio's client_connected_cb: one connection, any number of framed queries."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = peer[0] if peer else ""
        try:
            for _ in range(TCP_MAX_QUERIES):
                length = int.from_bytes(
                    await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT), "big")
                data = await asyncio.wait_for(reader.readexactly(length), TCP_IDLE_TIMEOUT)
                for wire in handler.tcp(data, source):
                    writer.write(len(wire).to_bytes(2, "big") + wire)
                    await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    return serve
