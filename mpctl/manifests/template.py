"""Jinja2 templating of manifest text: `(text, variables) -> text`, or a located problem.

Owns the steps of one render (parse, refuse what a manifest may not use, instrument, compile,
run in `ManifestSandbox` under a fresh `RenderBudget`) and locating every failure on a source
line. A template is code written by the user, so any error it raises, of any type, is the
user's problem to fix and becomes a `TemplateProblemError`; only `MemoryError` passes through
(the budget exists so that it never happens). Pure: no files, no environment reads.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.parser import Parser

from mpctl.manifests.budget import (
    MAX_OUTPUT,
    MAX_STEPS,
    MAX_VALUE,
    BudgetExceededError,
    RenderBudget,
)
from mpctl.manifests.sandbox import ManifestSandbox, instrument
from mpctl.manifests.templated import TemplateProblemError, is_template

__all__ = ["TemplateProblemError", "is_template", "render"]

_JINJA_SOURCE_NAME = "<template>"
"""The filename Jinja gives code compiled without a name; its traceback frames carry it."""
MAX_TEMPLATE_DEPTH = 40
"""Levels of nested tags and expressions (Jinja and Python compile recursively)."""
MAX_TEMPLATE_TOKENS = 20_000
MAX_TEMPLATE_NODES = 5_000
"""Parsing costs about 20 µs per token and compiling 100 µs per node: both are bounded first."""
_MAX_MESSAGE = 300
_BUDGET_HINT = (
    f"a manifest template may spend {MAX_STEPS} operations, {MAX_OUTPUT // 1024} KiB of output "
    f"and {MAX_VALUE // 1024} Ki characters per value: loop over less, or split the file"
)
_NOT_HERE = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
    nodes.Extends: "extends",
}


def render(text: str, variables: Mapping[str, Any]) -> str:
    """Render `text` with `variables`; raise `TemplateProblemError` with the failing source line."""
    environment = ManifestSandbox(RenderBudget())
    tree = _parse(environment, text)
    _refuse_unsupported(tree)
    try:
        template = environment.from_string(instrument(tree))
    except (RecursionError, SyntaxError) as exc:
        raise _too_deep(_deepest(tree)[1]) from exc
    try:
        return template.render(**variables)
    except MemoryError:
        raise
    except Exception as exc:  # a template is user code: its errors are the user's
        hint = _BUDGET_HINT if isinstance(exc, BudgetExceededError) else ""
        raise TemplateProblemError(_failing_line(exc), _describe(exc), hint) from exc


def _parse(environment: ManifestSandbox, text: str) -> nodes.Template:
    try:
        _check_token_count(environment, text)
        parser = Parser(environment, text)  # lexes the first token: may raise a syntax error
    except TemplateSyntaxError as exc:
        raise _syntax(exc) from exc
    try:
        tree = parser.parse()
    except TemplateSyntaxError as exc:
        raise _syntax(exc) from exc
    except RecursionError as exc:
        raise _too_deep(parser.stream.current.lineno) from exc
    depth, line = _deepest(tree)
    if depth > MAX_TEMPLATE_DEPTH:
        raise _too_deep(line)
    _check_node_count(tree)
    return tree


def _syntax(exc: TemplateSyntaxError) -> TemplateProblemError:
    return TemplateProblemError(exc.lineno or 1, f"template syntax: {exc.message}")


def _check_token_count(environment: ManifestSandbox, text: str) -> None:
    """Refuse a template of more than `MAX_TEMPLATE_TOKENS` tokens before parsing it."""
    for count, (line, _, _) in enumerate(environment.lexer.tokeniter(text, None), start=1):
        if count > MAX_TEMPLATE_TOKENS:
            raise _too_big(line, f"{MAX_TEMPLATE_TOKENS} template tokens")


def _check_node_count(tree: nodes.Template) -> None:
    for count, node in enumerate(tree.find_all(nodes.Node), start=1):
        if count > MAX_TEMPLATE_NODES:
            raise _too_big(node.lineno, f"{MAX_TEMPLATE_NODES} expressions and statements")


def _too_big(line: int, what: str) -> TemplateProblemError:
    return TemplateProblemError(
        line,
        f"template: more than {what}",
        "move repeated text into a loop over 'variables', or split the file",
    )


def _refuse_unsupported(tree: nodes.Template) -> None:
    for node_type, tag in _NOT_HERE.items():
        for node in tree.find_all(node_type):
            raise TemplateProblemError(
                node.lineno,
                f"template: {{% {tag} %}} is not supported",
                "each manifest renders on its own: share values through 'variables' in mpctl.yaml",
            )


def _deepest(tree: nodes.Node) -> tuple[int, int]:
    """(depth, line) of the most deeply nested node, without recursion."""
    deepest, line = 0, 1
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest, line = depth, getattr(node, "lineno", line) or line
        if depth <= MAX_TEMPLATE_DEPTH:
            stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest, line


def _too_deep(line: int) -> TemplateProblemError:
    return TemplateProblemError(
        line,
        f"template: tags or expressions nested deeper than {MAX_TEMPLATE_DEPTH} levels",
        "split the expression with {% set %} or move logic into variables",
    )


def _describe(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "…"
    kind = "" if _is_jinja_error(exc) else f"{type(exc).__name__}: "
    return f"template: {kind}{message}"


def _is_jinja_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith(("jinja2", "mpctl"))


def _failing_line(exc: BaseException) -> int:
    """The template line Jinja's rewritten traceback points at, or 1."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == _JINJA_SOURCE_NAME and frame.lineno:
            return frame.lineno
    return 1
