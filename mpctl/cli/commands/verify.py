"""`mpctl verify`: mint a real token for every managed client and delegation, check its claims.

Reads each client's current key from its secret sink (or, with --from-env, the workload's
MASKINPORTEN_* variables), exchanges a fresh grant at the token endpoint with seed 002's retry
budget, verifies the token's signature and claims, and explains failures from Maskinporten's
error catalogue. Exit 0 when every check passed, 1 otherwise. Tokens are never printed.
`--format json` prints one `VerifyReport` (mpctl.verify.report) on stdout and nothing else:
every check, the failed and the skipped ones too, with the claims checked and the catalogue's
cause and fix; progress and errors go to stderr. A run fetches the issuer's keys once
(`IssuerKeys`) and parses each private key once per process (`current_key`); `--parallelism N`
mints N tokens at once, the output still in check order.

`collect_checks` and `run_checks` are the same work for a caller in-process (`mpctl gitops
drift`): each check's result as data (`CheckResult`), and clients whose sink holds no key as
`MissingKey` instead of an error.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, TextIO

import httpx
import typer

from mpctl.cli import console, logs
from mpctl.cli.environment import Workspace, open_workspace, transport_for
from mpctl.cli.options import DEFAULT_MANIFESTS, EnvOption, ManifestsOption
from mpctl.errors import UserError
from mpctl.model import Client, DesiredState
from mpctl.plan import managed_sinks
from mpctl.remote import (
    CallEvent,
    GrantRequest,
    TokenObserver,
    fresh_grants,
    null_observer,
    open_http,
    watch_calls,
)
from mpctl.secrets import PrivateKey
from mpctl.verify import (
    CheckReport,
    ClaimCheck,
    ClaimReport,
    Entry,
    ExpectedClaims,
    IssuerKeys,
    JsonLinesEventLog,
    TokenResult,
    VerifyReport,
    build_report,
    credentials_from_env,
    current_key,
    request_token,
    signing_key,
    verify_token_checks,
)

OutputFormat = Literal["text", "json"]
MAX_PARALLELISM = 32
"""Token requests in flight at once at most: enough for thousands of clients, gentle on the
token endpoint (each request is still retried under seed 002's budget)."""


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
    token: TokenResult | None = None
    claims: tuple[ClaimCheck, ...] = ()
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def entry(self) -> Entry | None:
        """The catalogue's entry for a refusal, when it knows the error."""
        error = self.token.error if self.token else None
        return error.diagnosis.best if error else None


@dataclass(frozen=True)
class MissingKey:
    """A client whose secret sink holds no current key (or no client id) to verify with."""

    client: str

    @property
    def message(self) -> str:
        return f"client {self.client!r} has no current key"

    hint = "run `mpctl apply`"


@dataclass(frozen=True)
class Unmanaged:
    """A client with `keys: null`: mpctl holds no key for it, so verify skips it."""

    client: str
    reason = "keys: null: mpctl manages no key for this client (verify it with --from-env)"


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

    @property
    def address(self) -> str:
        """`client/<name>`, or `client/<name>/delegation/<orgno>` for a delegation."""
        own = f"client/{self.client}"
        return f"{own}/delegation/{self.consumer_org}" if self.consumer_org else own


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
    output: Annotated[
        OutputFormat,
        typer.Option("--format", help="Output format: text, or json (one report on stdout)."),
    ] = "text",
    parallelism: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_PARALLELISM,
            help="Tokens minted at once; 1 mints them one at a time. Output keeps check order.",
        ),
    ] = 1,
) -> int:
    """Prove the result: mint tokens with the current keys and check their claims."""
    if output == "json" and log_json is not None and str(log_json) == "-":
        raise UserError(
            "--format json and --log-json - would both write to stdout",
            hint="give --log-json a file name",
        )
    started = time.perf_counter()
    workspace = open_workspace(manifests, env)
    unchecked: list[CheckReport] = []
    if from_env:
        checks = _from_env(workspace, client)
    else:
        checks, missing = asyncio.run(collect_checks(workspace, client))
        if missing and output == "text":
            raise UserError(missing[0].message, hint=missing[0].hint)
        unchecked = [_missing_entry(m) for m in missing]
        unchecked += [_unmanaged_entry(u) for u in unmanaged_clients(workspace, client)]
    if not checks and not any(entry.outcome == "failed" for entry in unchecked):
        raise UserError(
            "nothing to verify",
            hint="no selected client has both a key mpctl manages (not `keys: null`) and a "
            "scope to ask for",
        )
    requests: Counter[str] = Counter()
    with ExitStack() as stack:
        stream: TextIO | None = None
        if log_json is not None:
            stream = sys.stdout if str(log_json) == "-" else stack.enter_context(log_json.open("a"))
        observer = JsonLinesEventLog(stream) if stream else null_observer
        results = asyncio.run(
            run_checks(
                workspace,
                checks,
                observer,
                on_result=_print_result if output == "text" else _print_progress,
                on_call=lambda event: requests.update([_request_name(event)]),
                parallelism=parallelism,
            )
        )
    if output == "json":
        report = build_report(
            environment=workspace.env_name,
            issuer=workspace.environment.issuer,
            checks=sorted([*map(_entry, results), *unchecked], key=lambda e: e.address),
            requests=requests,
            duration_ms=_milliseconds_since(started),
        )
        return _print_report(report)
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


KEY_LOADS_AT_ONCE = 8
"""Sinks read (and keys parsed, in worker threads) at once while the checks are collected."""


async def collect_checks(
    workspace: Workspace, names: list[str] | None = None
) -> tuple[list[Check], list[MissingKey]]:
    """The checks of the selected clients (every managed one by default) with the keys their
    sinks hold, and the clients whose sink holds no current key. Sinks are read a few at a
    time; each key is parsed once per process (`current_key`)."""
    sinks = workspace.open_sinks()
    selected = [(n, c) for n, c in _selected(workspace, names) if n in sinks]
    unmanaged = unmanaged_clients(workspace, names) if names else []
    if unmanaged:
        raise UserError(
            f"client {unmanaged[0].client!r} has `keys: null`: mpctl manages no key for it, so "
            "verify cannot mint its token",
            hint="remove `keys: null` (the default key policy applies) and run "
            "`mpctl apply`, or verify it with the workload's key: --from-env",
        )
    limit = asyncio.Semaphore(KEY_LOADS_AT_ONCE)

    async def load(name: str) -> tuple[str, PrivateKey] | None:
        async with limit:
            state = await sinks[name].read_state(name)
            if state.current is None or state.client_id is None:
                return None
            return state.client_id, await current_key(sinks[name], name, state.current)

    loaded = await asyncio.gather(*(load(name) for name, _ in selected))
    checks: list[Check] = []
    missing: list[MissingKey] = []
    for (name, client), found in zip(selected, loaded, strict=True):
        if found is None:
            missing.append(MissingKey(name))
        else:
            checks += _checks_for(workspace, name, client, *found)
    return checks, missing


def unmanaged_clients(workspace: Workspace, names: list[str] | None = None) -> list[Unmanaged]:
    """The selected clients with `keys: null` (no secret sink): verify has no key for them."""
    managed = managed_sinks(workspace.desired)
    return [Unmanaged(name) for name, _ in _selected(workspace, names) if name not in managed]


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
    on_call: Callable[[CallEvent], None] | None = None,
    parallelism: int = 1,
) -> list[CheckResult]:
    """Mint and check each token, `parallelism` at a time; the results, and `on_result`'s
    calls, come in the order of `checks` whatever order they end in. `on_call` hears each HTTP
    response. The issuer's keys are fetched once for the whole run."""
    results: list[CheckResult | None] = [None] * len(checks)
    reported = 0

    def report_in_order() -> None:
        nonlocal reported
        while reported < len(results) and (ready := results[reported]) is not None:
            if on_result is not None:
                on_result(ready)
            reported += 1

    async with open_http(transport=transport_for(workspace)) as http:
        if on_call is not None:
            watch_calls(http, on_call)
        if logs.requests_logged():
            watch_calls(http, logs.log_call)  # -v: every token request
        issuer_keys = IssuerKeys(http)
        limit = asyncio.Semaphore(parallelism)

        async def run(index: int) -> None:
            async with limit:
                results[index] = await _run_one(
                    workspace, http, issuer_keys, checks[index], observer
                )
            report_in_order()

        await _all_or_first_error([run(index) for index in range(len(checks))])
    return [result for result in results if result is not None]


async def _all_or_first_error(runs: list[Coroutine[None, None, None]]) -> None:
    """Run them all; the first failure cancels the rest and is raised as itself (not as an
    ExceptionGroup), so the CLI's error boundary reports it as before."""
    try:
        async with asyncio.TaskGroup() as group:
            for coroutine in runs:
                group.create_task(coroutine)
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None


async def _run_one(
    workspace: Workspace,
    http: httpx.AsyncClient,
    issuer_keys: IssuerKeys,
    check: Check,
    observer: TokenObserver,
) -> CheckResult:
    started = time.perf_counter()
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
        return _refusal(check, result, _milliseconds_since(started))
    expected = ExpectedClaims(
        issuer=environment.issuer,
        scopes=check.scopes,
        orgno=_client_orgno(workspace.desired, check.client),
        client_id=check.client_id,
        consumer_org=check.consumer_org,
        delegation_source=check.delegation_source,
    )
    claims = tuple(await verify_token_checks(issuer_keys, result.access_token, expected))
    found = tuple(
        CheckProblem(f"claim {c.claim}: {c.problem}") for c in claims if c.problem is not None
    )
    return CheckResult(
        check,
        "claims" if found else "ok",
        found,
        token=result,
        claims=claims,
        duration_ms=_milliseconds_since(started),
    )


def _refusal(check: Check, result: TokenResult, duration_ms: int) -> CheckResult:
    if result.error is None:
        problem = CheckProblem(f"token endpoint {result.outcome} after {result.attempts}")
        return CheckResult(check, str(result.outcome), (problem,), result, (), duration_ms)
    diagnosis = result.error.diagnosis
    entry = diagnosis.best
    text = diagnosis.description or diagnosis.error or f"HTTP {result.error.http_status}"
    problem = CheckProblem(
        f"{entry.id + ': ' if entry else ''}{text}",
        f"{entry.cause} Fix: {entry.fix}" if entry else "see `mpctl explain`",
    )
    code = entry.id if entry else "refused"
    return CheckResult(check, code, (problem,), result, (), duration_ms)


def _milliseconds_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _request_name(event: CallEvent) -> str:
    return f"{event.method} {event.path}"


def _entry(result: CheckResult) -> CheckReport:
    """One check's result as the report shows it."""
    check, entry = result.check, result.entry
    diagnosis = result.token.error.diagnosis if result.token and result.token.error else None
    return CheckReport(
        address=check.address,
        client=check.client,
        consumer_org=check.consumer_org,
        scopes=list(check.scopes),
        outcome="ok" if result.ok else "failed",
        code=result.code,
        reason="; ".join(p.message for p in result.problems) or None,
        mp_code=entry.mp_code if entry else None,
        cause=entry.cause if entry else None,
        fix=entry.fix if entry else None,
        trace_id=diagnosis.trace_id if diagnosis else None,
        claims=[ClaimReport.of(claim) for claim in result.claims],
        attempts=result.token.attempts if result.token else 0,
        duration_ms=result.duration_ms,
    )


def _missing_entry(missing: MissingKey) -> CheckReport:
    return CheckReport(
        address=f"client/{missing.client}",
        client=missing.client,
        outcome="failed",
        code="no-key",
        reason=missing.message,
        fix=missing.hint,
    )


def _unmanaged_entry(unmanaged: Unmanaged) -> CheckReport:
    return CheckReport.skipped(
        address=f"client/{unmanaged.client}", client=unmanaged.client, reason=unmanaged.reason
    )


def _print_report(report: VerifyReport) -> int:
    """The report on stdout (nothing else goes there), the verdict on stderr; the exit code."""
    console.stdout().out(report.to_json().rstrip("\n"))
    totals = report.totals
    if totals.failed:
        console.error(f"{totals.failed} of {totals.checks} check(s) failed")
        return 1
    console.stderr().print(f"All {totals.ok} token check(s) passed.", style="green")
    return 0


def _print_result(result: CheckResult) -> None:
    check = result.check
    for problem in result.problems:
        console.error(f"{check.label}: {problem.message}", problem.hint)
    if result.ok:
        console.success(f"  ✓ {check.label}: token for {' '.join(check.scopes)}")


def _print_progress(result: CheckResult) -> None:
    """`--format json`'s progress on stderr: one line per check, its problems in the report."""
    mark = "✓" if result.ok else "✗"
    console.stderr().print(f"  {mark} {result.check.label}: {result.code}", style=None)


def _client_orgno(desired: DesiredState, client: str) -> str:
    """The organisation a client's tokens name as consumer: a supplied client's customer."""
    declared = desired.clients.get(client)
    return desired.client_orgno(declared) if declared else desired.organisation.orgno
