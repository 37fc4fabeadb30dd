"""The example plug-in's store: a directory of JSON documents, each write a new numbered version.

Layout: `<directory>/<name>/<version>.json`, versions 1, 2, ... A write names the version it
follows (check-and-set): when another writer got there first, the number is taken and the
write fails with `VersionConflictError` instead of overwriting. A version is complete before it
is visible: it is written to a temporary file, then hard-linked under its number (which fails if
the number is taken). Files are 0600, folders 0700. Must not know about keys or labels.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

Document = dict[str, Any]


class VersionConflictError(Exception):
    """Another writer wrote the version this write wanted to make."""


def publish(temporary: Path, final: Path) -> None:
    """Make the finished `temporary` file visible as `final`; fails if `final` exists."""
    os.link(temporary, final)


class DocumentStore:
    """The versioned documents under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __repr__(self) -> str:
        return f"DocumentStore({str(self.directory)!r})"

    def latest(self, name: str) -> tuple[int, Document] | None:
        """The newest version of `name` and its number, or None when it was never written."""
        versions = self._versions(name)
        if not versions:
            return None
        newest = max(versions)
        return newest, self.read(name, newest)

    def read(self, name: str, version: int) -> Document:
        with (self.directory / name / f"{version}.json").open(encoding="utf-8") as handle:
            document: Document = json.load(handle)
        return document

    def write(self, name: str, document: Document, *, after: int) -> int:
        """Write `document` as version `after + 1` of `name` (`after` is 0 for a new one)."""
        folder = self.directory / name
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        version = after + 1
        temporary = folder / f".{version}.{secrets.token_hex(8)}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(document, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                publish(temporary, folder / f"{version}.json")
            except FileExistsError:
                raise VersionConflictError(f"version {version} of {name!r} exists") from None
        finally:
            temporary.unlink(missing_ok=True)
        return version

    def delete(self, name: str) -> None:
        """Remove every version of `name` (nothing happens if there is none)."""
        shutil.rmtree(self.directory / name, ignore_errors=True)

    def names(self) -> list[str]:
        """Every document name in the store, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if p.is_dir())

    def _versions(self, name: str) -> list[int]:
        try:
            entries = os.listdir(self.directory / name)
        except FileNotFoundError:
            return []
        return [
            int(e.removesuffix(".json")) for e in entries if e.endswith(".json") and e[0] != "."
        ]
