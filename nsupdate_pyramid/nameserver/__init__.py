"""The built-in authoritative nameserver for the zones of the ``builtin`` backend.

One job per module:

- :mod:`.config`: the ``nameserver.*`` settings as DNS objects (SOA values, keys, addresses);
- :mod:`.zonedata`: an immutable in-memory copy of the zones (what queries are answered from);
- :mod:`.source`: reading zones from the database (blocking; run in a worker thread);
- :mod:`.refresher`: polls the serials and swaps in reloaded zones; survives database outages;
- :mod:`.responder`: one query in, one answer out (pure, no I/O);
- :mod:`.transfer`: AXFR/IXFR answers and who may have them;
- :mod:`.notify`: NOTIFY to secondaries after each change, with retries;
- :mod:`.listeners`: the UDP and TCP sockets (EDNS payload sizes, truncation, framing);
- :mod:`.server`: puts these together, in the foreground or in a background thread.

No query touches the database: answers come from the copy, which is replaced whole (one
reference swap) when a zone's serial moves, so readers never see a half-loaded zone.
"""
from __future__ import annotations

from .server import Nameserver, NameserverError, ThreadedNameserver, start_embedded

__all__ = ["Nameserver", "NameserverError", "ThreadedNameserver", "start_embedded"]
