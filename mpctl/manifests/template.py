"""Jinja2 templating of manifest text: `(text, variables) -> text`.

Owns the sandboxed Jinja environment (undefined variables are errors, no autoescape) and
locating template errors on a line. Pure: no files, no environment reads.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

_MARKERS = ("{{", "{%", "{#")
_JINJA_SOURCE_NAME = "<template>"
"""The filename Jinja gives code compiled by `from_string`; its traceback frames carry it."""


class TemplateProblemError(Exception):
    """A template that does not render; `line` is in the source file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def is_template(text: str) -> bool:
    """True when `text` uses any Jinja syntax (plain YAML skips rendering)."""
    return any(marker in text for marker in _MARKERS)


def render(text: str, variables: Mapping[str, Any]) -> str:
    """Render `text` with `variables`; raise `TemplateProblemError` with the failing source line."""
    environment = SandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    try:
        return environment.from_string(text).render(**variables)
    except TemplateSyntaxError as exc:
        raise TemplateProblemError(exc.lineno or 1, f"template syntax: {exc.message}") from exc
    except TemplateError as exc:
        raise TemplateProblemError(_failing_line(exc), f"template: {exc.message}") from exc


def _failing_line(exc: BaseException) -> int:
    """The template line Jinja's rewritten traceback points at, or 1."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == _JINJA_SOURCE_NAME and frame.lineno:
            return frame.lineno
    return 1
