"""Key recovery through the real CLI against the embedded emulator (issue 11 item 3).

(a) A lost sink (a fresh CI runner has none): plan refuses to mint another key and names the
kids, apply writes nothing for that client; `apply --rotate NAME` registers a new key beside
the orphan, `keys revoke NAME KID` removes the orphan; verify passes, the next plan is empty.
(b) A compromised key: `apply --rotate NAME --revoke-previous` leaves only the new kid
registered at once (inside the grace) and the old key no longer gets a token.
(c) Refusals, each exit 1 with zero writes: the current kid alone, a preserved kid, the last
key without --allow-delete, a kid nobody has.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mpctl.apply import Verdict
from mpctl.cli.environment import connect, open_workspace
from mpctl.cli.keytest import TokenKeyTester
from mpctl.cli.main import main
from mpctl.model import SinkState
from mpctl.remote import open_http
from mpctl.remote.client import HttpRemote
from mpctl.secrets import PrivateKey, generate_key

Run = Callable[..., tuple[int, str]]
CLIENT = "billing-invoices"


@pytest.fixture
def run(project: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: str) -> tuple[int, str]:
        code = main([*args, "--manifests", str(project)])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return invoke


@pytest.fixture
def converged(run: Run) -> Run:
    code, out = run("apply", "--auto-approve")
    assert code == 0, out
    return run


async def _client_id(remote: HttpRemote, name: str) -> str:
    for client in await remote.list_clients():
        if client.description and client.description.endswith(f"/{name}]"):
            return client.client_id
    raise AssertionError(f"no managed client {name}")


def _registered(project: Path) -> frozenset[str]:
    """The kids Digdir (the emulator) holds for CLIENT."""

    async def read() -> frozenset[str]:
        async with connect(open_workspace(project, None)) as (remote, _):
            return (await remote.get_jwks(await _client_id(remote, CLIENT))).kids

    return asyncio.run(read())


def _sink(project: Path) -> SinkState:
    return asyncio.run(open_workspace(project, None).open_sinks()[CLIENT].read_state(CLIENT))


def _private_key(project: Path, kid: str) -> PrivateKey:
    sink = open_workspace(project, None).open_sinks()[CLIENT]
    return asyncio.run(sink.load_private_key(CLIENT, kid))


def _current_kid(project: Path) -> str:
    current = _sink(project).current
    assert current is not None
    return current.kid


def _lose_the_sink(project: Path) -> None:
    """What a fresh CI runner sees: no sink files for the client."""
    files = list((project / ".mpctl" / "secrets").rglob(f"{CLIENT}.*"))
    assert files
    for path in files:
        path.unlink()


def _written(project: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Everything a write could change: Digdir's objects (not the grants it has seen used,
    which every admin token adds) and every sink file."""
    state = json.loads((project / ".mpctl" / "local" / "emulator-state.json").read_text())
    state.pop("used_grants", None)
    secrets = project / ".mpctl" / "secrets"
    files = {str(p.relative_to(secrets)): p.read_bytes() for p in secrets.rglob("*") if p.is_file()}
    return state, files


def _token_verdict(project: Path, key: PrivateKey) -> Verdict:
    """Ask the emulator's /token for a token signed with `key` for CLIENT's own scopes."""

    async def mint() -> Verdict:
        workspace = open_workspace(project, None)
        environment = workspace.environment
        async with (
            connect(workspace) as (remote, transport),
            open_http(transport=transport) as http,
        ):
            tester = TokenKeyTester(
                http, issuer=environment.issuer, token_endpoint=str(environment.token_endpoint)
            )
            result = await tester.test(
                client_id=await _client_id(remote, CLIENT),
                key=key,
                scopes=workspace.desired.clients[CLIENT].own_scopes,
                consumer_org=None,
            )
            return result.verdict

    return asyncio.run(mint())


def _plan_is_empty(run: Run) -> None:
    code, out = run("plan", "--detailed-exitcode")
    assert code == 0, out
    assert "No changes." in out


def test_a_lost_sink_is_recovered_with_rotate_then_revoke(converged: Run, project: Path) -> None:
    orphan = _current_kid(project)
    _lose_the_sink(project)

    code, out = converged("plan", "--format", "json")
    assert code == 1, out
    plan = json.loads(out)
    assert not [s for s in plan["steps"] if s["address"].startswith(f"client/{CLIENT}")]
    (error,) = [d for d in plan["diagnostics"] if d["code"] == "key.sink-empty"]
    assert error["severity"] == "error"
    assert error["address"] == f"client/{CLIENT}/key"
    assert f"the sink holds no current key; Digdir holds kids {orphan}" in error["message"]
    assert f"mpctl apply --rotate {CLIENT}" in error["message"]
    assert f"mpctl keys revoke {CLIENT} KID" in error["message"]

    before = _written(project)
    code, out = converged("apply", "--auto-approve")
    assert code == 1, out
    assert _written(project) == before  # no key minted, no sink file written
    assert _registered(project) == {orphan}

    code, out = converged("apply", "--rotate", CLIENT, "--auto-approve")
    assert code == 0, out
    new = _current_kid(project)
    assert new != orphan
    assert _registered(project) == {orphan, new}

    code, out = converged("keys", "revoke", CLIENT, orphan, "--auto-approve")
    assert code == 0, out
    assert f"will revoke key {orphan}" in out
    assert _registered(project) == {new}
    assert _current_kid(project) == new

    code, out = converged("verify")
    assert code == 0, out
    _plan_is_empty(converged)


def test_a_compromised_key_is_replaced_and_revoked_in_one_apply(
    converged: Run, project: Path
) -> None:
    old = _current_kid(project)
    old_key = _private_key(project, old)
    assert _token_verdict(project, old_key) is Verdict.OK

    code, out = converged("apply", "--rotate", CLIENT, "--revoke-previous", "--auto-approve")
    assert code == 0, out
    assert "1 key rotation, 1 key revocation" in out
    new = _current_kid(project)
    assert new != old
    assert _registered(project) == {new}  # at once, although the previous key's grace is 1d
    assert _sink(project).previous is None

    assert _token_verdict(project, old_key) is not Verdict.OK
    code, out = converged("verify")
    assert code == 0, out
    _plan_is_empty(converged)


def _refused(run: Run, project: Path, *args: str, says: str) -> None:
    before = _written(project)
    code, out = run(*args)
    assert code == 1, out
    assert says in out
    assert _written(project) == before


def test_revoking_the_current_kid_alone_is_refused(converged: Run, project: Path) -> None:
    current = _current_kid(project)
    _refused(
        converged,
        project,
        "apply",
        "--revoke",
        current,
        "--auto-approve",
        says=f"kid {current} is the sink's current key",
    )
    _refused(
        converged,
        project,
        "keys",
        "revoke",
        CLIENT,
        current,
        "--auto-approve",
        says="key.revoke-refused",
    )
    assert _registered(project) == {current}


def test_revoking_a_preserved_kid_is_refused(converged: Run, project: Path) -> None:
    kept = generate_key(kid="kept-by-hand", created_at=datetime.now(UTC), size=2048)

    async def add(remote: HttpRemote) -> None:
        client_id = await _client_id(remote, CLIENT)
        keys = [
            k.model_dump(mode="json", exclude_none=True)
            for k in (await remote.get_jwks(client_id)).keys
        ]
        await remote.put_jwks(client_id, [*keys, dict(kept.public_jwk)])

    async def edit() -> None:
        async with connect(open_workspace(project, None), access="write") as (remote, _):
            await add(remote)

    asyncio.run(edit())
    config = project / "mpctl.yaml"
    config.write_text(
        config.read_text().replace("grace: 1d", "grace: 1d\n      preserve: [kept-by-hand]")
    )
    _plan_is_empty(converged)

    _refused(
        converged,
        project,
        "keys",
        "revoke",
        CLIENT,
        "kept-by-hand",
        "--auto-approve",
        says="kid kept-by-hand is in keys.preserve",
    )
    assert "kept-by-hand" in _registered(project)


def test_revoking_the_last_key_needs_allow_delete(converged: Run, project: Path) -> None:
    orphan = _current_kid(project)
    _lose_the_sink(project)
    _refused(
        converged,
        project,
        "keys",
        "revoke",
        CLIENT,
        orphan,
        "--auto-approve",
        says="pass --allow-delete",
    )
    assert _registered(project) == {orphan}

    code, out = converged("keys", "revoke", CLIENT, orphan, "--allow-delete", "--auto-approve")
    assert code == 0, out
    assert _registered(project) == frozenset()
    code, out = converged("apply", "--auto-approve")  # no kid left: its first key again
    assert code == 0, out
    assert _registered(project) == {_current_kid(project)}
    _plan_is_empty(converged)


def test_revoking_a_kid_nobody_has_is_refused(converged: Run, project: Path) -> None:
    _refused(
        converged,
        project,
        "keys",
        "revoke",
        CLIENT,
        "nobody-has-this-kid",
        "--auto-approve",
        says="--revoke names a kid no client of local has registered: nobody-has-this-kid",
    )
    _refused(
        converged,
        project,
        "apply",
        "--revoke",
        "nobody-has-this-kid",
        "--auto-approve",
        says="nobody-has-this-kid",
    )


def test_a_previous_key_inside_its_grace_is_revoked_now(converged: Run, project: Path) -> None:
    code, out = converged("apply", "--rotate", CLIENT, "--auto-approve")
    assert code == 0, out
    previous = _sink(project).previous
    assert previous is not None
    code, out = converged("plan")
    assert "rotation in progress" in out  # the grace (1d) holds it

    code, out = converged("keys", "revoke", CLIENT, previous.kid, "--auto-approve")
    assert code == 0, out
    assert _registered(project) == {_current_kid(project)}
    assert _sink(project).previous is None
    code, out = converged("verify")
    assert code == 0, out
    _plan_is_empty(converged)


def test_a_pending_key_left_by_an_interrupted_rotation_is_revoked(
    converged: Run, project: Path
) -> None:
    """A run staged and registered a key, then died (or the key leaked) before promoting it:
    revoking it removes it from Digdir and from the sink, so no later apply promotes it."""
    current = _current_kid(project)
    pending = generate_key(kid=f"{current}.pending", created_at=datetime.now(UTC), size=2048)

    async def stage_and_register() -> None:
        workspace = open_workspace(project, None)
        await workspace.open_sinks()[CLIENT].stage(CLIENT, pending)
        async with connect(workspace, access="write") as (remote, _):
            client_id = await _client_id(remote, CLIENT)
            keys = [
                k.model_dump(mode="json", exclude_none=True)
                for k in (await remote.get_jwks(client_id)).keys
            ]
            await remote.put_jwks(client_id, [*keys, dict(pending.public_jwk)])

    asyncio.run(stage_and_register())
    code, out = converged("plan", "--format", "json", "--detailed-exitcode")
    assert code == 2, out
    assert [s["action"] for s in json.loads(out)["steps"]] == ["promote_key"]

    code, out = converged("keys", "revoke", CLIENT, pending.kid, "--auto-approve")
    assert code == 0, out
    assert _registered(project) == {current}
    assert _sink(project).pending is None
    assert _current_kid(project) == current
    _plan_is_empty(converged)
