"""UDP and TCP: framing, EDNS payload sizes, truncation, and surviving any input.

- UDP answers fit the client's EDNS payload size (512 bytes without EDNS); larger ones are
  truncated with TC=1, so resolvers and ``dig`` ask again over TCP.
- TCP carries zone transfers and any answer size, several queries per connection.
- A packet that does not parse gets FORMERR when its header can be read, else nothing;
  responses (QR=1) are never answered (no loops between servers). Nothing a client sends can
  stop the listener.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.tsig

from .config import ServerConfig
from .responder import TRANSFER_TYPES, refuse, respond
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

    def udp(self, data: bytes, source: str) -> bytes | None:
        query, error = self.parse(data)
        if query is None:
            return error
        try:
            response = respond(query, source, self.snapshot_of(), self.config)
            limit = max(query.payload, UDP_DEFAULT) if query.edns >= 0 else UDP_DEFAULT
            return response.to_wire(max_size=limit, prefer_truncation=True)
        except Exception:
            log.exception("failed to answer a UDP query from %s", source)
            return header_only(data, dns.rcode.SERVFAIL)

    def tcp(self, data: bytes, source: str) -> Iterator[bytes]:
        query, error = self.parse(data)
        if query is None:
            if error is not None:
                yield error
            return
        try:
            snapshot = self.snapshot_of()
            if len(query.question) == 1 and query.question[0].rdtype in TRANSFER_TYPES \
                    and query.opcode() == dns.opcode.QUERY:
                yield from transfer(query, source, snapshot, self.config)
                return
            yield respond(query, source, snapshot, self.config).to_wire(max_size=65535)
        except Exception:
            log.exception("failed to answer a TCP query from %s", source)
            answer = header_only(data, dns.rcode.SERVFAIL)
            if answer is not None:
                yield answer


class UDPListener(asyncio.DatagramProtocol):
    def __init__(self, handler: QueryHandler) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        answer = self.handler.udp(data, addr[0])
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable from a client
        log.debug("UDP error: %s", exc)


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
