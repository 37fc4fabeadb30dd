"""Fuzz of manifest loading: hostile projects never crash, hang or blow up memory.

Each example is a project with one fuzzed manifest (mutated valid YAML, hostile Jinja, deep
nesting, odd kinds and types, binary bytes, a big file; one time in ten a mutated mpctl.yaml)
beside benign files, one of which has a known problem that must still be reported, and hostile
`resources` entries or symlinks. `mpctl.manifests.load` runs on it in a child process capped at
1 GiB of address space and 10 s per example (tests/isolation.py). Every example must end with
diagnostics only: no exception, no MPL009 (internal error), no hang, no crash, at most 5 s, and
every diagnostic located at FILE:LINE in a file of the example.

The normal run draws a few hundred examples. The long run (documented figures in the report):

    MPCTL_FUZZ_EXAMPLES=10000 .venv/bin/pytest -q -s -p no:cacheprovider \\
        tests/unit/manifests/test_manifest_fuzz.py

prints examples, failures by class and the slowest example; set MPCTL_FUZZ_REPORT=FILE to
also write those counts as JSON.
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

from tests.conftest import BASE_PROJECT
from tests.isolation import UNEXPECTED, IsolatedRunner, Outcome, Tally, fuzz_settings

EXAMPLES = int(os.environ.get("MPCTL_FUZZ_EXAMPLES", "200"))
MAX_SECONDS = 5.0

CLIENT = """\
kind: Client
name: billing
description: Billing reads invoices
scopes: [acme:invoices.read]
environments: [test, prod]
overrides:
  prod:
    description: Billing in prod
"""
SCOPE = """\
kind: Scope
name: acme:invoices.read
description: Read invoices
consumers: ["910753614"]
"""
TEMPLATE = """\
{% for team in teams %}
---
kind: Client
name: {{ team }}-invoices
description: "{{ team }} ({{ env }})"
scopes: [acme:invoices.read]
{% endfor %}
"""
VALID = [CLIENT, SCOPE, TEMPLATE, CLIENT + "---\n" + SCOPE]

HOSTILE_JINJA = [
    "{% include 'x.yaml' %}",
    "{% import 'x' as y %}",
    "{% from 'x' import y %}",
    "{% extends 'base' %}",
    "{{ 1/0 }}",
    "{{ 1 // 0 }}",
    "{{ range(10**6) }}",
    "{% for i in range(N) %}{% for j in range(N) %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{% for x in teams recursive %}{{ loop(teams) }}{% endfor %}",
    "{{ 'a' * 600000000 }}",
    "{{ [1] * 600000000 }}",
    "{{ (10 ** N) ** N }}",
    "{{ 'a'.ljust(10**9) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ 'a'|center(999999999) }}",
    "{{ (['a'] * 100000)|join('b' * 100000) }}",
    "{{ range(100000)|map('center', 5000)|join }}",
    "{% set ns = namespace(s='a') %}{% for i in range(N) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(s='a') %}{% for i in range(N) %}{% set ns.s %}{{ ns.s }}{{ ns.s }}"
    "{% endset %}{% endfor %}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(N) %}{% set ns.l = [ns.l, ns.l] %}"
    "{% endfor %}{{ ns.l }}",
    "{{ teams.append('x') }}",
    "{{ teams.__class__.__mro__ }}",
    "{{ lipsum(1000000) }}",
    "{{ undefined_variable }}",
    "{{ (1).to_bytes(10**9, 'big') }}",
    "{{ 2.0 ** 100000 }}",
    "{{ " + "(" * 200 + "1" + ")" * 200 + " }}",
    "{% if x %}" * 30 + "{% endif %}" * 30,
    "{{ x",
    "{% for %}",
    "{% endfor %}",
    "{# never closed",
]
SPECIALS = [
    "&a ", "*a", "!!python/object/apply:os.system ['true']", "<<: {a: 1}", "? ", "{", "[", "}",
    "]", "---\n", "...\n", "%YAML 1.1\n", "\t", "\0", "\ufeff", "'", '"', "|", ">", "- ", ": ",
    "#", "!!binary aGk=", "!local", "\r", "\u2028", "\ud7ff", "0x1F", "1e999", "-.inf", "~",
]  # fmt: skip
ODD_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _flow(depth: int) -> str:
    return "kind: Client\nname: " + "[" * depth + "]" * depth + "\n"


def _block(depth: int) -> str:
    depth = min(depth, 700)  # indentation grows with depth: 700 levels are already 500 KB
    return "kind: Client\n" + "".join(" " * i + f"k{i}:\n" for i in range(depth)) + "  x: 1\n"


def _compact(depth: int) -> str:
    return "kind: Client\nname:\n" + "- " * depth + "x\n"


def _mapping(depth: int) -> str:
    return "a: " + "{b: " * depth + "1" + "}" * depth + "\n"


def _aliases(depth: int) -> str:
    lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


NESTERS = [_flow, _block, _compact, _mapping, _aliases]


@st.composite
def mutated_yaml(draw: st.DrawFn) -> bytes:
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "repeat", "special", "indent"]))
        if action == "insert":
            text = text[:at] + draw(st.text(max_size=8)) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif action == "repeat":
            span = text[at : at + draw(st.integers(1, 40))]
            text = text[:at] + span * draw(st.integers(2, 50)) + text[at:]
        elif action == "special":
            text = text[:at] + draw(st.sampled_from(SPECIALS)) + text[at:]
        else:
            text = text.replace("\n", "\n" + " " * draw(st.integers(1, 3)), 1)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def hostile_jinja(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from(VALID)).splitlines(keepends=True)
    snippet = draw(st.sampled_from(HOSTILE_JINJA)).replace(
        "N", str(draw(st.sampled_from([10, 60, 1000, 100000])))
    )
    at = draw(st.integers(0, len(base)))
    return "".join([*base[:at], snippet, "\n", *base[at:]]).encode()


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from([10, 63, 64, 65, 100, 600, 3000, 20000]))
    return draw(st.sampled_from(NESTERS))(depth).encode()


@st.composite
def odd_types(draw: st.DrawFn) -> bytes:
    document: dict[str, Any] = {"kind": draw(st.sampled_from(["Client", "Scope"]) | ODD_VALUES)}
    for key in draw(st.lists(st.sampled_from(_FIELDS), max_size=6)):
        document[key] = draw(ODD_VALUES)
    return json.dumps(document).encode()  # JSON is YAML: every value lands where it is drawn


_FIELDS = [
    "name", "description", "scopes", "environments", "overrides", "keys", "delegations",
    "integration", "consumers", "allowed_integration_types", "visibility", "kind", "unknown",
]  # fmt: skip


@st.composite
def big_file(draw: st.DrawFn) -> bytes:
    count = draw(st.sampled_from([500, 3000, 12000]))
    shape = draw(st.sampled_from(["documents", "flow", "scalar", "keys", "tags", "literal"]))
    if shape == "tags":
        return ("kind: Client\n" + "{{ x.y }}\n" * count * 5).encode()
    if shape == "literal":
        return ("kind: Client\nname: {{ [" + "[1], " * count * 2 + "1] }}\n").encode()
    if shape == "documents":
        return ("---\n".join([CLIENT.replace("billing", f"c{i}") for i in range(count)])).encode()
    if shape == "flow":
        return ("kind: Client\nscopes: [" + ", ".join(["acme:x"] * count * 4) + "]\n").encode()
    if shape == "scalar":
        return ("kind: Client\nname: " + "x" * count * 60 + "\n").encode()
    return "".join(f"k{i}: {i}\n" for i in range(count * 4)).encode()


MANIFEST = st.one_of(
    mutated_yaml(),
    hostile_jinja(),
    deep_nesting(),
    odd_types(),
    big_file(),
    st.binary(max_size=300),
    mutated_yaml().map(lambda b: b"\xff" + b[1:] if b else b"\xc3"),
    st.sampled_from(VALID).map(lambda t: t.encode("utf-16")),
)
NAMES = st.sampled_from(["a.yaml", "b.yaml.j2", "sub/c.yml", "d.yml.j2", "sub/mpctl.yaml"])
RESOURCES = st.sampled_from(
    [
        None, '["/"]', '["..", "../.."]', '["resources", "/etc"]', '["resources/../.."]',
        '["missing"]', '["resources/a.yaml"]', '[""]', '["."]', '[1, {a: b}]', '"resources"',
        '["\\0"]', '["resources/link"]',
    ]
)  # fmt: skip


KNOWN_BAD = "kind: Scope\nname: acme:known\ndescription: d\nvisibilty: PUBLIC\n"
"""A benign file with one known problem: it must be reported whatever the fuzzed file does."""
KNOWN_BAD_FILE = "resources/known-bad.yaml"


@st.composite
def projects(draw: st.DrawFn) -> dict[str, Any]:
    """One fuzzed manifest (or, one time in ten, a fuzzed mpctl.yaml) among benign files."""
    project = BASE_PROJECT
    resources = draw(RESOURCES)
    if resources is not None:
        project += f"resources: {resources}\n"
    files = {"mpctl.yaml": project.encode(), KNOWN_BAD_FILE: KNOWN_BAD.encode()}
    for _ in range(draw(st.integers(0, 2))):
        files[f"resources/ok-{draw(st.integers(0, 9))}.yaml"] = draw(
            st.sampled_from(VALID)
        ).encode()
    fuzz_project = draw(st.integers(0, 9)) == 0
    if fuzz_project:
        files["mpctl.yaml"] = draw(
            mutated_yaml().map(lambda b: b.replace(b"kind", b"organisation"))
        )
    else:
        files[f"resources/{draw(NAMES)}"] = draw(MANIFEST)
    env = draw(st.sampled_from([None, "test", "prod", "nope"]))
    example: dict[str, Any] = {
        "files": {name: base64.b64encode(data).decode() for name, data in files.items()},
        "env": env,
        "links": {},
        "expect_known": not fuzz_project and resources is None and env != "nope",
    }
    if draw(st.booleans()):
        example["links"]["resources/link"] = draw(st.sampled_from(["/", "/etc/passwd", ".."]))
    return example


def load_example(example: dict[str, Any]) -> dict[str, Any]:
    """Child side: write the project to a temporary directory and load it."""
    from mpctl.manifests import load

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "resources").mkdir()
        for name, data in example["files"].items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(data))
        for name, target in example["links"].items():
            (root / name).symlink_to(target)
        result = load(root, example["env"])
        return {
            "root": str(root),
            "valid": result.desired is not None,
            "diagnostics": [[d.file, d.line, d.code, d.message] for d in result.diagnostics],
        }


def failure_class(example: dict[str, Any], outcome: Outcome) -> str | None:
    """Why `outcome` is a failure (a short class name), or None when it is fine."""
    if outcome.kind != "ok":
        return outcome.kind
    if outcome.seconds > MAX_SECONDS:
        return "slow"
    names = set(example["files"])
    for file, line, code, message in outcome.result["diagnostics"]:
        if code == "MPL009" or UNEXPECTED.search(message) or "Traceback" in message:
            return f"internal:{code}"
        where = file.removeprefix(outcome.result["root"] + "/")
        if not (isinstance(line, int) and line >= 1 and where in names):
            return "unlocated"
    if not outcome.result["valid"] and not outcome.result["diagnostics"]:
        return "silent"
    known = [KNOWN_BAD_FILE, 4, "MPL005"]
    if example["expect_known"] and not any(d[:3] == known for d in _relative(outcome)):
        return "hidden"  # the fuzzed file's failure hid another file's problem
    return None


def _relative(outcome: Outcome) -> list[list[Any]]:
    root = outcome.result["root"] + "/"
    return [[d[0].removeprefix(root), *d[1:]] for d in outcome.result["diagnostics"]]


def describe(failure: str | None, outcome: Outcome, example: dict[str, Any]) -> str:
    """A short account of a failing example (the example itself may be megabytes)."""
    files = {name: base64.b64decode(data)[:300] for name, data in example["files"].items()}
    diagnostics = outcome.result.get("diagnostics", [])[:10]
    what = f"{failure}: {outcome.kind} in {outcome.seconds:.2f} s {outcome.detail}"
    return f"{what}\n{diagnostics}\n{files}"


def test_manifest_loading_survives_hostile_projects() -> None:
    tally = Tally()
    with IsolatedRunner(f"{__name__}:load_example") as runner:

        @fuzz_settings(EXAMPLES)
        @given(projects())
        def check(example: dict[str, Any]) -> None:
            outcome = runner.run(example)
            failure = failure_class(example, outcome)
            tally.add(failure, outcome.seconds)
            assert failure is None, describe(failure, outcome, example)

        try:
            check()
        finally:
            print(tally.report("manifests"))


# a few representative cases through the real CLI -----------------------------------------------

CLI_CASES = {
    "deep-flow": ("a.yaml", _flow(3000).encode(), "MPL004"),
    "string-bomb": ("a.yaml.j2", b"kind: Client\n{{ 'a' * 600000000 }}\n", "MPL006"),
    "recursive-macro": (
        "a.yaml.j2",
        b"kind: Client\n{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}\n",
        "MPL006",
    ),
    "include": ("a.yaml.j2", b"kind: Client\n{% include 'x' %}\n", "MPL006"),
    "kind-list": ("a.yaml", b"kind: [Client]\nname: x\n", "MPL005"),
    "binary": ("a.yaml", b"kind: Client\n\xff\xfe\n", "MPL007"),
}


@pytest.mark.parametrize(("name", "data", "code"), CLI_CASES.values(), ids=list(CLI_CASES))
def test_validate_cli_reports_hostile_file_with_file_and_line(
    example_copy: Path, name: str, data: bytes, code: str
) -> None:
    (example_copy / "resources" / name).write_bytes(data)
    scopes = example_copy / "resources" / "scopes.yaml"
    scopes.write_text(
        scopes.read_text() + "---\nkind: Scope\nname: acme:y\ndescription: d\nvisibilty: x\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mpctl", "validate", "--manifests", str(example_copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done
    output = done.stdout + done.stderr
    assert f"{name}:" in output, output
    assert code in output, output
    assert "MPL005 unknown field 'visibilty'" in output, output  # the other file still reported
    assert "Traceback" not in output, output
    assert "unexpected" not in output, output
