"""How many mpctl modules one change travels through, from manifest to HTTP call.

Issue 10 asks that following "a client's scopes changed" from the manifest to Digdir touches
fewer modules after the renovation. This script measures it the same way each time:

1. copy `manifests/` (the example project) to a temporary directory and converge it against the
   embedded emulator (`plan --out`, `apply --plan`), each in its own process;
2. add one scope to one client's manifest;
3. run `mpctl plan --out FILE` and then `mpctl apply --plan FILE --auto-approve` in this process
   under a profiler that records the module of every mpctl *function* called (module bodies run at
   import time do not count: importing is not taking part), in every thread.

It prints two counts per command, not counting the embedded emulator (`mpctl.emulator.*` and the
`mpctl.cli.yielding` transport in front of it: they stand in for Digdir and the network) nor any
call made from inside it (its state file goes through `mpctl.files`). `apply --plan` is counted
twice, from the same state: as run, and with `--no-audit` (the audit trail, issue 12, came after
issue 10's baseline and records each write's body, so it is on the data path by design):

- "on the data path": modules with a function whose arguments, locals or return value hold the
  changed client's scopes (a container, string or model holding both its old scope and the new
  one, looked into two levels deep): the modules a reader follows from the manifest to the HTTP
  body;
- "called": modules with any function called at all (command-line plumbing, manifests loading,
  admin token, logging included).

With `--list` it prints the names too.

    .venv/bin/python benchmarks/change_path.py [--list]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLIENT_FILE = Path("resources/clients/lanekassen.yaml")
OLD_SCOPE = "lanekassen:lan/v1/saldoopplysninger"
ADDED_SCOPE = "acme:invoices.read"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the modules, too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mpctl-change-path-") as temp:
        workspace = Path(temp) / "manifests"
        shutil.copytree(ROOT / "manifests", workspace, ignore=shutil.ignore_patterns(".mpctl"))
        os.environ["MPCTL_MANIFESTS"] = str(workspace)
        _converge(workspace)
        _add_scope(workspace / CLIENT_FILE)
        plan_file = workspace / ".mpctl" / "change.json"
        counts = {"plan": _modules_of(["plan", "--out", str(plan_file)])}
        unaudited = Path(temp) / "unaudited"
        shutil.copytree(workspace, unaudited)
        apply = ["apply", "--auto-approve", "--plan"]
        counts["apply --plan"] = _modules_of([*apply, str(plan_file)])
        os.environ["MPCTL_MANIFESTS"] = str(unaudited)
        copied_plan = unaudited / ".mpctl" / "change.json"
        counts["  --no-audit"] = _modules_of([*apply, str(copied_plan), "--no-audit"])
    for command, (data_path, called) in counts.items():
        print(f"{command:>13}: {len(data_path)} on the data path, {len(called)} called")
        if args.list:
            for name in sorted(called):
                print(f"{'':>15}{'*' if name in data_path else ' '} {name}")
    return 0


def _converge(workspace: Path) -> None:
    mpctl = str(Path(sys.executable).with_name("mpctl"))
    plan = workspace / ".mpctl" / "converge.json"
    for argv in (["plan", "--out", str(plan)], ["apply", "--plan", str(plan), "--auto-approve"]):
        subprocess.run([mpctl, *argv], check=True, capture_output=True, env=os.environ.copy())


def _add_scope(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    old = f"scopes: [{OLD_SCOPE}]"
    if old not in text:
        raise SystemExit(f"{path}: expected the line {old!r} to change")
    path.write_text(
        text.replace(old, f"scopes: [{OLD_SCOPE}, {ADDED_SCOPE}]"),
        encoding="utf-8",
    )


def _modules_of(argv: list[str]) -> tuple[set[str], set[str]]:
    from mpctl.cli.main import main as mpctl_main

    called: set[str] = set()
    data_path: set[str] = set()
    with _profiling(_recorder(called, data_path)):
        code = mpctl_main(argv)
    if code != 0:
        raise SystemExit(f"mpctl {' '.join(argv)} exited {code}")
    return _ours(data_path), _ours(called)


STAND_INS = ("mpctl.emulator", "mpctl.cli.yielding")
"""Digdir's stand-in: the embedded emulator and the transport in front of it (only it uses one)."""


def _ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith("mpctl") and not m.startswith(STAND_INS)}


def _recorder(called: set[str], data_path: set[str]) -> Callable[[FrameType, str, Any], None]:
    def record(frame: FrameType, event: str, arg: Any) -> None:
        if frame.f_code.co_name == "<module>":
            return
        module = frame.f_globals.get("__name__")
        if not isinstance(module, str) or not module.startswith("mpctl"):
            return
        if _inside_the_emulator(frame):
            return
        if event == "call":
            called.add(module)
        elif event == "return" and module not in data_path:
            values = [*frame.f_locals.values(), arg]
            if any(_holds_the_change(v, 2) for v in values):
                data_path.add(module)

    return record


def _inside_the_emulator(frame: FrameType) -> bool:
    """True for a call made by the embedded emulator (it stands in for Digdir, so the helpers
    it shares with mpctl, such as `mpctl.files` saving its state, are Digdir's work here)."""
    caller: FrameType | None = frame
    while caller is not None:
        if str(caller.f_globals.get("__name__", "")).startswith("mpctl.emulator"):
            return True
        caller = caller.f_back
    return False


def _holds_the_change(value: Any, depth: int) -> bool:
    """True when `value` holds the client's old scope and the new one together."""
    if isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        return OLD_SCOPE in text and ADDED_SCOPE in text
    if isinstance(value, list | tuple | set | frozenset) and len(value) < 10_000:
        items = [v for v in value if isinstance(v, str)]
        if OLD_SCOPE in items and ADDED_SCOPE in items:
            return True
        return depth > 0 and any(_holds_the_change(v, depth - 1) for v in list(value)[:200])
    if isinstance(value, dict) and len(value) < 10_000:
        # dict.values, not value.values(): a dict subclass may compute its values (the CLI's
        # lazy command table imports a command's module on read), and looking must not act.
        held = list(dict.values(value))
        return depth > 0 and any(_holds_the_change(v, depth - 1) for v in held)
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict) and depth > 0:
        return any(_holds_the_change(v, depth - 1) for v in list(fields.values()))
    return False


@contextmanager
def _profiling(profiler: Callable[[FrameType, str, Any], None]) -> Iterator[None]:
    threading.setprofile(profiler)
    sys.setprofile(profiler)
    try:
        yield
    finally:
        sys.setprofile(None)
        threading.setprofile(None)


if __name__ == "__main__":
    raise SystemExit(main())
