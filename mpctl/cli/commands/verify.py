"""`mpctl verify`: mint a real token for every managed client and delegation, check its claims.

Reads each client's current key from its secret sink (or, with --from-env, the workload's
MASKINPORTEN_* variables), exchanges a fresh grant at the token endpoint with seed 002's retry
budget, verifies the token's signature and claims, and explains failures from Maskinporten's
error catalogue. Exit 0 when every check passed, 1 otherwise. Tokens are never printed.

`collect_checks` and `run_checks` are the same work for a caller in-process (`mpctl gitops
drift`): each check's result as data (`CheckResult`), and clients whose sink holds no key as
`MissingKey` instead of an error.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TextIO

import httpx
import typer

from mpctl.cli import console
from mpctl.cli.environment import Workspace, open_workspace, transport_for
from mpctl.cli.options import DEFAULT_MANIFESTS, EnvOption, ManifestsOption
from mpctl.errors import UserError
from mpctl.model import Client
from mpctl.remote import GrantRequest, TokenObserver, fresh_grants, null_observer, open_http
from mpctl.secrets import PrivateKey
from mpctl.verify import (
    ExpectedClaims,
    JsonLinesEventLog,
    TokenResult,
    credentials_from_env,
    request_token,
    signing_key,
    verify_token,
)


@dataclass(frozen=True)
class CheckProblem:
    """One reason a check failed: the message (without the check's label) and its hint."""

    message: str
    hint: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """How one check ended. `code` is stable: `ok`, Maskinporten's error id (`MP-251`), the
    token endpoint's outcome (`exhausted`, `timeout`, …), `refused` or `claims`."""

    check: Check
    code: str
    problems: tuple[CheckProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class MissingKey:
    """A client whose secret sink holds no current key (or no client id) to verify with."""

    client: str

    @property
    def message(self) -> str:
        return f"client {self.client!r} has no current key"

    hint = "run `mpctl apply`"


@dataclass(frozen=True)
class Check:
    """One token to mint: which client, with which key, for which scopes, for whom."""

    client: str
    client_id: str
    key: PrivateKey
    scopes: tuple[str, ...]
    consumer_org: str | None = None
    delegation_source: str | None = None

    @property
    def label(self) -> str:
        return f"{self.client} for {self.consumer_org}" if self.consumer_org else self.client


def verify(
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    client: Annotated[
        list[str] | None, typer.Option("--client", "-c", help="Only this client (repeatable).")
    ] = None,
    from_env: Annotated[
        bool, typer.Option(help="Use the workload's MASKINPORTEN_* variables for --client.")
    ] = False,
    log_json: Annotated[
        Path | None, typer.Option(help="Write token_request_* events as JSON lines here ('-').")
    ] = None,
) -> int:
    """Prove the result: mint tokens with the current keys and check their claims."""
    workspace = open_workspace(manifests, env)
    if from_env:
        checks = _from_env(workspace, client)
    else:
        checks, missing = asyncio.run(collect_checks(workspace, client))
        if missing:
            raise UserError(missing[0].message, hint=missing[0].hint)
    if not checks:
        raise UserError(
            "nothing to verify",
            hint="no selected client has both a key mpctl manages (not `keys: null`) and a "
            "scope to ask for",
        )
    with ExitStack() as stack:
        stream: TextIO | None = None
        if log_json is not None:
            stream = sys.stdout if str(log_json) == "-" else stack.enter_context(log_json.open("a"))
        observer = JsonLinesEventLog(stream) if stream else null_observer
        results = asyncio.run(run_checks(workspace, checks, observer, on_result=_print_result))
    failures = sum(not result.ok for result in results)
    if failures:
        console.error(f"{failures} of {len(checks)} check(s) failed")
        return 1
    console.success(f"All {len(checks)} token check(s) passed.")
    return 0


def _selected(workspace: Workspace, names: list[str] | None) -> list[tuple[str, Client]]:
    clients = workspace.desired.clients
    unknown = sorted(set(names or ()) - set(clients))
    if unknown:
        raise UserError(f"unknown client(s): {', '.join(unknown)}")
    return [(n, c) for n, c in clients.items() if not names or n in names]


async def collect_checks(
    workspace: Workspace, names: list[str] | None = None
) -> tuple[list[Check], list[MissingKey]]:
    """The checks of the selected clients (every managed one by default) with the keys their
    sinks hold, and the clients whose sink holds no current key."""
    sinks = workspace.open_sinks()
    checks: list[Check] = []
    missing: list[MissingKey] = []
    for name, client in _selected(workspace, names):
        if name not in sinks:
            if names:
                raise UserError(
                    f"client {name!r} has `keys: null`: mpctl manages no key for it, so "
                    "verify cannot mint its token",
                    hint="remove `keys: null` (the default key policy applies) and run "
                    "`mpctl apply`, or verify it with the workload's key: --from-env",
                )
            continue
        state = await sinks[name].read_state(name)
        if state.current is None or state.client_id is None:
            missing.append(MissingKey(name))
            continue
        key = await sinks[name].load_private_key(name, state.current.kid)
        checks += _checks_for(workspace, name, client, state.client_id, key)
    return checks, missing


def _from_env(workspace: Workspace, names: list[str] | None) -> list[Check]:
    if not names or len(names) != 1:
        raise UserError("--from-env verifies one client: pass --client NAME")
    ((name, client),) = _selected(workspace, names)
    allow_http = workspace.environment.emulator is not None
    credentials = credentials_from_env(os.environ, allow_http=allow_http)
    return _checks_for(workspace, name, client, credentials.client_id, credentials.key)


def _checks_for(
    workspace: Workspace, name: str, client: Client, client_id: str, key: PrivateKey
) -> list[Check]:
    own = client.own_scopes
    checks = [Check(name, client_id, key, own)] if own else []
    sources = sorted(set(workspace.environment.delegation_sources.values()))
    source = sources[0] if len(sources) == 1 else None
    for delegation in client.delegations:
        scopes = tuple(sorted(delegation.scopes))
        checks.append(Check(name, client_id, key, scopes, delegation.consumer_org, source))
    return checks


async def run_checks(
    workspace: Workspace,
    checks: list[Check],
    observer: TokenObserver = null_observer,
    *,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Mint and check each token in order; `on_result` hears each result as it ends."""
    results: list[CheckResult] = []
    async with open_http(transport=transport_for(workspace)) as http:
        for check in checks:
            result = await _run_one(workspace, http, check, observer)
            if on_result is not None:
                on_result(result)
            results.append(result)
    return results


async def _run_one(
    workspace: Workspace, http: httpx.AsyncClient, check: Check, observer: TokenObserver
) -> CheckResult:
    environment = workspace.environment
    request = GrantRequest(
        check.client_id, environment.issuer, check.scopes, consumer_org=check.consumer_org
    )
    result = await request_token(
        http,
        str(environment.token_endpoint),
        fresh_grants(signing_key(check.key), request),
        observer=observer,
        client=check.client,
    )
    if not result.ok or result.access_token is None:
        return _refusal(check, result)
    expected = ExpectedClaims(
        issuer=environment.issuer,
        scopes=check.scopes,
        orgno=workspace.desired.organisation.orgno,
        client_id=check.client_id,
        consumer_org=check.consumer_org,
        delegation_source=check.delegation_source,
    )
    problems = await verify_token(http, result.access_token, expected)
    if not problems:
        return CheckResult(check, "ok")
    found = tuple(CheckProblem(f"claim {p.claim}: {p.message}") for p in problems)
    return CheckResult(check, "claims", found)


def _refusal(check: Check, result: TokenResult) -> CheckResult:
    if result.error is None:
        problem = CheckProblem(f"token endpoint {result.outcome} after {result.attempts}")
        return CheckResult(check, str(result.outcome), (problem,))
    diagnosis = result.error.diagnosis
    entry = diagnosis.best
    text = diagnosis.description or diagnosis.error or f"HTTP {result.error.http_status}"
    problem = CheckProblem(
        f"{entry.id + ': ' if entry else ''}{text}",
        f"{entry.cause} Fix: {entry.fix}" if entry else "see `mpctl explain`",
    )
    return CheckResult(check, entry.id if entry else "refused", (problem,))


def _print_result(result: CheckResult) -> None:
    check = result.check
    for problem in result.problems:
        console.error(f"{check.label}: {problem.message}", problem.hint)
    if result.ok:
        console.success(f"  ✓ {check.label}: token for {' '.join(check.scopes)}")
