"""Fuzz of reading saved plans: a damaged plan file is always one clear error naming the file.

Each example is a valid plan (tests/golden/plan.json, pretty or compact) mutated at the byte
level (flipped, inserted, deleted bytes, truncation, invalid UTF-8, other encodings, binary
noise) or at the JSON level (values replaced by odd JSON, keys dropped or added, deep nesting,
huge numbers, wrong top-level shapes). `mpctl.cli.output.read_plan` runs on it in a child
process capped at 1 GiB of address space and 10 s per example (tests/isolation.py). Every
example must end as a plan or as a `UserError` whose message names the file: no other
exception, no hang, no crash, at most 5 s.

The normal run draws a few hundred examples. The long run:

    MPCTL_FUZZ_EXAMPLES=10000 .venv/bin/pytest -q -s -p no:cacheprovider \\
        tests/unit/cli/test_plan_file_fuzz.py

prints examples, failures by class and the slowest example; MPCTL_FUZZ_REPORT=FILE also writes
them as JSON.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import REPO
from tests.isolation import UNEXPECTED, IsolatedRunner, Outcome, Tally, fuzz_settings

EXAMPLES = int(os.environ.get("MPCTL_FUZZ_EXAMPLES", "200"))
MAX_SECONDS = 5.0
GOLDEN = (REPO / "tests" / "golden" / "plan.json").read_text(encoding="utf-8")
SEEDS = [GOLDEN, json.dumps(json.loads(GOLDEN), separators=(",", ":"))]

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "2", "client/x", "create", "error", "\u0000", "\ud800"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=15,
)
RAW_TEXT = [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    "1" * 100_000,
    "1e999999",
    "NaN",
    "-Infinity",
    '"\\ud800"',
    "",
    "\ufeff{}",
    "null",
]


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)).encode())
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "invalid"]))
        if action == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 50))]
        elif action == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(
                st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\x80"])
            )
    return bytes(data)


@st.composite
def json_mutations(draw: st.DrawFn) -> bytes:
    document = json.loads(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        _mutate(draw, document)
    shape = draw(st.sampled_from(["object", "list", "string", "nested"]))
    if shape == "list":
        document = [document]
    elif shape == "string":
        document = json.dumps(document)
    elif shape == "nested":
        document = {"plan": document}
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


def _mutate(draw: st.DrawFn, document: Any) -> None:
    """Change one place in `document`: replace a value, drop a key, or add one."""
    node = document
    while True:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children:
            return
        key, child = draw(st.sampled_from(children))
        if not isinstance(child, dict | list) or draw(st.integers(0, 2)) == 0:
            break
        node = child
    action = draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "replace":
        node[key] = draw(JSON_VALUES)
    elif action == "drop" and isinstance(node, dict):
        del node[key]
    elif action == "add" and isinstance(node, dict):
        node[draw(st.text(max_size=10))] = draw(JSON_VALUES)


PLAN_FILES = st.one_of(
    byte_mutations(),
    json_mutations(),
    st.sampled_from(RAW_TEXT).map(str.encode),
    st.binary(max_size=400),
    st.sampled_from(SEEDS).map(lambda text: text.encode("utf-16")),
    st.sampled_from(SEEDS).map(lambda text: text.encode("latin-1", "replace") + b"\xe5"),
)


def read_example(example: dict[str, Any]) -> dict[str, Any]:
    """Child side: write the bytes to a plan file and read it back."""
    from mpctl.cli.output import read_plan
    from mpctl.errors import UserError

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "saved-plan.json"
        path.write_bytes(base64.b64decode(example["data"]))
        try:
            plan = read_plan(path)
        except UserError as exc:
            return {"error": exc.message, "hint": exc.hint, "path": str(path)}
        return {"steps": len(plan.steps), "path": str(path)}


def failure_class(outcome: Outcome) -> str | None:
    if outcome.kind != "ok":
        return outcome.kind
    if outcome.seconds > MAX_SECONDS:
        return "slow"
    error = outcome.result.get("error")
    if error is not None and outcome.result["path"] not in error:
        return "unnamed"
    return None


def test_reading_damaged_plan_files_is_one_clear_error() -> None:
    tally = Tally()
    with IsolatedRunner(f"{__name__}:read_example") as runner:

        @fuzz_settings(EXAMPLES)
        @given(PLAN_FILES)
        def check(data: bytes) -> None:
            outcome = runner.run({"data": base64.b64encode(data).decode()})
            failure = failure_class(outcome)
            tally.add(failure, outcome.seconds)
            assert failure is None, (failure, outcome.kind, outcome.detail, data[:300])

        try:
            check()
        finally:
            print(tally.report("plan files"))


# the same through the real CLI ------------------------------------------------------------------

CLI_CASES = {
    "not-utf8": (b"\xff\xfe{}", "not UTF-8 text (byte 0xff at offset 0)"),
    "not-json": (b"{format_version: 2", "is not a valid mpctl plan"),
    "wrong-shape": (b"[]", "is not a valid mpctl plan"),
    "wrong-field": (
        json.dumps({**json.loads(GOLDEN), "steps": "all of them"}).encode(),
        "is not a valid mpctl plan: steps",
    ),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "is not a valid mpctl plan"),
    "old-version": (
        json.dumps({**json.loads(GOLDEN), "format_version": 1}).encode(),
        "format_version 1",
    ),
}


@pytest.mark.parametrize(("data", "message"), CLI_CASES.values(), ids=list(CLI_CASES))
def test_apply_with_damaged_plan_names_the_file(
    example_copy: Path, tmp_path: Path, data: bytes, message: str
) -> None:
    plan = tmp_path / "pr-1234.plan.json"
    plan.write_bytes(data)
    command = ["apply", "--manifests", str(example_copy), "--plan", str(plan), "--auto-approve"]
    done = subprocess.run(
        [sys.executable, "-m", "mpctl", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert str(plan) in output, output
    assert message in output, output
    assert "Traceback" not in output, output
    assert not UNEXPECTED.search(output), output
