"""The canonical form of `mpctl fmt`: order, quoting, comments kept, idempotent, meaning kept."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mpctl.manifests import load
from mpctl.manifests.canonical import (
    CLIENT_ORDER,
    GENERIC,
    SCOPE_ORDER,
    CanonicalFormError,
    _check_comments_kept,
    _check_same_meaning,
    canonical_text,
)
from mpctl.manifests.yaml import load_documents
from mpctl.model import Client, Scope
from tests.conftest import EXAMPLE_MANIFESTS
from tests.isolation import fuzz_settings

FORMAT_EXAMPLES = int(os.environ.get("MPCTL_FUZZ_EXAMPLES", "40"))
"""40 fixed examples in the test command; MPCTL_FUZZ_EXAMPLES=1000 for a random long run."""


def _keys(text: str) -> list[list[str]]:
    return [list(document.data) for document in load_documents(text)[0]]


def test_client_keys_follow_the_model_with_kind_and_name_first_and_unknown_keys_last() -> None:
    text = (
        "scopes: [acme:a]\n"
        "surprise: 1\n"
        "environments: [test]\n"
        "description: d\n"
        "name: c\n"
        "keys:\n"
        "  grace: 2d\n"
        "  algorithm: RS256\n"
        "kind: Client\n"
        "access_token_lifetime: 60\n"
    )
    result = canonical_text(text)
    assert result == (
        "kind: Client\n"
        "name: c\n"
        "description: d\n"
        "scopes: [acme:a]\n"
        "access_token_lifetime: 60\n"
        "keys:\n"
        "  algorithm: RS256\n"
        "  grace: 2d\n"
        "environments: [test]\n"
        "surprise: 1\n"
    )
    assert CLIENT_ORDER[:2] == ("kind", "name")
    assert list(CLIENT_ORDER[2:]) == [
        key for key in Client.model_fields if key not in ("kind", "name")
    ]


def test_scope_overrides_are_ordered_as_the_scope_and_environments_keep_their_order() -> None:
    text = (
        "kind: Scope\n"
        "name: acme:x\n"
        "description: d\n"
        "overrides:\n"
        "  test:\n"
        "    consumers: []\n"
        "    visibility: PRIVATE\n"
        "  prod:\n"
        "    at_max_age: 60\n"
        "    description: p\n"
    )
    result = canonical_text(text)
    data = load_documents(result)[0][0].data
    assert list(data["overrides"]) == ["test", "prod"]
    assert list(data["overrides"]["test"]) == ["visibility", "consumers"]
    assert list(data["overrides"]["prod"]) == ["description", "at_max_age"]
    assert SCOPE_ORDER[:2] == ("kind", "name")


def test_the_project_file_reads_identity_then_resources_then_environments() -> None:
    text = (
        "defaults:\n"
        "  client: {keys: {algorithm: RS256}, access_token_lifetime: 60}\n"
        "environments:\n"
        "  prod: {digdir: prod}\n"
        "  local: {issuer: x}\n"
        "resources: [resources]\n"
        "default_env: local\n"
        "organisation:\n"
        "  name: ACME AS\n"
        "  orgno: 313367002\n"
        "project: acme\n"
    )
    result = canonical_text(text, project_file=True)
    assert _keys(result) == [
        ["project", "organisation", "default_env", "resources", "environments", "defaults"]
    ]
    data = load_documents(result)[0][0].data
    assert list(data["organisation"]) == ["orgno", "name"]
    assert list(data["environments"]) == ["prod", "local"]
    assert list(data["defaults"]["client"]) == ["access_token_lifetime", "keys"]
    assert '  orgno: "313367002"\n' in result


def test_org_numbers_become_double_quoted_strings_and_other_numbers_stay() -> None:
    text = (
        "kind: Scope\n"
        "name: acme:x\n"
        "description: 910753614\n"
        "at_max_age: 120\n"
        "consumers: [910753614, '923456783', 091234567]\n"
        "overrides:\n"
        "  prod:\n"
        "    consumers:\n"
        "    - 934567897\n"
        "---\n"
        "kind: Client\n"
        "name: c\n"
        "description: d\n"
        "delegations:\n"
        "- consumer_org: 910753614\n"
        "  scopes: [brreg:x]\n"
    )
    assert canonical_text(text) == (
        "kind: Scope\n"
        "name: acme:x\n"
        "description: 910753614\n"
        "at_max_age: 120\n"
        'consumers: ["910753614", "923456783", "091234567"]\n'
        "overrides:\n"
        "  prod:\n"
        "    consumers:\n"
        '      - "934567897"\n'
        "---\n"
        "kind: Client\n"
        "name: c\n"
        "description: d\n"
        "delegations:\n"
        '  - consumer_org: "910753614"\n'
        "    scopes: [brreg:x]\n"
    )


def test_comments_and_blank_lines_move_with_the_key_they_stand_above() -> None:
    text = (
        "# yaml-language-server: $schema=../schema.json\n"
        "name: x  # why this name\n"
        "# what the description is for\n"
        "description: d\n"
        "scopes:\n"
        "  - a  # the first\n"
        "  # between the items\n"
        "  - b\n"
        "# the kind\n"
        "\n"
        "kind: Client\n"
        "keys:\n"
        "  kid_format: thumbprint\n"
        "  # still about keys\n"
        "\n"
        "# the end of the file\n"
    )
    assert canonical_text(text) == (
        "# yaml-language-server: $schema=../schema.json\n"
        "# the kind\n"
        "\n"
        "kind: Client\n"
        "name: x  # why this name\n"
        "# what the description is for\n"
        "description: d\n"
        "scopes:\n"
        "  - a  # the first\n"
        "  # between the items\n"
        "  - b\n"
        "keys:\n"
        "  kid_format: thumbprint\n"
        "  # still about keys\n"
        "\n"
        "# the end of the file\n"
    )


def test_the_head_keeps_its_file_comments_and_gives_the_first_key_its_own() -> None:
    text = "# the file\n\n# about the name\nname: x\nkind: Client\ndescription: d\n"
    assert canonical_text(text) == (
        "# the file\n\nkind: Client\n# about the name\nname: x\ndescription: d\n"
    )
    without_blank_line = "# the file, or the name?\nname: x\nkind: Client\ndescription: d\n"
    assert canonical_text(without_blank_line) == (
        "# the file, or the name?\nkind: Client\nname: x\ndescription: d\n"
    )


def test_a_comment_after_a_block_scalar_moves_with_the_next_key() -> None:
    text = "kind: Scope\ndescription: |\n  two\n  lines\n# the name\nname: acme:x\n"
    assert canonical_text(text) == (
        "kind: Scope\n# the name\nname: acme:x\ndescription: |\n  two\n  lines\n"
    )


def test_indentation_nulls_document_markers_and_the_final_newline_are_normalised() -> None:
    text = (
        "---\n"
        "kind: Client\n"
        "name: a\n"
        "description: d\n"
        "scopes:\n"
        "- acme:a\n"
        "keys:\n"
        "overrides:\n"
        "    prod:\n"
        "        scopes:\n"
        "        -   acme:b\n"
        "...\n"
        "---\n"
        "kind: Client\n"
        "name: b\n"
        "description: ~\n"
        "\n\n\n"
    )
    assert canonical_text(text) == (
        "kind: Client\n"
        "name: a\n"
        "description: d\n"
        "scopes:\n"
        "  - acme:a\n"
        "keys: null\n"
        "overrides:\n"
        "  prod:\n"
        "    scopes:\n"
        "      - acme:b\n"
        "---\n"
        "kind: Client\n"
        "name: b\n"
        "description: null\n"
    )


def test_windows_line_endings_become_unix_ones_in_comments_too() -> None:
    text = "name: x  # eol\r\n# about kind\r\nkind: Client\r\n"
    assert canonical_text(text) == "# about kind\nkind: Client\nname: x  # eol\n"


def test_a_document_of_no_known_kind_keeps_its_order() -> None:
    text = "zeta: 1\nalpha: [1, 2]\norgno: 313367002\n"
    assert canonical_text(text) == text


def test_text_that_does_not_parse_is_refused_with_its_line() -> None:
    with pytest.raises(CanonicalFormError) as caught:
        canonical_text("kind: Client\nname: c\nscopes: [a\n")
    assert caught.value.line >= 3
    with pytest.raises(CanonicalFormError) as duplicate:
        canonical_text("kind: Client\nname: a\nname: b\n")
    assert duplicate.value.line == 3
    assert "duplicate key" in duplicate.value.message


def test_documents_that_are_not_mappings_are_refused_and_comment_only_files_kept() -> None:
    with pytest.raises(CanonicalFormError) as empty:
        canonical_text("kind: Client\nname: c\n---\n# nothing here\n")
    assert (empty.value.line, empty.value.message) == (3, "an empty document: remove this `---`")
    with pytest.raises(CanonicalFormError, match="a list, not a mapping"):
        canonical_text("- kind: Client\n")
    assert canonical_text("# to be written\n\n") == "# to be written\n\n"


def test_a_result_that_lost_a_comment_or_changed_a_value_is_refused() -> None:
    _check_comments_kept("a: 1  # kept\n# also\n", "# also\na: 1  # kept\n")
    with pytest.raises(CanonicalFormError, match="lose or repeat a comment"):
        _check_comments_kept("a: 1  # kept\n# also\n", "a: 1  # kept\n")
    _check_same_meaning([{"a": 1}], [GENERIC], "a: 1\n")
    with pytest.raises(CanonicalFormError, match="change what the file means"):
        _check_same_meaning([{"a": 1}], [GENERIC], "a: '1'\n")


def _example_files() -> list[Path]:
    return sorted(
        path
        for path in EXAMPLE_MANIFESTS.rglob("*.yaml")
        if not any(part.startswith(".") for part in path.relative_to(EXAMPLE_MANIFESTS).parts)
    )


@pytest.mark.parametrize("path", _example_files(), ids=lambda path: path.name)
def test_the_example_project_is_already_canonical(path: Path) -> None:
    text = path.read_text()
    assert canonical_text(text, project_file=path.name == "mpctl.yaml") == text


def _scrambled(text: str) -> str:
    """The same documents with keys reversed, org numbers unquoted and sequences unindented."""
    yaml = YAML(typ="rt")
    documents = list(yaml.load_all(text))
    for document in documents:
        for key in reversed(list(document)):
            document.move_to_end(key)
    out = io.StringIO()
    yaml.indent(mapping=4, sequence=2, offset=0)
    yaml.dump_all(documents, out)
    return out.getvalue().replace('"313367002"', "313367002").replace('"910753614"', "910753614")


def test_formatting_a_scrambled_example_project_keeps_every_environment_the_same(
    tmp_path: Path,
) -> None:
    project = tmp_path / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, project, ignore=shutil.ignore_patterns(".mpctl"))
    environments = ("local", "test", "prod")
    original = {env: load(project, env).desired for env in environments}
    assert all(original.values())
    files = [path for path in sorted(project.rglob("*.yaml")) if path.name != "emulator-world.yaml"]
    for path in files:
        path.write_text(_scrambled(path.read_text()))
    scrambled = {env: load(project, env).desired for env in environments}
    for path in files:
        path.write_text(canonical_text(path.read_text(), project_file=path.name == "mpctl.yaml"))
    formatted = {env: load(project, env).desired for env in environments}
    assert scrambled == original
    assert formatted == original
    for path in files:
        text = path.read_text()
        assert canonical_text(text, project_file=path.name == "mpctl.yaml") == text


# Generated manifests: documents of valid fields in a random order, with comments, in
# either sequence style; the canonical form must be a fixed point and mean the same.

_NAMES = st.from_regex(r"\A[a-z][a-z0-9-]{0,10}[a-z0-9]\Z")
_SCOPES = st.lists(st.sampled_from(["acme:a", "acme:b/c", "brreg:x"]), unique=True, max_size=3)
_ORGNOS = st.lists(st.sampled_from([910753614, "923456783", 934567897]), unique=True, max_size=3)
_TEXT = st.sampled_from(["plain text", "'quoted: yes'", '"double # not a comment"', "ø æ å"])
_CLIENT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "description": _TEXT,
    "scopes": _SCOPES,
    "access_token_lifetime": st.integers(1, 86400),
    "grant_lifetime": st.integers(1, 120),
    "keys": st.fixed_dictionaries(
        {}, optional={"algorithm": st.just("RS384"), "size": st.just(4096)}
    ),
    "delegations": st.lists(
        st.fixed_dictionaries(
            {"consumer_org": st.sampled_from([910753614]), "scopes": _SCOPES.filter(bool)}
        ),
        max_size=1,
    ),
    "environments": st.lists(st.sampled_from(["test", "prod"]), unique=True, max_size=2),
    "overrides": st.fixed_dictionaries(
        {},
        optional={
            "prod": st.fixed_dictionaries(
                {},
                optional={
                    "scopes": _SCOPES,
                    "access_token_lifetime": st.integers(1, 600),
                    "description": _TEXT,
                },
            )
        },
    ),
}
_SCOPE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "description": _TEXT,
    "visibility": st.sampled_from(["PUBLIC", "PRIVATE"]),
    "at_max_age": st.integers(0, 86400),
    "consumers": _ORGNOS,
    "accessible_for_all": st.booleans(),
}


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return str(value)


def _value(value: Any, indent: int, block: bool) -> str:
    """` value` on the key's line, or the block lines under it (sequences indented or not)."""
    pad = " " * indent
    if isinstance(value, dict) and value and block:
        return "".join(f"\n{pad}  {k}:{_value(v, indent + 2, block)}" for k, v in value.items())
    if isinstance(value, list) and value and block:
        dash = pad if indent == 0 else pad + "  "
        items = [_value(item, len(dash) + 2, block).removeprefix(" ") for item in value]
        return "".join(f"\n{dash}- {item.strip()}" for item in items if "\n" not in item) + "".join(
            f"\n{dash}- {_flow(item)}"
            for item, text in zip(value, items, strict=True)
            if "\n" in text
        )
    return f" {_flow(value)}"


@st.composite
def _documents(draw: st.DrawFn) -> tuple[str, type[Client] | type[Scope]]:
    kind = draw(st.sampled_from(["Client", "Scope"]))
    fields = _CLIENT_FIELDS if kind == "Client" else _SCOPE_FIELDS
    name = draw(_NAMES) if kind == "Client" else "acme:" + draw(_NAMES).replace("-", "")
    chosen = {"kind": kind, "name": name, "description": "d"}
    for key, strategy in fields.items():
        if draw(st.booleans()):
            chosen[key] = draw(strategy)
    keys = draw(st.permutations(list(chosen)))
    block = draw(st.booleans())
    lines = []
    for key in keys:
        if draw(st.booleans()):
            lines.append("")
        if draw(st.booleans()):
            lines.append(f"# about {key}")
        comment = f"  # {key} at the end" if draw(st.booleans()) else ""
        value = _value(chosen[key], 0, block)
        first, _, rest = value.partition("\n")
        lines.append(f"{key}:{first}{comment}{chr(10) if rest else ''}{rest}")
    return "\n".join(lines) + "\n", Client if kind == "Client" else Scope


def _models(text: str, model: type[Client] | type[Scope]) -> list[Client | Scope]:
    return [model.model_validate(document.data) for document in load_documents(text)[0]]


@settings(fuzz_settings(FORMAT_EXAMPLES, derandomize_up_to=40))
@given(_documents())
def test_generated_manifests_format_to_a_fixed_point_that_means_the_same(
    generated: tuple[str, type[Client] | type[Scope]],
) -> None:
    text, model = generated
    once = canonical_text(text)
    assert canonical_text(once) == once
    assert _models(once, model) == _models(text, model)
    order = CLIENT_ORDER if model is Client else SCOPE_ORDER
    keys = _keys(once)[0]
    assert keys == sorted(keys, key=order.index)
    assert sorted(line for line in once.splitlines() if "# about" in line) == sorted(
        line for line in text.splitlines() if "# about" in line
    )


def test_a_hash_inside_a_quoted_value_is_text_not_a_comment() -> None:
    """Found by the property test: a quoted ' # ' in a flow mapping was taken for a comment,
    and the formatter refused a file it formats correctly."""
    text = (
        "kind: Client\nname: a0\ndescription: d\n"
        'overrides: {prod: {scopes: [], description: "double # not a comment"}}\n'
    )
    formatted = canonical_text(text)
    assert 'description: "double # not a comment"' in formatted
    assert canonical_text(formatted) == formatted
