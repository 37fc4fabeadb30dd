"""The undo journal that makes an in-memory write transaction cost O(size of the change).

Owns recording and rolling back changes: while a `Journal` is recording (one per thread or task,
a context variable), every attribute assignment on a `JournaledModel` and every item change in
a `JournaledDict` first notes the value it overwrites; `rollback` puts those values back in
reverse order, so a failed request leaves no half-applied change without copying the state.
Lists the caller registers with `remember_list` are copied once and restored whole. The rule for
code that changes state inside a transaction: assign attributes and dict items, never mutate a
record's nested list or dict in place. It must not know the state's fields, stores or HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final, TypeVar, cast, overload

from pydantic import BaseModel, PrivateAttr

_K = TypeVar("_K")
_V = TypeVar("_V")
_D = TypeVar("_D")
_T = TypeVar("_T")
_MISSING: Final = object()
_recording: ContextVar[Journal | None] = ContextVar("mpctl_emulator_journal", default=None)


class Journal:
    """Undo entries of one transaction, newest last."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self._orders_kept: set[int] = set()

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Note every change made in this thread or task until the block ends."""
        token = _recording.set(self)
        try:
            yield
        finally:
            _recording.reset(token)

    def rollback(self) -> None:
        """Undo every noted change, newest first; the journal is empty afterwards."""
        while self._undo:
            self._undo.pop()()
        self._orders_kept.clear()

    def remember_list(self, items: list[Any]) -> None:
        """Restore this list's content on rollback (a copy of its references, taken now)."""
        before = list(items)
        self._undo.append(lambda: items.__setitem__(slice(None), before))

    def note_attribute(self, model: BaseModel, name: str) -> None:
        fields = model.__dict__
        before = fields.get(name, _MISSING)
        fields_set = set(model.model_fields_set)
        self._undo.append(lambda: _restore_attribute(model, name, before, fields_set))

    def note_item(self, mapping: dict[Any, Any], key: Any) -> None:
        before = dict.get(mapping, key, _MISSING)
        self._undo.append(lambda: _restore_item(mapping, key, before))

    def note_removal(self, mapping: dict[Any, Any], key: Any) -> None:
        """Like `note_item`; the first removal from a dict also keeps its key order (O(len)),
        since a key put back would otherwise move to the end. The API never removes items."""
        if id(mapping) not in self._orders_kept:
            self._orders_kept.add(id(mapping))
            order = list(mapping)
            self._undo.append(lambda: _restore_order(mapping, order))
        self.note_item(mapping, key)


def _restore_attribute(model: BaseModel, name: str, before: object, fields_set: set[str]) -> None:
    if before is _MISSING:
        model.__dict__.pop(name, None)
    else:
        model.__dict__[name] = before
    object.__setattr__(model, "__pydantic_fields_set__", fields_set)
    if isinstance(model, JournaledModel):
        model._derived.clear()


def _restore_item(mapping: dict[Any, Any], key: Any, before: object) -> None:
    if before is _MISSING:
        dict.pop(mapping, key, None)
    else:
        dict.__setitem__(mapping, key, before)


def _restore_order(mapping: dict[Any, Any], order: list[Any]) -> None:
    """Put the keys back in `order` (run once every later change is undone: same key set)."""
    items = [(key, dict.__getitem__(mapping, key)) for key in order]
    dict.clear(mapping)
    dict.update(mapping, items)


def _journal() -> Journal | None:
    return _recording.get()


class JournaledModel(BaseModel):
    """A pydantic model whose attribute assignments the recording journal can undo, and whose
    `derived` values (computed from its fields, such as an encoded view) any assignment or
    rollback drops."""

    _derived: dict[str, Any] = PrivateAttr(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        journal = _journal()
        if journal is not None:
            journal.note_attribute(self, name)
        super().__setattr__(name, value)
        self._derived.clear()

    def derived(self, key: str, compute: Callable[[], _T]) -> _T:
        """`compute()`, kept under `key` until a field of this model is assigned or rolled back
        (fields are never changed in place: see the module's rule)."""
        if key not in self._derived:
            self._derived[key] = compute()
        return cast(_T, self._derived[key])


class JournaledDict(dict[_K, _V]):
    """A dict whose every change the recording journal can undo (reads cost what a dict's do)."""

    def __setitem__(self, key: _K, value: _V) -> None:
        self._note(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: _K) -> None:
        self._note(key, removing=True)
        super().__delitem__(key)

    @overload
    def pop(self, key: _K, /) -> _V: ...
    @overload
    def pop(self, key: _K, default: _V | _D, /) -> _V | _D: ...
    def pop(self, key: _K, *default: Any) -> Any:
        if key in self:
            self._note(key, removing=True)
        return super().pop(key, *default)

    def popitem(self) -> tuple[_K, _V]:
        if self:
            self._note(next(reversed(self)), removing=True)
        return super().popitem()

    def setdefault(self, key: _K, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def __ior__(self, other: Any) -> JournaledDict[_K, _V]:  # type: ignore[override,misc]
        self.update(other)
        return self

    def _note(self, key: _K, *, removing: bool = False) -> None:
        journal = _journal()
        if journal is None:
            return
        if removing:
            journal.note_removal(self, key)
        else:
            journal.note_item(self, key)


def journaled(items: Iterable[tuple[_K, _V]] | dict[_K, _V]) -> JournaledDict[_K, _V]:
    """`items` as a `JournaledDict` (the same object when it already is one)."""
    if isinstance(items, JournaledDict):
        return items
    return JournaledDict(items)
