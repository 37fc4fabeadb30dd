"""The inventory join (`mpctl.state.inventory`) and its renderers (`mpctl.render.inventory`).

Built from hand-made observations: which remote client is which manifest client, each kid's
label and registration, the counts of what is not ours, and text that stays safe to print.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ruamel.yaml import YAML

from mpctl.model import (
    AwsSecretsManagerSink,
    DesiredState,
    FileSink,
    KeyPolicy,
    ObservedAccess,
    ObservedClient,
)
from mpctl.render.inventory import (
    WorkloadValues,
    render_data,
    render_inventory,
    render_view,
    render_workload,
)
from mpctl.state import Snapshot
from mpctl.state.inventory import build_inventory, key_views, sink_location
from tests.unit.plan.builders import (
    CONSUMER_A,
    CONSUMER_B,
    client,
    client_id,
    converged,
    desired,
    jwk,
    jwks,
    scope,
    sink,
    slot,
)


def _world() -> tuple[Snapshot, DesiredState]:
    state = desired(
        clients=[
            client("billing", keys=KeyPolicy()),
            client("ledger", keys=None),
            client("new", keys=KeyPolicy()),
            client("imported", keys=None, adopt="id-stranger"),
        ],
        scopes=[scope("acme:invoices.read", consumers=(CONSUMER_A,))],
    )
    observed = converged(state)
    gone = (client_id("new"), client_id("imported"))
    clients = {k: v for k, v in observed.clients.items() if k not in gone}
    stranger = ObservedClient(client_id="id-stranger", description="Made in the portal")
    clients["id-stranger"] = stranger
    access = {
        "acme:invoices.read": (
            ObservedAccess(scope="acme:invoices.read", consumer_orgno=CONSUMER_A),
            ObservedAccess(scope="acme:invoices.read", consumer_orgno=CONSUMER_B, state="DENIED"),
        )
    }
    observed = type(observed)(
        clients=clients,
        jwks={client_id("billing"): jwks("billing-1", "billing-0", "foreign")},
        scopes=observed.scopes,
        access=access,
    )
    labels = {
        "billing": sink(
            current=slot("billing-1"),
            previous=slot("billing-0"),
            pending=slot("billing-2"),
            client_id=client_id("billing"),
        ),
        "new": sink(),
    }
    return Snapshot(observed, labels), state


def test_each_managed_client_gets_its_remote_id_and_labelled_kids() -> None:
    snapshot, state = _world()
    inventory = build_inventory(state, snapshot)

    assert [c.address for c in inventory.clients] == [
        "client/billing",
        "client/imported",
        "client/ledger",
        "client/new",
    ]
    billing, imported, ledger, new = inventory.clients
    assert billing.client_id == client_id("billing")
    assert [(k.kid, k.label, k.registered) for k in billing.keys] == [
        ("billing-1", "current", True),
        ("billing-2", "pending", False),
        ("billing-0", "previous", True),
        ("foreign", "unknown", True),
    ]
    assert billing.keys[0].expires_at is not None
    assert billing.sink is not None
    assert billing.sink.type == "file"
    assert ledger.sink is None
    assert ledger.keys == ()
    assert new.client_id is None
    assert new.notes == ("not in Digdir: run `mpctl plan` and `mpctl apply`",)
    assert imported.notes == ("not adopted yet: the next apply takes over client_id id-stranger",)
    assert inventory.unmanaged_clients == 1  # id-stranger, until the apply adopts it
    (read,) = inventory.scopes
    assert read.consumers == (CONSUMER_A,)  # the denied record grants nothing


def test_text_lists_every_resource_and_only_counts_what_is_not_ours() -> None:
    snapshot, state = _world()
    inventory = build_inventory(state, snapshot)
    text = render_inventory(inventory)

    assert "\nclient/billing\n  client_id: id-billing\n" in text
    assert "  key billing-2  pending  not registered at Digdir  created " in text
    assert "  keys: not managed by mpctl (keys: null)" in text
    assert text.count("id-stranger") == 1  # in the adoption note only, not listed
    assert "1 remote client is not managed by this project" in text
    assert "mpctl import" in text
    assert render_view(inventory.clients[0]) in text


def test_remote_text_cannot_reach_the_terminal_raw() -> None:
    snapshot, state = _world()
    hostile = snapshot.observed.clients[client_id("billing")].model_copy(
        update={"scopes": ("acme:x\x1b[2J\u202e",)}
    )
    observed = type(snapshot.observed)(
        clients={**snapshot.observed.clients, client_id("billing"): hostile},
        jwks=snapshot.observed.jwks,
    )
    inventory = build_inventory(state, Snapshot(observed, snapshot.sinks))
    text = render_inventory(inventory)
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "\\u001b[2J\\u202e" in text


def test_json_and_yaml_carry_the_same_sorted_data() -> None:
    snapshot, state = _world()
    inventory = build_inventory(state, snapshot)
    as_json = render_data(inventory, "json")
    assert json.loads(as_json) == YAML(typ="safe", pure=True).load(render_data(inventory, "yaml"))
    assert as_json == render_data(inventory, "json")
    assert list(json.loads(as_json)) == sorted(json.loads(as_json))


def test_key_views_without_a_sink_are_digdirs_kids_unlabelled() -> None:
    expiry = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    views = key_views(jwks(jwk("b", exp=expiry), "a"), sink())
    assert [(v.kid, v.label) for v in views] == [("a", "unknown"), ("b", "unknown")]
    assert views[1].expires_at == expiry
    assert key_views(None, sink()) == ()


def test_sink_location_fills_in_the_environment_and_client() -> None:
    assert sink_location(FileSink(), "test", "billing") == "directory=.mpctl/secrets/test"
    aws = AwsSecretsManagerSink(type="aws-secrets-manager", region="eu-north-1")
    assert (
        sink_location(aws, "prod", "billing") == "region=eu-north-1 secret_name=mpctl/prod/billing"
    )


def test_workload_values_show_the_private_key_only_where_asked() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEabc\n-----END PRIVATE KEY-----\n"
    values = WorkloadValues(
        client="billing",
        client_id="id-billing",
        kid="billing-1",
        token_endpoint="https://test.maskinporten.no/token",
        issuer="https://test.maskinporten.no/",
        audience="https://test.maskinporten.no/",
        scopes=("acme:invoices.read",),
        private_key=pem,
    )
    assert "MIIEabc" not in repr(values)
    assert "MIIEabc" not in render_workload(values.model_copy(update={"private_key": None}))
    assert "  MIIEabc\n" in render_workload(values)
    assert json.loads(render_data(values, "json"))["private_key"] == pem
