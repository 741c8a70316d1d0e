"""The built-in authoritative nameserver for the zones of the ``builtin`` backend.

One job per module:

- :mod:`.config`: the ``nameserver.*`` settings as DNS objects (SOA values, keys, addresses);
- :mod:`.zonedata`: the in-memory copy of the zones (what queries are answered from);
- :mod:`.source`: reading zones from the database (blocking; run in a worker thread);
- :mod:`.refresher`: polls the serials, patches changed zones (or reloads them whole);
  survives database outages;
- :mod:`.responder`: one query in, one answer out (pure, no I/O);
- :mod:`.transfer`: AXFR/IXFR answers and who may have them;
- :mod:`.notify`: NOTIFY to secondaries after each change, with retries;
- :mod:`.listeners`: the UDP and TCP sockets (EDNS payload sizes, truncation, framing);
- :mod:`.server`: puts these together, in the foreground or in a background thread.

No query touches the database: answers come from the copy. When a zone's serial moves, the
names changed since are read in a worker thread and patched in on the event loop between two
queries; a zone loaded whole is swapped in with one reference swap. Either way no query sees a
half-loaded zone.
"""
from __future__ import annotations

from .server import Nameserver, NameserverError, ThreadedNameserver, start_embedded

__all__ = ["Nameserver", "NameserverError", "ThreadedNameserver", "start_embedded"]
