"""Private keys for verify, loaded from their secret sink once per process.

Owns `current_key`: a client's current key, read through its sink (which parses it and checks
that its members fit together, `mpctl.secrets.keys`) the first time, and kept under the client,
the kid and the thumbprint its labels record (a thumbprint names one key pair, whichever sink
holds it). A key the labels no longer name (rotated, replaced) is never returned: its kid or
thumbprint differs, so it is loaded afresh. Keys stay in memory only, as `PrivateKey`s (no repr
of key material); nothing here writes, logs or prints, and the memo is bounded.
"""

from __future__ import annotations

from mpctl.model import KeySlot
from mpctl.secrets import PrivateKey, SecretSink

MAX_KEYS = 4096
"""More clients than any one project has; past it the oldest key is dropped first."""

_loaded: dict[tuple[str, str, str], PrivateKey] = {}


async def current_key(sink: SecretSink, client: str, slot: KeySlot) -> PrivateKey:
    """The key in `slot` of `client`'s sink, parsed at most once per process."""
    name = (client, slot.kid, slot.thumbprint)
    found = _loaded.get(name)
    if found is None:
        found = await sink.load_private_key(client, slot.kid)
        if found.thumbprint != slot.thumbprint:
            return found  # the sink changed under us: use what it holds now, keep nothing
        while len(_loaded) >= MAX_KEYS:
            del _loaded[next(iter(_loaded))]
        _loaded[name] = found
    return found


def forget_keys() -> None:
    """Drop every memoised key (tests; a long-lived caller that wants them out of memory)."""
    _loaded.clear()
