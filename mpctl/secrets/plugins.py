"""Finding the installed secret sinks: the entry point group `mpctl.sinks`.

Owns discovery (once per process: `installed_sinks`), the refusal of a sink type that two
distributions declare, the message for a source tree whose own entry points were never
installed, and importing one entry point's module when its sink is first used. Must not import
a sink module before its type is asked for (vendor SDKs and third-party code stay unloaded), and
must not know the sink protocol: `mpctl.secrets.protocol` checks what an entry point names.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from mpctl.errors import SecretSinkError

ENTRY_POINT_GROUP = "mpctl.sinks"

NOT_INSTALLED_HINT = (
    "check the spelling of `type:`; a plug-in's package must be installed in the Python "
    "environment that runs mpctl (pip install PACKAGE)"
)


@dataclass(frozen=True)
class InstalledSink:
    """One `mpctl.sinks` entry point: a sink type, where its plug-in object is, who ships it."""

    type: str
    value: str
    """`module:attribute`, e.g. `mpctl.secrets.file:PLUGIN`."""
    distribution: str

    @property
    def module(self) -> str:
        return self.value.partition(":")[0].strip()

    @property
    def attribute(self) -> str:
        return self.value.partition(":")[2].strip()

    def describe(self) -> str:
        return f"{self.type} = {self.value} (from {self.distribution})"


@functools.cache
def installed_sinks() -> Mapping[str, InstalledSink]:
    """Every sink type the installed distributions declare, by type (read once per process).

    Raises `SecretSinkError` when there are none at all (mpctl's own entry points are missing)
    or when two distributions declare one type.
    """
    declared = _by_type(entry_points(group=ENTRY_POINT_GROUP))
    if not declared:
        raise SecretSinkError(
            "mpctl is not installed (pip install -e .): no secret sink is registered in the "
            f"entry point group {ENTRY_POINT_GROUP}, not even mpctl's own",
            hint="install mpctl into the Python environment that runs it (`pip install -e .` "
            "in a checkout, `pip install mpctl` otherwise); a source tree on PYTHONPATH alone "
            "has no entry points",
        )
    return {name: _one_per_type(name, found) for name, found in sorted(declared.items())}


def _by_type(found: tuple[EntryPoint, ...] | list[EntryPoint]) -> dict[str, list[InstalledSink]]:
    declared: dict[str, list[InstalledSink]] = {}
    for entry in found:
        distribution = entry.dist.name if entry.dist is not None else "an unknown distribution"
        sink = InstalledSink(entry.name, entry.value, distribution)
        if all(other.distribution != distribution for other in declared.get(entry.name, [])):
            declared.setdefault(entry.name, []).append(sink)
    return declared


def _one_per_type(name: str, found: list[InstalledSink]) -> InstalledSink:
    if len(found) == 1:
        return found[0]
    both = " and ".join(sorted(f"{sink.distribution} ({sink.value})" for sink in found))
    raise SecretSinkError(
        f"the secret sink type {name!r} is declared by more than one distribution: {both}",
        hint="uninstall one of them (pip uninstall NAME): mpctl will not guess which store "
        "holds the keys",
    )


def load_installed(sink: InstalledSink) -> object | None:
    """Import `sink`'s module and return what its entry point names (None if it names nothing:
    a module that registers itself by assignment, the way before plug-ins)."""
    try:
        module = importlib.import_module(sink.module)
    except Exception as exc:  # a plug-in's import-time failure, whatever it is
        raise SecretSinkError(
            f"the secret sink {sink.describe()} cannot be loaded: {type(exc).__name__}: {exc}",
            hint="reinstall or upgrade the package that provides it",
        ) from exc
    return getattr(module, sink.attribute, None) if sink.attribute else module
