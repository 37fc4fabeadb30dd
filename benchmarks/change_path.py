"""How many mpctl modules one change travels through, from manifest to HTTP call.

Issue 10 asks that following "a client's scopes changed" from the manifest to Digdir touches
fewer modules after the renovation. This script measures it the same way each time:

1. copy `manifests/` (the example project) to a temporary directory and converge it against the
   embedded emulator (`plan --out`, `apply --plan`), each in its own process;
2. add one scope to one client's manifest;
3. run `mpctl plan --out FILE` and then `mpctl apply --plan FILE --auto-approve` in this process
   under a profiler that records the module of every mpctl *function* called (module bodies run at
   import time do not count: importing is not taking part), in every thread.

It prints, per command, how many distinct `mpctl.*` modules took part, not counting the embedded
emulator (`mpctl.emulator.*`, it stands in for Digdir), and with `--list` their names.

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
        counts = {
            "plan": _modules_of(["plan", "--out", str(plan_file)]),
            "apply --plan": _modules_of(["apply", "--plan", str(plan_file), "--auto-approve"]),
        }
    for command, modules in counts.items():
        print(f"{command:>13}: {len(modules)} mpctl modules")
        if args.list:
            for name in sorted(modules):
                print(f"{'':>15}{name}")
    return 0


def _converge(workspace: Path) -> None:
    mpctl = str(Path(sys.executable).with_name("mpctl"))
    plan = workspace / ".mpctl" / "converge.json"
    for argv in (["plan", "--out", str(plan)], ["apply", "--plan", str(plan), "--auto-approve"]):
        subprocess.run([mpctl, *argv], check=True, capture_output=True, env=os.environ.copy())


def _add_scope(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    old = "scopes: [lanekassen:lan/v1/saldoopplysninger]"
    if old not in text:
        raise SystemExit(f"{path}: expected the line {old!r} to change")
    path.write_text(
        text.replace(old, f"scopes: [lanekassen:lan/v1/saldoopplysninger, {ADDED_SCOPE}]"),
        encoding="utf-8",
    )


def _modules_of(argv: list[str]) -> set[str]:
    from mpctl.cli.main import main as mpctl_main

    seen: set[str] = set()
    with _profiling(_recorder(seen)):
        code = mpctl_main(argv)
    if code != 0:
        raise SystemExit(f"mpctl {' '.join(argv)} exited {code}")
    return {m for m in seen if m.startswith("mpctl") and not m.startswith("mpctl.emulator")}


def _recorder(seen: set[str]) -> Callable[[FrameType, str, Any], None]:
    def record(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name != "<module>":
            module = frame.f_globals.get("__name__")
            if isinstance(module, str):
                seen.add(module)

    return record


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
