"""The Jinja environment one manifest renders in: immutable sandbox, no loader, a budget.

Owns `ManifestSandbox` (Jinja's `ImmutableSandboxedEnvironment`, so a template cannot change the
variables another file sees) and `instrument`, which rewrites a parsed template so that every
loop iteration, `~` concatenation and output piece passes through the render budget. Calls,
operators, attribute lookups and filters are budgeted through the sandbox's own hooks. The size
and time rules live in `budget`. Must not read files, the process environment or the clock
other than through `RenderBudget`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from string import Formatter
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.visitor import NodeTransformer

from mpctl.manifests.budget import (
    MAX_VALUE,
    BudgetExceededError,
    RenderBudget,
    check_format_spec,
    check_value,
    require_size,
    require_width,
)

_FILTERS_THAT_KEEP_VALUES = frozenset(
    {
        "abs", "attr", "batch", "bool", "count", "d", "default", "dictsort", "first", "float",
        "groupby", "int", "items", "last", "length", "list", "map", "max", "min", "random",
        "reject", "rejectattr", "reverse", "round", "select", "selectattr", "slice", "sort",
        "sum", "unique",
    }
)  # fmt: skip
"""Filters that do not turn their input into text (everything else is checked before)."""


class ManifestSandbox(ImmutableSandboxedEnvironment):
    """Jinja for manifests: strict undefined, no loader, every costly operation budgeted."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "-", "/", "//"})
    intercepted_unops = frozenset({"-", "+"})

    def __init__(self, budget: RenderBudget) -> None:
        super().__init__(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
        self.budget = budget
        self.globals.pop("lipsum", None)
        self.globals["range"] = self.bounded_range
        self.filters = {name: self._budgeted_filter(name, f) for name, f in self.filters.items()}

    # hooks the sandbox calls ------------------------------------------------------------------

    def call(
        __self,  # noqa: N805 (Jinja's own spelling: keyword arguments may be called "self")
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        __self.budget.enter_call()
        try:
            args = _check_method_call(__self.budget, __obj, args, kwargs)
            return check_value(super().call(__context, __obj, *args, **kwargs))
        finally:
            __self.budget.leave_call()

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        self.budget.step()
        self.budget.check_binop(operator, left, right)
        return check_value(super().call_binop(context, operator, left, right))

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        self.budget.step()
        return super().call_unop(context, operator, arg)

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.budget.step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: str | Any) -> Any:
        self.budget.step()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`str.format`/`format_map` through a formatter that checks every field it fills."""
        if super().wrap_str_format(value) is None:
            return None
        template: str = value.__self__
        is_map = value.__name__ == "format_map"

        def formatted(*args: Any, **kwargs: Any) -> str:
            formatter = _BudgetedFormatter(self)  # one per call: it counts this result's size
            if is_map:
                return formatter.vformat(template, (), args[0] if args else {})
            return formatter.vformat(template, args, kwargs)

        return functools.update_wrapper(formatted, value)

    # entry points the instrumented template calls ----------------------------------------------

    def mpctl_emit(self, value: Any) -> str:
        return self.budget.emit(value)

    def mpctl_concat(self, *parts: Any) -> str:
        self.budget.step()
        self.budget.check_stringify(*parts)
        return "".join(str(part) for part in parts)

    def mpctl_iterate(self, iterable: Iterable[Any]) -> Iterable[Any]:
        return self.budget.iterate(iterable)

    def bounded_range(self, *args: int) -> range:
        self.budget.step()
        numbers = range(*args)
        try:
            count = len(numbers)
        except OverflowError:  # more than fits a machine word
            count = MAX_VALUE + 1
        if count > MAX_VALUE:
            raise BudgetExceededError(f"range of more than {MAX_VALUE} numbers")
        return numbers

    # filters ---------------------------------------------------------------------------------

    def _budgeted_filter(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0
        checks = _FILTER_CHECKS.get(name)
        stringifies = name not in _FILTERS_THAT_KEEP_VALUES

        @functools.wraps(function)
        def budgeted(*args: Any, **kwargs: Any) -> Any:
            self.budget.step()
            value, rest = (args[skip], args[skip + 1 :]) if len(args) > skip else (None, ())
            if isinstance(value, Iterator):  # a lazy map/select: consume it under the budget
                value = self.budget.collect(value)
                args = (*args[:skip], value, *rest)
            if stringifies:
                self.budget.check_stringify(value, *rest, *kwargs.values())
            if checks is not None:
                checks(self.budget, value, rest, kwargs)
            return check_value(function(*args, **kwargs))

        return budgeted


class _BudgetedFormatter(SandboxedFormatter):
    """`str.format` that checks each field's width and the growing result."""

    def __init__(self, env: ManifestSandbox) -> None:
        super().__init__(env)
        self._budget = env.budget
        self._size = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        self._budget.step()
        check_format_spec(format_spec)
        self._budget.check_stringify(value)
        text = Formatter.format_field(self, value, format_spec)
        self._size += len(text)
        require_size(self._size)
        return text


# checks for calls and filters whose result can outgrow their inputs ------------------------------

Checks = Callable[[RenderBudget, Any, tuple[Any, ...], Mapping[str, Any]], None]


def _argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, key: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(key)


def _check_padding(
    budget: RenderBudget, receiver: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    require_width(_argument(args, kwargs, 0, "width"))


def _check_expandtabs(
    budget: RenderBudget, receiver: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    size = _argument(args, kwargs, 0, "tabsize")
    require_width(size, "tab size")
    if isinstance(size, int) and isinstance(receiver, str | bytes):
        tab = "\t" if isinstance(receiver, str) else b"\t"
        require_size(len(receiver) + receiver.count(tab) * max(size, 0))  # type: ignore[arg-type]


def _check_replace(
    budget: RenderBudget, receiver: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    old, new = _argument(args, kwargs, 0, "old"), _argument(args, kwargs, 1, "new")
    count = _argument(args, kwargs, 2, "count")
    if not isinstance(receiver, str | bytes) or not isinstance(old, str | bytes):
        return
    if type(old) is not type(receiver) or not isinstance(new, str | bytes):
        return
    found = receiver.count(old) if old else len(receiver) + 1  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    require_size(len(receiver) + found * len(new))


def _check_translate(
    budget: RenderBudget, receiver: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    table = _argument(args, kwargs, 0, "table")
    if isinstance(receiver, str) and isinstance(table, Mapping):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        require_size(len(receiver) * max(longest, 1))


def _check_to_bytes(
    budget: RenderBudget, receiver: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    length = _argument(args, kwargs, 0, "length")
    if isinstance(length, int):
        require_size(length)


def _check_indent(
    budget: RenderBudget, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    width = _argument(args, kwargs, 0, "width")
    require_width(width)
    prefix = len(width) if isinstance(width, str) else width if isinstance(width, int) else 4
    require_size(_line_count(value) * max(prefix, 0) + len(str(value)))


def _check_wordwrap(
    budget: RenderBudget, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    separator = _argument(args, kwargs, 2, "wrapstring")
    extra = len(separator) if isinstance(separator, str) else 1
    require_size(len(str(value)) * (1 + extra))


def _check_printf_filter(
    budget: RenderBudget, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    budget.check_printf(str(value), kwargs or args)


def _check_counts(
    budget: RenderBudget, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    require_width(_argument(args, kwargs, 0, "linecount"), "count")
    require_width(_argument(args, kwargs, 0, "slices"), "count")


def _check_join(
    budget: RenderBudget, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    separator = _argument(args, kwargs, 0, "d")
    if isinstance(separator, str) and isinstance(value, Sized):
        require_size(budget.size_of(value) + len(separator) * len(value))


def _check_sum(
    budget: RenderBudget, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    start = _argument(args, kwargs, 1, "start")
    if start is not None and not isinstance(start, int | float):
        raise BudgetExceededError("sum() adds numbers only")


def _check_tojson(
    budget: RenderBudget, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    require_width(_argument(args, kwargs, 0, "indent"), "indent")


def _line_count(value: Any) -> int:
    return str(value).count("\n") + 1


_METHOD_CHECKS: dict[str, Checks] = {
    "center": _check_padding,
    "ljust": _check_padding,
    "rjust": _check_padding,
    "zfill": _check_padding,
    "expandtabs": _check_expandtabs,
    "replace": _check_replace,
    "translate": _check_translate,
    "to_bytes": _check_to_bytes,
}
_FILTER_CHECKS: dict[str, Checks] = {
    "batch": _check_counts,
    "center": _check_padding,
    "format": _check_printf_filter,
    "indent": _check_indent,
    "join": _check_join,
    "replace": lambda budget, value, args, kwargs: _check_replace(budget, str(value), args, kwargs),
    "slice": _check_counts,
    "sum": _check_sum,
    "tojson": _check_tojson,
    "wordwrap": _check_wordwrap,
}


def _check_method_call(
    budget: RenderBudget, function: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[Any, ...]:
    """Check a bound method call before it runs; `join` gets its items as a checked list."""
    receiver = getattr(function, "__self__", None)
    name = getattr(function, "__name__", "")
    if isinstance(receiver, str | bytes) and name == "join" and args:
        items = budget.collect(args[0])
        budget.check_stringify(receiver, *items)
        require_size(len(receiver) * len(items))
        return (items, *args[1:])
    check = _METHOD_CHECKS.get(name)
    if check is not None and isinstance(receiver, str | bytes | int):
        check(budget, receiver, args, kwargs)
    return args


# the rewrite that routes loops, `~` and output through the budget -------------------------------


def instrument(template: nodes.Template) -> nodes.Template:
    """Rewrite `template` in place so loops, `~` and output go through the sandbox's budget."""
    rewritten = _Instrument().visit(template)
    assert isinstance(rewritten, nodes.Template)
    return rewritten


def _through(name: str, node: nodes.Node, *arguments: nodes.Node) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(name), list(arguments), [], None, None)
    call.set_lineno(node.lineno)
    return call


class _Instrument(NodeTransformer):
    def visit_Output(self, node: nodes.Output) -> nodes.Node:  # noqa: N802 (visitor protocol)
        self.generic_visit(node)
        node.nodes = [_emitted(child) for child in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        return _through("mpctl_concat", node, *node.nodes)

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        node.iter = _through("mpctl_iterate", node, node.iter)
        return node


def _emitted(child: nodes.Expr) -> nodes.Expr:
    if isinstance(child, nodes.TemplateData):
        constant = nodes.Const(child.data)
        constant.set_lineno(child.lineno)
        return _through("mpctl_emit", child, constant)
    return _through("mpctl_emit", child, child)
