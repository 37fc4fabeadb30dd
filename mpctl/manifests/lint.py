"""Semantic lint: mistakes Maskinporten would reject, caught before any API call.

Owns the cross-document rules (each code in `findings.CODES` names the Maskinporten error it
prevents): scope prefixes, integration types, empty clients, key counts, issuers, grant
lifetimes, duplicate names, undeclared own scopes, and every delegation rule that needs only the
manifests (own organisation as consumer_org, a delegated scope not on the client, a declared
scope without or with an unknown delegation source), and supplier mode (a `client_orgno` that is
the own organisation; another organisation's without an admin holding idporten:dcr.supplier).
They run in `validate` and before every
`plan`/`apply`; the planner (`mpctl.plan.diagnostics`) checks only delegated scopes Digdir owns and
must not repeat these. Pure: takes resolved resources and the project, returns findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar, cast
from urllib.parse import urlsplit

from mpctl.manifests.findings import FindingSeverity, ManifestFinding
from mpctl.manifests.project import Project
from mpctl.manifests.resolve import LocatedResource
from mpctl.model import (
    DIGDIR,
    DIGDIR_PROD,
    DIGDIR_TEST,
    ENDPOINT_FIELDS,
    MAX_GRANT_LIFETIME_SECONDS,
    MAX_KEYS_PER_CLIENT,
    ROTATION_SLOTS,
    Client,
    Environment,
    Scope,
    endpoint_variable,
    is_loopback_host,
)

RETIRED_HOSTS = frozenset(
    {
        "ver2.maskinporten.no",
        "oidc-ver2.difi.no",
        "integrasjon-ver2.difi.no",
        "integrasjon.difi.no",
        "oidc.difi.no",
    }
)
_TEST_HOSTS = ("test.maskinporten.no", "api.test.samarbeid.digdir.no")
_PROD_HOSTS = ("maskinporten.no", "api.samarbeid.digdir.no")
K = TypeVar("K", Client, Scope)


class _Context:
    """What every rule needs: the project, the environment, and the resources by kind."""

    def __init__(
        self, project: Project, env_name: str, resources: list[LocatedResource[Client | Scope]]
    ) -> None:
        self.project = project
        self.env_name = env_name
        self.environment = project.config.environments[env_name]
        self.clients = _of_kind(resources, Client)
        self.scope_list = _of_kind(resources, Scope)
        self.scopes = {r.resource.name: r for r in self.scope_list}
        self.prefixes = set(project.config.organisation.scope_prefixes)

    def is_own(self, scope_name: str) -> bool:
        return scope_name.split(":", 1)[0] in self.prefixes

    def diagnostic(
        self,
        where: tuple[str, int],
        code: str,
        message: str,
        hint: str = "",
        severity: FindingSeverity = FindingSeverity.ERROR,
    ) -> ManifestFinding:
        return ManifestFinding(where[0], where[1], code, message, hint, severity)


Rule = Callable[[_Context], Iterator[ManifestFinding]]


def _of_kind(
    resources: list[LocatedResource[Client | Scope]], kind: type[K]
) -> list[LocatedResource[K]]:
    return [cast(LocatedResource[K], r) for r in resources if isinstance(r.resource, kind)]


def lint(
    project: Project, env_name: str, resources: list[LocatedResource[Client | Scope]]
) -> list[ManifestFinding]:
    """Every rule over one environment, sorted."""
    context = _Context(project, env_name, resources)
    return sorted({d for rule in RULES for d in rule(context)})


def _duplicate_names(ctx: _Context) -> Iterator[ManifestFinding]:
    seen: dict[tuple[str, str], LocatedResource[Client] | LocatedResource[Scope]] = {}
    everything: list[LocatedResource[Client] | LocatedResource[Scope]] = [
        *ctx.clients,
        *ctx.scope_list,
    ]
    for located in everything:
        key = (located.resource.kind, located.resource.name)
        if key in seen:
            first = seen[key].at("name")
            yield ctx.diagnostic(
                located.at("name"),
                "MPL110",
                f"{key[0]} {key[1]!r} is declared twice (first at {first[0]}:{first[1]})",
                "rename one, or limit each to different environments",
            )
        seen.setdefault(key, located)


def _clients_have_scopes(ctx: _Context) -> Iterator[ManifestFinding]:
    for located in ctx.clients:
        if not located.resource.scopes:
            yield ctx.diagnostic(
                located.at("scopes"),
                "MPL106",
                f"client {located.resource.name!r} has no scopes in {ctx.env_name}",
                "Digdir refuses a client without scopes: add at least one",
            )


def _own_scopes_declared(ctx: _Context) -> Iterator[ManifestFinding]:
    for located in ctx.clients:
        client = located.resource
        for index, name in enumerate(client.scopes):
            if ctx.is_own(name) and name not in ctx.scopes:
                yield ctx.diagnostic(
                    located.at("scopes", index),
                    "MPL111",
                    f"scope {name!r} has your prefix but no Scope document in {ctx.env_name}",
                    "declare it with 'kind: Scope', or check its environments",
                )


def _integration_types(ctx: _Context) -> Iterator[ManifestFinding]:
    for located in ctx.clients:
        client = located.resource
        for index, name in enumerate(client.scopes):
            scope = ctx.scopes.get(name)
            allowed = scope.resource.allowed_integration_types if scope else ()
            if scope and allowed and client.integration_type not in allowed:
                yield ctx.diagnostic(
                    located.at("scopes", index),
                    "MPL105",
                    f"scope {name!r} allows {', '.join(allowed)}, not {client.integration_type!r}",
                    f"add {client.integration_type!r} to the scope's allowed_integration_types",
                )


def _delegations(ctx: _Context) -> Iterator[ManifestFinding]:
    own = ctx.project.config.organisation.orgno
    for located in ctx.clients:
        client = located.resource
        for index, delegation in enumerate(client.delegations):
            where = located.at("delegations", index, "consumer_org")
            if delegation.consumer_org == own:
                yield ctx.diagnostic(
                    where,
                    "MPL102",
                    f"consumer_org {own} is your own organisation",
                    "remove the delegation: your own client needs no consumer_org",
                )
            yield from _delegated_scopes(ctx, located, client, index)


def _delegated_scopes(
    ctx: _Context, located: LocatedResource[Client], client: Client, index: int
) -> Iterator[ManifestFinding]:
    for scope_index, name in enumerate(client.delegations[index].scopes):
        where = located.at("delegations", index, "scopes", scope_index)
        if name not in client.scopes:
            yield ctx.diagnostic(
                where,
                "MPL112",
                f"delegated scope {name!r} is not in the client's scopes",
                "a supplier registers the delegated scope on its own client: add it to 'scopes'",
            )
        scope = ctx.scopes.get(name)
        if scope is not None and not scope.resource.delegation_source:
            yield ctx.diagnostic(
                where,
                "MPL103",
                f"scope {name!r} has no delegation_source, so it cannot be delegated",
                "set 'delegation_source: altinn' on the scope",
            )


def _client_organisations(ctx: _Context) -> Iterator[ManifestFinding]:
    own = ctx.project.config.organisation.orgno
    for located in ctx.clients:
        client = located.resource
        if client.client_orgno == own:
            yield ctx.diagnostic(
                located.at("client_orgno"),
                "MPL114",
                f"client_orgno {own} is your own organisation",
                "remove client_orgno: a client is registered for your organisation by default",
                FindingSeverity.WARNING,
            )
    yield from _supplier_admins(ctx, own)


def _supplier_admins(ctx: _Context, own: str) -> Iterator[ManifestFinding]:
    """Clients for other organisations need every admin of the environment to hold
    idporten:dcr.supplier: apply's to create them, the read-only one's to see them."""
    foreign = [r for r in ctx.clients if r.resource.client_orgno not in (None, own)]
    if not foreign:
        return
    admins = (("admin", ctx.environment.admin), ("admin_readonly", ctx.environment.admin_readonly))
    lacking = [name for name, admin in admins if admin is not None and not admin.holds_supplier]
    for block in lacking:
        first = foreign[0]
        yield ctx.diagnostic(
            first.at("client_orgno"),
            "MPL115",
            f"client {first.resource.name!r} is for organisation {first.resource.client_orgno}, "
            f"but {ctx.env_name}'s {block} does not hold idporten:dcr.supplier"
            + (f" ({len(foreign)} such clients)" if len(foreign) > 1 else ""),
            f"ask Digdir to give the {block} client idporten:dcr.supplier, then set "
            f"'supplier: true' under environments.{ctx.env_name}.{block}",
        )


def _scope_names(ctx: _Context) -> Iterator[ManifestFinding]:
    for located in ctx.scopes.values():
        scope = located.resource
        if not ctx.prefixes:
            yield ctx.diagnostic(
                located.at("name"),
                "MPL104",
                "organisation.scope_prefixes is empty, so no scope can be created",
                "list the prefixes Digdir assigned you under organisation.scope_prefixes",
            )
        elif scope.prefix not in ctx.prefixes:
            yield ctx.diagnostic(
                located.at("name"),
                "MPL104",
                f"prefix {scope.prefix!r} is not one of yours ({', '.join(sorted(ctx.prefixes))})",
                "Digdir assigns prefixes by request; use one listed in organisation.scope_prefixes",
            )


def _delegation_sources(ctx: _Context) -> Iterator[ManifestFinding]:
    sources = ctx.environment.delegation_sources
    for located in ctx.scopes.values():
        value = located.resource.delegation_source
        if value is None:
            continue
        issuer = sources.get(value, value if value.startswith("https://") else None)
        if issuer is None:
            yield ctx.diagnostic(
                located.at("delegation_source"),
                "MPL113",
                f"delegation_source {value!r} is neither a known source nor an https URL",
                f"known in {ctx.env_name}: {', '.join(sorted(sources)) or 'none'}",
            )
        elif _different_environments(issuer, ctx.environment.issuer):
            yield ctx.diagnostic(
                located.at("delegation_source"),
                "MPL113",
                f"delegation source {issuer} belongs to another environment than {ctx.env_name}",
                "TEST pairs with https://tt02.altinn.no/, PROD with https://www.altinn.no/",
                FindingSeverity.WARNING,
            )


def _key_counts(ctx: _Context) -> Iterator[ManifestFinding]:
    for located in ctx.clients:
        client = located.resource
        if client.keys and len(client.keys.preserve) + ROTATION_SLOTS > MAX_KEYS_PER_CLIENT:
            yield ctx.diagnostic(
                located.at("keys", "preserve"),
                "MPL107",
                f"{len(client.keys.preserve)} preserved keys + {ROTATION_SLOTS} rotation slots "
                f"exceed Digdir's limit of {MAX_KEYS_PER_CLIENT} keys",
                f"preserve at most {MAX_KEYS_PER_CLIENT - ROTATION_SLOTS} foreign keys",
            )


def _grant_lifetimes(ctx: _Context) -> Iterator[ManifestFinding]:
    for located in ctx.clients:
        client = located.resource
        if client.grant_lifetime > MAX_GRANT_LIFETIME_SECONDS:
            yield ctx.diagnostic(
                located.at("grant_lifetime"),
                "MPL109",
                f"grant_lifetime {client.grant_lifetime}s: Maskinporten needs exp - iat <= 120",
                "set grant_lifetime to 120 or less",
            )


def _issuers(ctx: _Context) -> Iterator[ManifestFinding]:
    lines = ctx.project.document.lines
    for name, environment in sorted(ctx.project.config.environments.items()):
        problems = [*_pinned_host_problems(name, environment), *_issuer_problems(environment)]
        for field, message, hint in problems:
            line = lines.get(("environments", name, field)) or lines.get(("environments", name))
            yield ManifestFinding(
                ctx.project.config_file, line or 1, "MPL108", f"{name}: {message}", hint
            )


def _pinned_host_problems(name: str, environment: Environment) -> Iterator[tuple[str, str, str]]:
    """Where the admin token may go: Digdir's own hosts, loopback, or the embedded emulator.

    Anything else comes only from `MPCTL_<ENV>_<FIELD>` (never from a manifest), so a pull
    request that edits `mpctl.yaml` cannot send a token to its own host.
    """
    if environment.digdir is not None and environment.emulator is not None:
        yield (
            "digdir",
            "a Digdir environment cannot also run the embedded emulator",
            ("remove 'emulator:' (or 'digdir:' for a local environment)"),
        )
    if environment.digdir is not None and environment.ca_bundle is not None:
        yield (
            "ca_bundle",
            "a Digdir environment cannot name a ca_bundle",
            "remove 'ca_bundle:'; Digdir's endpoints are checked against the system's CAs",
        )
    for field in ENDPOINT_FIELDS:
        url = str(getattr(environment, field))
        override = endpoint_variable(name, field)
        if environment.digdir is not None:
            pinned = DIGDIR[environment.digdir][field]
            if url != pinned:
                yield (
                    field,
                    (
                        f"{field} {url} is not Digdir's {environment.digdir} endpoint {pinned}; "
                        "a manifest cannot point a Digdir environment elsewhere"
                    ),
                    f"remove '{field}:' (Digdir's own is used); for another host set {override}",
                )
        elif environment.emulator is None and not is_loopback_host(_split(url)[1]):
            yield (
                field,
                (f"{field} {url} is neither Digdir (no 'digdir: test|prod') nor a loopback host"),
                (
                    "for Digdir write 'digdir: test' or 'digdir: prod' and drop the URLs; for "
                    f"`mpctl emulator serve` use 127.0.0.1; any other host only through {override}"
                ),
            )


def _issuer_problems(environment: Environment) -> Iterator[tuple[str, str, str]]:
    issuer, token = environment.issuer, str(environment.token_endpoint)
    api = str(environment.api_base_url)
    for field, url in (("issuer", issuer), ("token_endpoint", token), ("api_base_url", api)):
        scheme, host = _split(url)
        if not host:
            yield field, f"{url!r} is not a URL with a host", "write https://<host>/..."
        if host in RETIRED_HOSTS:
            yield field, f"{host} is retired", "use test.maskinporten.no / maskinporten.no"
        local = environment.emulator is not None or is_loopback_host(host)
        if host and not local and scheme != "https":
            yield field, f"{url} does not use https", "Digdir's endpoints are https only"
    if not issuer.endswith("/"):
        yield "issuer", f"issuer {issuer} lacks the trailing slash", f"use {issuer}/"
    if issuer.rstrip("/") == token.rstrip("/") or issuer.rstrip("/").endswith("/token"):
        yield "issuer", "issuer is the token endpoint", "the grant's aud is the issuer, not /token"
    if not token.startswith(issuer):
        yield "token_endpoint", f"{token} is not under the issuer {issuer}", "use <issuer>token"
    if _different_environments(issuer, api):
        yield (
            "issuer",
            "issuer and api_base_url point at different Digdir environments",
            (f"TEST: {DIGDIR_TEST['issuer']}, PROD: {DIGDIR_PROD['issuer']}"),
        )


def _different_environments(first: str, second: str) -> bool:
    """True when both URLs belong to known Digdir environments and those differ."""
    a, b = _environment_of(first), _environment_of(second)
    return a is not None and b is not None and a != b


def _split(url: str) -> tuple[str, str]:
    """(scheme, host) of `url`; ("", "") when it cannot be parsed (e.g. `https://[::1/`)."""
    try:
        parts = urlsplit(url)
        return parts.scheme, parts.hostname or ""
    except ValueError:
        return "", ""


def _environment_of(url: str) -> str | None:
    host = _split(url)[1]
    if host in _TEST_HOSTS or host == "tt02.altinn.no":
        return "test"
    if host in _PROD_HOSTS or host == "www.altinn.no":
        return "prod"
    return None


RULES: tuple[Rule, ...] = (
    _duplicate_names,
    _clients_have_scopes,
    _own_scopes_declared,
    _integration_types,
    _delegations,
    _client_organisations,
    _scope_names,
    _delegation_sources,
    _key_counts,
    _grant_lifetimes,
    _issuers,
)
