"""Secrets pasted into Digdir's free text never reach a plan, whatever the format.

Someone pastes `Bearer abc.def.ghi` and `client_secret=hunter2` into a managed client's
description in Samarbeidsportalen, and a token into the name of a client mpctl does not manage.
The plan then shows the description drift and lists the unmanaged client: in text, markdown
(the pull-request comment) and json, through the real CLI against the embedded emulator, and
none of them may print the planted values. Before one redaction existed, the renderers only
knew PEM blocks and JWTs, and printed both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from mpctl.cli.environment import connect, open_workspace
from mpctl.cli.main import main
from mpctl.model import ClientRegistration, ObservedClient
from mpctl.redaction import SENSITIVE
from mpctl.remote.client import HttpRemote

HAND_MADE = "5f3c9e2a-7b1d-4e8f-a6c4-0d2b9f1e7a35"  # made "by hand" in the shipped world
PLANTED = ("abc.def.ghi", "hunter2", "s3cr3t-0paque-t0ken")

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(example_copy: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: str) -> tuple[int, str]:
        code = main([args[0], "--manifests", str(example_copy), *args[1:]])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return invoke


def _plant(project: Path) -> None:
    async def go() -> None:
        async with connect(open_workspace(project, None), access="write") as (remote, _):
            await _prepend(remote, _managed_id(await remote.list_clients()), "description")
            await _prepend(remote, HAND_MADE, "client_name")

    asyncio.run(go())


def _managed_id(clients: tuple[ObservedClient, ...]) -> str:
    for client in clients:
        description = client.description or ""
        if "[mpctl:" in description and "saldo-studielan" in description:
            return client.client_id
    raise AssertionError("no managed client saldo-studielan")


async def _prepend(remote: HttpRemote, client_id: str, field: str) -> None:
    current = (await remote.get_client(client_id)).model_dump(mode="json")
    body = {k: v for k, v in current.items() if k not in {"client_id", "created", "last_updated"}}
    pasted = "Bearer abc.def.ghi client_secret=hunter2 Authorization: Bearer s3cr3t-0paque-t0ken"
    body[field] = f"{pasted} {body.get(field) or ''}".strip()
    await remote.update_client(client_id, ClientRegistration.model_validate(body))


@pytest.mark.parametrize("output", ["text", "markdown", "json"])
def test_a_plan_never_prints_secrets_pasted_at_digdir(
    run: Run, example_copy: Path, output: str
) -> None:
    code, out = run("apply", "--auto-approve")
    assert code == 0, out
    _plant(example_copy)
    code, out = run("plan", "--format", output, "--detailed-exitcode")
    assert code == 2, out
    assert "saldo-studielan" in out  # the drift is shown...
    assert SENSITIVE in out  # ...with the pasted secrets hidden
    assert [secret for secret in PLANTED if secret in out] == []
    code, out = run("apply", "--auto-approve")  # the drift is undone...
    assert code == 0, out
    assert [secret for secret in PLANTED if secret in out] == []
    code, out = run("plan", "--detailed-exitcode")  # ...and apply → plan is empty
    assert code == 0, out
