"""Executors for clients, scopes and scope access: each idempotent, each returns its write count.

Rules (code-models.md §8.5, reliability.md §3): an update overlays the plan's managed fields on
a fresh GET before the PUT (PUT replaces whole objects); 404 on delete means done; 409 on create
means read back and converge; a client create first looks for a client already carrying its
ownership marker, and after an ambiguous timeout re-reads instead of posting again, so a retry
never makes a duplicate. Must not touch keys (see `mpctl.apply.rotation`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from mpctl.apply.context import ApplyContext, ApplyError
from mpctl.model.observed import ObservedClient
from mpctl.plan import Action, Step, StepKind
from mpctl.plan.ownership import parse_marker
from mpctl.remote.errors import AmbiguousWriteError, Conflict, NotFound
from mpctl.remote.protocol import RemoteApi

Executor = Callable[[Step, ApplyContext], Awaitable[int]]
_READ_ONLY_CLIENT = (
    "client_id",
    "client_orgno",
    "supplier_orgno",
    "active",
    "created",
    "last_updated",
)
_READ_ONLY_SCOPE = ("name", "owner_orgno", "created", "last_updated")


def _name_of(step: Step) -> str:
    return step.address.split("/", 1)[1]


def _body(step: Step) -> dict[str, Any]:
    if step.body is None:
        raise ApplyError(f"{step.address}: the plan carries no body", safe_to_rerun=False)
    return dict(step.body)


async def _find_managed_client(ctx: ApplyContext, body: Mapping[str, Any]) -> ObservedClient | None:
    """The active client already carrying the marker this step writes, if any."""
    wanted = parse_marker(body.get("description"))
    if wanted is None:
        raise ApplyError("a client body without mpctl's marker", safe_to_rerun=False)
    for client in await ctx.api.list_clients():
        if client.active and parse_marker(client.description) == wanted:
            return client
    return None


async def create_client(step: Step, ctx: ApplyContext) -> int:
    name = _name_of(step)
    existing = await _find_managed_client(ctx, _body(step))
    if existing is not None:
        ctx.client_ids[name] = existing.client_id
        return await overlay_client(ctx.api, existing.client_id, _body(step))
    try:
        created = await ctx.api.create_client(_body(step))
    except AmbiguousWriteError:
        found = await _find_managed_client(ctx, _body(step))
        if found is None:
            raise
        created = found
    ctx.client_ids[name] = created.client_id
    return 1


async def update_client(step: Step, ctx: ApplyContext) -> int:
    name = _name_of(step)
    client_id = ctx.client_id(name, step.remote_id)
    return await overlay_client(ctx.api, client_id, _body(step))


async def overlay_client(api: RemoteApi, client_id: str, fields: Mapping[str, Any]) -> int:
    """GET the client, lay `fields` over it, PUT it back when anything differs (0 or 1 write).

    PUT replaces the whole object, so everything mpctl does not manage keeps its remote value.
    """
    current = (await api.get_client(client_id)).model_dump(mode="json", exclude_none=True)
    wanted = {k: v for k, v in {**current, **fields}.items() if k not in _READ_ONLY_CLIENT}
    if all(current.get(k) == v for k, v in wanted.items()):
        return 0
    await api.update_client(client_id, wanted)
    return 1


async def replace_client(step: Step, ctx: ApplyContext) -> int:
    """An immutable field changed: deactivate the old client, then create the new one."""
    writes = await delete_client(step, ctx)
    return writes + await create_client(step, ctx)


async def delete_client(step: Step, ctx: ApplyContext) -> int:
    if step.remote_id is None:
        return 0
    try:
        await ctx.api.delete_client(step.remote_id)
    except NotFound:
        return 0
    return 1


async def create_scope(step: Step, ctx: ApplyContext) -> int:
    try:
        await ctx.api.create_scope(_body(step))
    except Conflict:  # exists, possibly deactivated: converge it with a PUT
        return await update_scope(step, ctx)
    return 1


async def update_scope(step: Step, ctx: ApplyContext) -> int:
    name = _name_of(step)
    current = (await ctx.api.get_scope(name)).model_dump(mode="json", exclude_none=True)
    body = {**current, **_body(step), "active": True}
    wanted = {k: v for k, v in body.items() if k not in _READ_ONLY_SCOPE}
    if all(current.get(k) == v for k, v in wanted.items()):
        return 0
    await ctx.api.update_scope(name, wanted)
    return 1


async def delete_scope(step: Step, ctx: ApplyContext) -> int:
    try:
        await ctx.api.delete_scope(_name_of(step))
    except NotFound:
        return 0
    return 1


def _access_target(step: Step) -> tuple[str, str]:
    if step.remote_id is None or step.consumer_orgno is None:
        raise ApplyError(f"{step.address}: access step without scope or consumer")
    return step.remote_id, step.consumer_orgno


async def grant_access(step: Step, ctx: ApplyContext) -> int:
    scope, orgno = _access_target(step)
    await ctx.api.grant_access(scope, orgno)  # idempotent; re-approves a DENIED record
    return 1


async def revoke_access(step: Step, ctx: ApplyContext) -> int:
    scope, orgno = _access_target(step)
    try:
        await ctx.api.revoke_access(scope, orgno)
    except NotFound:
        return 0
    return 1


RESOURCE_EXECUTORS: dict[tuple[StepKind, Action], Executor] = {
    (StepKind.CLIENT, Action.CREATE): create_client,
    (StepKind.CLIENT, Action.UPDATE): update_client,
    (StepKind.CLIENT, Action.ADOPT): update_client,
    (StepKind.CLIENT, Action.REPLACE): replace_client,
    (StepKind.CLIENT, Action.DELETE): delete_client,
    (StepKind.SCOPE, Action.CREATE): create_scope,
    (StepKind.SCOPE, Action.UPDATE): update_scope,
    (StepKind.SCOPE, Action.DELETE): delete_scope,
    (StepKind.ACCESS, Action.CREATE): grant_access,
    (StepKind.ACCESS, Action.UPDATE): grant_access,
    (StepKind.ACCESS, Action.DELETE): revoke_access,
}
