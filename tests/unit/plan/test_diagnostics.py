"""Plan-time checks: scope access and delegations of scopes only Digdir knows."""

from __future__ import annotations

from typing import Any

import pytest

from mpctl.model import Delegation, ObservedScope, ObservedState
from mpctl.plan.diagnostics import check_desired

from .builders import CONSUMER_A, ORGNO, client, desired, scope

PUBLIC_DELEGABLE = ObservedScope(name="other:deleg", delegation_source="https://tt02.altinn.no/")
PUBLIC_PLAIN = ObservedScope(name="other:plain")
OBSERVED = ObservedState(
    scopes={"acme:remote": ObservedScope(name="acme:remote")},
    consumable_scopes=frozenset({"other:granted"}),
    public_scopes={s.name: s for s in (PUBLIC_DELEGABLE, PUBLIC_PLAIN)},
)


@pytest.mark.parametrize(
    ("used", "codes"),
    [
        ("acme:declared", []),
        ("acme:remote", []),
        ("other:granted", []),
        ("other:deleg", []),
        ("other:plain", ["error:client.scope-no-access"]),
        ("acme:undeclared", ["error:client.scope-no-access"]),
    ],
)
def test_scope_access(used: str, codes: list[str]) -> None:
    state = desired([client(scopes=(used,))], [scope("acme:declared")])
    assert _codes(check_desired(state, OBSERVED)) == codes


def _delegating(scopes: tuple[str, ...], **fields: Any) -> Any:
    consumer = fields.pop("consumer", CONSUMER_A)
    return client(
        scopes=fields.pop("on_client", scopes),
        delegations=(Delegation(consumer_org=consumer, scopes=scopes),),
    )


@pytest.mark.parametrize(
    ("wanted", "declared", "codes"),
    [
        (_delegating(("other:deleg",)), [], []),
        (_delegating(("acme:mine",)), [scope("acme:mine", delegation_source="altinn")], []),
        (
            _delegating(("other:plain",), on_client=("other:granted",)),
            [],
            ["error:delegation.no-source"],
        ),
        (_delegating(("other:unknown",), on_client=()), [], ["warning:delegation.scope-unknown"]),
    ],
)
def test_delegations(wanted: Any, declared: list[Any], codes: list[str]) -> None:
    assert _codes(check_desired(desired([wanted], declared), OBSERVED)) == codes


def test_delegation_messages_name_the_scope_and_the_consumer() -> None:
    wanted = _delegating(("other:plain", "other:unknown"))
    found = check_desired(desired([wanted]), OBSERVED)
    assert {(d.code, str(d.address), d.message) for d in found} >= {
        (
            "delegation.no-source",
            "client/billing",
            f"scope other:plain has no delegation_source, so {CONSUMER_A} cannot delegate it "
            "through Altinn",
        ),
        (
            "delegation.scope-unknown",
            "client/billing",
            f"scope other:unknown (delegated by {CONSUMER_A}) is not declared here nor public at "
            "Digdir",
        ),
    }


MANIFEST_ONLY = {
    "own org as consumer_org (MPL102)": ([_delegating(("other:deleg",), consumer=ORGNO)], []),
    "delegated scope not on the client (MPL112)": (
        [_delegating(("other:deleg",), on_client=("other:granted",))],
        [],
    ),
    "declared scope without delegation_source (MPL103)": (
        [_delegating(("acme:mine",))],
        [scope("acme:mine")],
    ),
    "unknown delegation source name (MPL113)": ([], [scope(delegation_source="altin")]),
}


@pytest.mark.parametrize(("clients", "scopes"), MANIFEST_ONLY.values(), ids=MANIFEST_ONLY.keys())
def test_rules_on_the_manifests_alone_are_left_to_lint(
    clients: list[Any], scopes: list[Any]
) -> None:
    """One home per rule: what needs no observed state is `mpctl.manifests.lint`'s finding, which
    `validate` and `plan` both report (tests/unit/cli/test_validate.py), never a second code."""
    assert _codes(check_desired(desired(clients, scopes), OBSERVED)) == []


def _codes(found: Any) -> list[str]:
    return sorted(f"{d.severity.value}:{d.code}" for d in found)
