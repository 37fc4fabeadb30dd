"""One CI runner taking the environment lock, as a child process: `open_lock`, hold, release.

Usage: `python -m tests.e2e.lock_runner PROJECT ENV`. Loads the project and opens its lock as
`mpctl apply` does, prints `READY`, and waits for a line on stdin (the start line, so racing
runners start together). Then takes the lock: prints `HELD <id>` and holds it until the next
line on stdin (or until it is killed), releases it, prints `RELEASED` and exits 0. A refusal
prints the error's message and hint on stderr, as the CLI does, and exits 1.
Also holds `s3_project`, the mpctl.yaml of a project whose lock is on moto's S3.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mpctl.cli.environment import open_workspace
from mpctl.cli.locking import open_lock
from mpctl.errors import MpctlError

PROJECT = "acme-locks"


def s3_project(endpoint_url: str, bucket: str, region: str) -> str:
    """mpctl.yaml with `test` and `prod` locked in one bucket (key: mpctl/{project}/{env})."""
    lock = f"{{backend: s3, bucket: {bucket}, region: {region}, endpoint_url: '{endpoint_url}'}}"
    return f"""\
project: {PROJECT}
organisation: {{orgno: "313367002", name: ACME AS, scope_prefixes: [acme]}}
default_env: test
environments:
  test:
    digdir: test
    lock: {lock}
  prod:
    digdir: prod
    lock: {lock}
"""


def main(project: str, env: str) -> int:
    workspace = open_workspace(Path(project), env)
    lock = open_lock(workspace, on_takeover=None)
    print("READY", flush=True)
    sys.stdin.readline()
    try:
        with lock.held(f"mpctl apply -e {env}") as info:
            print(f"HELD {info.id}", flush=True)
            sys.stdin.readline()
    except MpctlError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return 1
    print("RELEASED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
