"""Planted secrets: values that reach a plan from remote text never reach any rendered output."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mpctl.model import ObservedClient, ObservedJwks
from mpctl.plan import Plan
from mpctl.render import build_document, render_human, render_json, render_markdown
from tests.unit.plan import scenario
from tests.unit.plan.builders import client_id, jwks

PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
PEM = f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----"
JWT_HEAD = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0"
JWT_SIGNATURE = "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJVadQssw5c"
JWT = f"{JWT_HEAD}.eyJzdWIiOiI5MTA3NTM2MTQiLCJzY29wZSI6ImFjbWUifQ.{JWT_SIGNATURE}"
FRAGMENTS = (PEM_BODY, "PRIVATE KEY", JWT_HEAD, JWT_SIGNATURE)


def _planted_plan() -> Plan:
    """The scenario with secrets pasted where people paste things."""
    base = scenario.inputs()
    observed = base.observed
    billing = observed.clients[client_id("billing")]
    clients = dict(observed.clients)
    clients[billing.client_id] = billing.model_copy(
        update={"description": f"key is {PEM} [mpctl:billing]"}
    )
    clients["id-paste"] = ObservedClient(client_id="id-paste", client_name=f"token {JWT}")
    scopes = dict(observed.scopes)
    scopes["acme:orders"] = scopes["acme:orders"].model_copy(update={"description": JWT})
    keys: dict[str, ObservedJwks] = dict(observed.jwks)
    keys[client_id("archive")] = jwks("archive-0", JWT)
    planted = type(observed)(
        clients=clients,
        scopes=scopes,
        jwks=keys,
        access=observed.access,
        consumable_scopes=observed.consumable_scopes,
        public_scopes=observed.public_scopes,
    )
    return scenario.plan(scenario=scenario.Inputs(base.desired, planted, base.sinks))


RENDERERS: dict[str, Callable[[Plan], str]] = {
    "human": lambda p: render_human(build_document(p)),
    "human-colour": lambda p: render_human(build_document(p), color=True),
    "markdown": lambda p: render_markdown(build_document(p)),
    "json": lambda p: render_json(build_document(p)),
}


def test_the_planted_secrets_never_reach_the_saved_plan() -> None:
    raw = _planted_plan().to_json()
    assert [fragment for fragment in FRAGMENTS if fragment in raw] == []
    assert "(sensitive)" in raw


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
def test_no_rendered_output_contains_a_planted_secret(renderer: str) -> None:
    output = RENDERERS[renderer](_planted_plan())
    leaked = [fragment for fragment in FRAGMENTS if fragment in output]
    assert leaked == []
    assert "(sensitive)" in output
