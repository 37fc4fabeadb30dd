"""What marks manifest text as a template, and the error a failed render raises.

Owns the light half of templating, so that reading plain YAML never imports jinja2: the marker
test that decides whether a file is rendered at all, and `TemplateProblemError`, which callers
catch. Must not import jinja2 (`mpctl.manifests.template` renders, and imports it).
"""

from __future__ import annotations

_MARKERS = ("{{", "{%", "{#")


class TemplateProblemError(Exception):
    """A template that does not render; `line` is in the source file."""

    def __init__(self, line: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.line, self.message, self.hint = line, message, hint


def is_template(text: str) -> bool:
    """True when `text` uses any Jinja syntax (plain YAML skips rendering)."""
    return any(marker in text for marker in _MARKERS)
