"""The read side: what Digdir and the secret sinks hold now, for `plan`, `apply` and `verify`.

Public API of the package. Reading only: nothing here writes to Digdir or to a sink, and
nothing here decides what to change.
"""

from mpctl.state.inventory import build_inventory, read_inventory
from mpctl.state.snapshot import Snapshot, observe, open_sinks

__all__ = [
    "Snapshot",
    "build_inventory",
    "observe",
    "open_sinks",
    "read_inventory",
]
