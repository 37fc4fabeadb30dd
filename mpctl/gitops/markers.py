"""Hidden markers: how mpctl finds its own comment or issue again and what it remembers there.

A marker is the first line of a body mpctl writes: `<!-- mpctl:<kind> project=<p> env=<e>
key=value … -->`. `kind`, `project` and `env` are its identity (one sticky comment per kind,
project and environment); the other fields are data (the plan's head sha and step digest, the
run and artifact the plan job saved its plan in, when drift was first seen). A reader ignores
fields it does not know and copes with fields an older mpctl did not write. Values are
percent-encoded, so no value can end the comment or forge another field. GitHub does not render
HTML comments, and a body mpctl composes never has another line starting with `<!--` (prose
escapes `<`). Must not do I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

PLAN = "plan"
APPLY = "apply"
DRIFT = "drift"

_LINE = re.compile(r"<!-- mpctl:([a-z][a-z-]*)((?: [a-z][a-z_]*=[^ ]*)*) -->")
_FIELD = re.compile(r" ([a-z][a-z_]*)=([^ ]*)")
_SAFE = "/:@._+,~="


@dataclass(frozen=True)
class Marker:
    """The identity of one mpctl body (kind, project, environment) and the data it keeps."""

    kind: str
    project: str
    env: str
    data: dict[str, str] = field(default_factory=dict, compare=False)

    def line(self) -> str:
        """The marker as the first line of a body."""
        fields = {"project": self.project, "env": self.env, **dict(sorted(self.data.items()))}
        spelled = "".join(f" {name}={quote(value, safe=_SAFE)}" for name, value in fields.items())
        return f"<!-- mpctl:{self.kind}{spelled} -->"

    def same_place(self, other: Marker) -> bool:
        """Whether `other` marks the body this marker's body replaces."""
        return (self.kind, self.project, self.env) == (other.kind, other.project, other.env)

    def with_data(self, **data: str) -> Marker:
        return Marker(self.kind, self.project, self.env, {**self.data, **data})


def parse_marker(body: str) -> Marker | None:
    """The marker on the first line of `body`, or None when it has none."""
    first = body.split("\n", 1)[0].rstrip("\r")
    found = _LINE.fullmatch(first)
    if found is None:
        return None
    fields = {name: unquote(value) for name, value in _FIELD.findall(found.group(2))}
    project, env = fields.pop("project", None), fields.pop("env", None)
    if project is None or env is None:
        return None
    return Marker(found.group(1), project, env, fields)


def with_marker(marker: Marker, body: str) -> str:
    """`body` under its marker line."""
    return f"{marker.line()}\n{body}"


def with_marker_data(body: str, **data: str) -> str:
    """`body` with `data` added to (or replacing fields of) its marker; the rest unchanged."""
    marker = parse_marker(body)
    if marker is None:
        raise ValueError("the body does not start with a marker")
    rest = body.split("\n", 1)[1] if "\n" in body else ""
    return with_marker(marker.with_data(**data), rest)
