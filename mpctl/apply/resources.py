"""Executors for clients, scopes and scope access: each idempotent, each returns its write count.

Rules (code-models.md §8.5, reliability.md §3): an update lays the plan's registration over a
fresh GET before the PUT (`mpctl.model.registrations.overlay`: PUT replaces whole objects);
404 on delete means done; 409 on create means read back and converge; a client create first
looks for a client already carrying its ownership marker in a listing begun at most
`ApplySettings.client_listing_max_age` seconds earlier (shared by the run's creates, see
`mpctl.apply.listing`), and after an ambiguous write in a listing begun after it instead of
posting again, so neither a retry nor a run outside this lock makes a duplicate. Must not touch
keys (see `mpctl.apply.rotation`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from mpctl.apply.context import ApplyContext, ApplyError
from mpctl.model import ClientRegistration, ObservedClient, ScopeRegistration, overlay
from mpctl.plan import AccessStep, Action, ClientStep, ScopeStep, Step, parse_marker
from mpctl.remote import AmbiguousWriteError, Conflict, NotFound, RemoteApi

S = TypeVar("S", ClientStep, ScopeStep, AccessStep)
Executor = Callable[[S, ApplyContext], Awaitable[int]]


def _registration(step: ClientStep) -> ClientRegistration:
    if step.body is None:
        raise ApplyError(f"{step.address}: the plan carries no body", safe_to_rerun=False)
    return step.body


def _scope_registration(step: ScopeStep) -> ScopeRegistration:
    if step.body is None:
        raise ApplyError(f"{step.address}: the plan carries no body", safe_to_rerun=False)
    return step.body


def _carrying_marker(
    clients: Iterable[ObservedClient], body: ClientRegistration, *, replaced: str | None = None
) -> ObservedClient | None:
    """The active client (other than `replaced`) already carrying the marker `body` writes."""
    wanted = parse_marker(body.description)
    if wanted is None:
        raise ApplyError("a client body without mpctl's marker", safe_to_rerun=False)
    for client in clients:
        mine = client.active and client.client_id != replaced
        if mine and parse_marker(client.description) == wanted:
            return client
    return None


async def create_client(step: ClientStep, ctx: ApplyContext) -> int:
    """POST the client unless it already exists. A replacement's old client (deactivated by
    this step just before) never counts as the new one."""
    name = step.address.name
    body = _registration(step)
    replaced = step.client_id if step.action is Action.REPLACE else None
    existing = _carrying_marker(await ctx.client_listing.recent(), body, replaced=replaced)
    if existing is not None:
        ctx.client_ids[name] = existing.client_id
        return await overlay_client(ctx.api, existing.client_id, body)
    try:
        created = await ctx.api.create_client(body)
    except AmbiguousWriteError:  # the POST may have landed: only a later listing can tell
        found = _carrying_marker(await ctx.client_listing.fresh(), body, replaced=replaced)
        if found is None:
            raise
        created = found
    ctx.client_ids[name] = created.client_id
    return 1


async def update_client(step: ClientStep, ctx: ApplyContext) -> int:
    client_id = ctx.client_id(step.address.name, step.client_id)
    return await overlay_client(ctx.api, client_id, _registration(step))


async def overlay_client(api: RemoteApi, client_id: str, body: ClientRegistration) -> int:
    """GET the client, lay `body` over it, PUT it back when anything differs (0 or 1 write)."""
    wanted = overlay(await api.get_client(client_id), body)
    if wanted is None:
        return 0
    await api.update_client(client_id, wanted)
    return 1


async def replace_client(step: ClientStep, ctx: ApplyContext) -> int:
    """An immutable field changed: deactivate the old client, then create the new one."""
    writes = await delete_client(step, ctx)
    return writes + await create_client(step, ctx)


async def delete_client(step: ClientStep, ctx: ApplyContext) -> int:
    if step.client_id is None:
        return 0
    try:
        await ctx.api.delete_client(step.client_id)
    except NotFound:
        return 0
    return 1


async def create_scope(step: ScopeStep, ctx: ApplyContext) -> int:
    try:
        await ctx.api.create_scope(_scope_registration(step))
    except Conflict:  # exists, possibly deactivated: converge it with a PUT
        return await update_scope(step, ctx)
    return 1


async def update_scope(step: ScopeStep, ctx: ApplyContext) -> int:
    body = _scope_registration(step).model_copy(update={"active": True})
    wanted = overlay(await ctx.api.get_scope(step.scope), body)
    if wanted is None:
        return 0
    await ctx.api.update_scope(step.scope, wanted)
    return 1


async def delete_scope(step: ScopeStep, ctx: ApplyContext) -> int:
    try:
        await ctx.api.delete_scope(step.scope)
    except NotFound:
        return 0
    return 1


async def grant_access(step: AccessStep, ctx: ApplyContext) -> int:
    await ctx.api.grant_access(step.scope, step.consumer_orgno)  # idempotent; re-approves DENIED
    return 1


async def revoke_access(step: AccessStep, ctx: ApplyContext) -> int:
    try:
        await ctx.api.revoke_access(step.scope, step.consumer_orgno)
    except NotFound:
        return 0
    return 1


CLIENT_EXECUTORS: dict[Action, Executor[ClientStep]] = {
    Action.CREATE: create_client,
    Action.UPDATE: update_client,
    Action.ADOPT: update_client,
    Action.REPLACE: replace_client,
    Action.DELETE: delete_client,
}
SCOPE_EXECUTORS: dict[Action, Executor[ScopeStep]] = {
    Action.CREATE: create_scope,
    Action.UPDATE: update_scope,
    Action.DELETE: delete_scope,
}
ACCESS_EXECUTORS: dict[Action, Executor[AccessStep]] = {
    Action.CREATE: grant_access,
    Action.DELETE: revoke_access,
}


async def run_resource_step(step: Step, ctx: ApplyContext) -> int:
    """Run a client, scope or access step with the executor for its type and action."""
    if isinstance(step, ClientStep):
        return await CLIENT_EXECUTORS[step.action](step, ctx)
    if isinstance(step, ScopeStep):
        return await SCOPE_EXECUTORS[step.action](step, ctx)
    if isinstance(step, AccessStep):
        return await ACCESS_EXECUTORS[step.action](step, ctx)
    raise ApplyError(f"{step.address}: not a client, scope or access step", safe_to_rerun=False)
