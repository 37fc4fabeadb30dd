"""Element-level list changes in every renderer: `+ scopes = "x"` / `- scopes = "y"` lines,
glyph rows in Markdown, `op` in JSON, and redaction of a secret-looking element."""

from __future__ import annotations

import json
from typing import Any

from mpctl.model import ObservedState
from mpctl.plan import PlanOptions, make_plan
from mpctl.plan.types import FieldChange, Plan
from mpctl.render import (
    SENSITIVE,
    build_document,
    redact_plan,
    render_human,
    render_json,
    render_markdown,
)
from tests.unit.plan.builders import NOW, client, client_id, converged, desired, observed_client
from tests.unit.plan.builders import scope as make_scope

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJVadQssw5c"


def _plan(wanted: tuple[str, ...], remote: list[str], **drift: Any) -> Plan:
    """billing declares `wanted` scopes; Digdir shows `remote` (plus `drift`)."""
    state = desired(
        [client("billing", scopes=wanted)],
        [make_scope(name) for name in ("acme:keep", "acme:new", "acme:old")],
    )
    base = converged(state)
    billing = observed_client(state.clients["billing"], state, scopes=remote, **drift)
    observed = ObservedState(
        clients={**base.clients, client_id("billing"): billing},
        scopes=base.scopes,
        access=base.access,
    )
    return make_plan(state, observed, {}, options=PlanOptions(), now=NOW, manifests_fingerprint="m")


SWAPPED = _plan(("acme:keep", "acme:new"), ["acme:keep", "acme:old"], client_name="by hand")


def test_human_shows_one_line_per_element_and_arrows_for_scalars() -> None:
    text = render_human(build_document(SWAPPED))
    assert (
        "  ~ client/billing\n"
        '      ~ client_name = "by hand" → "ACME - billing - test"\n'
        '      - scopes      = "acme:old"\n'
        '      + scopes      = "acme:new"\n'
    ) in text
    assert "acme:keep" not in text.split("~ client/billing")[1]
    assert "[" not in text.split("~ client/billing")[1].split("\n\n")[0]


def test_coloured_element_lines_take_their_glyph_colour() -> None:
    text = render_human(build_document(SWAPPED), color=True)
    assert '\x1b[31m      - scopes      = "acme:old"\x1b[0m' in text
    assert '\x1b[32m      + scopes      = "acme:new"\x1b[0m' in text


def test_markdown_rows_carry_the_glyph() -> None:
    text = render_markdown(build_document(SWAPPED))
    assert "|  | Field | Old | New |\n|---|---|---|---|\n" in text
    assert (
        '| <code>&#126;</code> | <code>client&#95;name</code> | <code>"by hand"</code> | '
        '<code>"ACME - billing - test"</code> |\n'
        '| <code>-</code> | <code>scopes</code> | <code>"acme&#58;old"</code> |  |\n'
        '| <code>+</code> | <code>scopes</code> |  | <code>"acme&#58;new"</code> |\n'
    ) in text


def test_json_carries_op_and_one_element_per_change() -> None:
    (step,) = json.loads(render_json(build_document(SWAPPED)))["steps"]
    assert [(c["op"], c["path"], c["old"], c["new"]) for c in step["changes"]] == [
        ("set", ["client_name"], "by hand", "ACME - billing - test"),
        ("remove", ["scopes"], "acme:old", None),
        ("add", ["scopes"], None, "acme:new"),
    ]


def test_a_secret_looking_remote_element_is_masked_and_keeps_its_op() -> None:
    """Digdir's side is free text: a JWT someone put in a client's scopes never shows."""
    document = build_document(_plan(("acme:keep",), ["acme:keep", JWT]))
    (change,) = document.plan.steps[0].changes
    assert (change.op, change.path, change.new) == ("remove", ("scopes",), None)
    assert change.old == SENSITIVE
    for text in (render_human(document), render_markdown(document), render_json(document)):
        assert JWT not in text
    assert f'      - scopes = "{SENSITIVE}"\n' in render_human(document)


def test_redact_plan_masks_an_element_the_planner_left_and_keeps_the_change_valid() -> None:
    """A loaded plan file is not trusted to be redacted: its element changes are masked too."""
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    leaked = FieldChange(path=("scopes",), op="remove", old=pem)
    step = SWAPPED.steps[0].model_copy(update={"changes": (leaked,)})
    (change,) = redact_plan(SWAPPED.model_copy(update={"steps": (step,)})).steps[0].changes
    assert (change.op, change.old, change.new, change.sensitive) == (
        "remove",
        SENSITIVE,
        None,
        True,
    )
