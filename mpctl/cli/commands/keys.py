"""`mpctl keys create|export|revoke`: local signing keys, one per environment, as altinn-jwks
makes them, and the revocation of one registered kid.

Owns the local key store (`DIR/NAME/ENV.pem` plus `DIR/NAME/ENV.json` metadata, both 0600 and
written atomically, in directories created 0700; a key file or folder others could write is
refused before export) and what may leave it: public JWKS (or altinn-jwks' bare array) and
public PEM freely, the private PEM or base64 private JWK (Azure Key Vault, seed 001) only with an
explicit `--private`. Key material, kids and thumbprints come from `mpctl.secrets`; this module
must not print a private key unless asked to with `--private`, and never overwrites a key
without `--force`.

In a project (an `mpctl.yaml` in `--manifests`, unless only `--dir` is given) the store is the
project's own `.mpctl/keys` beside apply's state, and environments are the project's names
(`test`, `prod`; case does not matter, `TEST` still works): by default every environment that
is not the embedded emulator. Files and kids keep altinn-jwks' upper-case spelling
(`TEST.pem`, `NAME-TEST.YYYY-MM-DD`), so a store made before reads the same. Without a project,
`--dir` (default `.mpctl/keys`) and any names, `TEST,PROD` by default.

`keys revoke CLIENT KID` owns no engine of its own: it is `mpctl apply --target CLIENT
--revoke KID` (same plan, guards, confirmation and environment lock).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, ConfigDict, ValidationError

from mpctl.cli import console
from mpctl.cli.options import DEFAULT_MANIFESTS, AllowDeleteOption, EnvOption, ManifestsOption
from mpctl.errors import UserError
from mpctl.secrets import (
    DEFAULT_KEY_SIZE,
    PrivateKey,
    check_private_directory,
    check_private_file,
    dated_kid,
    from_pem,
    generate_key,
    jwks_document,
    to_pem,
    to_private_jwk_base64,
    write_private_file,
)

DEFAULT_DIRECTORY = Path(".mpctl/keys")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_ENVIRONMENT = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
_STANDALONE_ENVIRONMENTS = ("TEST", "PROD")
_Format = Literal["jwks", "jwks-array", "pem", "base64"]
_PRIVATE_HELP = (
    "Private output is secret: pipe it straight into a secret store (e.g. an Azure Key Vault "
    "secret, read from stdin), never into a terminal, a log or a file in the repository."
)

app = typer.Typer(
    help="Local signing keys, one per environment (seed 001's altinn-jwks workflow).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

DirectoryOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="Key store directory (default: the project's .mpctl/keys, else .mpctl/keys).",
        file_okay=False,
    ),
]
KeysManifestsOption = Annotated[
    Path | None,
    typer.Option(
        "--manifests",
        envvar="MPCTL_MANIFESTS",
        help="Directory holding mpctl.yaml, whose environment names keys use (default: manifests).",
        file_okay=False,
    ),
]


class _Metadata(BaseModel):
    """The public facts about one stored key; the private PEM sits next to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = 1
    name: str
    environment: str
    kid: str
    algorithm: str
    size: int
    thumbprint: str
    created_at: datetime


@dataclass(frozen=True)
class _Slot:
    """Where the key of one NAME in one environment lives."""

    directory: Path
    name: str
    environment: str

    @property
    def pem(self) -> Path:
        return self.directory / self.name / f"{self.environment}.pem"

    @property
    def metadata(self) -> Path:
        return self.directory / self.name / f"{self.environment}.json"

    def exists(self) -> bool:
        return self.pem.exists() or self.metadata.exists()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Store:
    """Where keys live and which environment names are known: a project's, or standalone."""

    directory: Path
    environments: tuple[str, ...] | None
    """The project's environment names in mpctl.yaml order; None without a project."""
    defaults: tuple[str, ...]

    def slot(self, name: str, environment: str) -> _Slot:
        return _Slot(self.directory, name, environment)

    def checked(self, names: list[str]) -> list[str]:
        """`names` (upper case) when the project knows each, case-insensitively."""
        if self.environments is None:
            return names
        known = {env.upper(): env for env in self.environments}
        unknown = [env for env in names if env not in known]
        if unknown:
            raise UserError(
                f"environment(s) {', '.join(sorted(unknown))} are not in mpctl.yaml",
                hint=f"the project's environments: {', '.join(self.environments)}",
            )
        return names


def _open_store(directory: Path | None, manifests: Path | None) -> _Store:
    """The project's store and names when there is a project to use, else the standalone
    store (`--dir` alone, or no mpctl.yaml)."""
    project_dir = manifests if manifests is not None else DEFAULT_MANIFESTS
    use_project = manifests is not None or directory is None
    if not (use_project and (project_dir / "mpctl.yaml").is_file()):
        return _Store(directory or DEFAULT_DIRECTORY, None, _STANDALONE_ENVIRONMENTS)
    from mpctl.manifests import load_project  # noqa: PLC0415 - fast --help

    project, findings = load_project(project_dir)
    if project is None:
        for finding in findings:
            console.stderr().print(finding.format())
        raise UserError(f"cannot read {project_dir / 'mpctl.yaml'}", hint="run `mpctl validate`")
    environments = project.config.environments
    keyed = tuple(name for name, env in environments.items() if env.emulator is None)
    return _Store(
        directory or project_dir / ".mpctl" / "keys",
        tuple(environments),
        tuple(name.upper() for name in keyed) or _STANDALONE_ENVIRONMENTS,
    )


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Key name; kids become NAME-ENV.YYYY-MM-DD.")],
    directory: DirectoryOption = None,
    environments: Annotated[
        str | None,
        typer.Option(
            "--environments",
            help="Comma-separated environments (default: the project's, except the emulator's; "
            "TEST,PROD without a project).",
        ),
    ] = None,
    size: Annotated[int, typer.Option("--size", help="RSA key size in bits.")] = DEFAULT_KEY_SIZE,
    algorithm: Annotated[
        Literal["RS256", "RS384", "RS512"], typer.Option("--algorithm", help="JWS algorithm.")
    ] = "RS256",
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing keys (their kids stop working).")
    ] = False,
    manifests: KeysManifestsOption = None,
) -> None:
    """Create one private key per environment; prints only kids and thumbprints.

    Keys are written owner-only (0600) to DIR/NAME/ENV.pem with ENV.json metadata. Upload the
    public half with `mpctl keys export NAME --environment ENV --format jwks`.
    """
    store = _open_store(directory, manifests)
    names = (
        store.checked(_environments(environments))
        if environments is not None
        else list(store.defaults)
    )
    slots = [store.slot(_checked_name(name), env) for env in names]
    taken = _kids_in_the_way(slots, force=force)
    now = _now()
    made = [
        generate_key(
            kid=dated_kid(name, slot.environment, now.date(), taken),
            created_at=now,
            algorithm=algorithm,
            size=size,
        )
        for slot in slots
    ]
    for slot, key in zip(slots, made, strict=True):
        _store(slot, key)
        console.stdout().print(f"Generated key {key.kid}  thumbprint {key.thumbprint}")
    console.stdout().print(f"private keys in {store.directory / name} (0600)")


@app.command("export", epilog=_PRIVATE_HELP)
def export_key(
    name: Annotated[str, typer.Argument(help="Key name given to `keys create`.")],
    directory: DirectoryOption = None,
    environment: Annotated[
        str | None,
        typer.Option(
            "--environment",
            "--env",
            "-e",
            help="Which environment's key (default: the project's first one with keys; TEST "
            "without a project).",
        ),
    ] = None,
    output: Annotated[
        _Format,
        typer.Option(
            "--format",
            help="jwks: public JWKS to upload in Samarbeidsportalen; jwks-array: the bare JSON "
            "array of public JWKs on one line, as altinn-jwks prints it; pem: public PEM "
            "(private with --private); base64: private JWK for Azure Key Vault (needs "
            "--private).",
        ),
    ] = "jwks",
    bare: Annotated[
        bool, typer.Option("--bare", help="With --format jwks: the bare array (jwks-array).")
    ] = False,
    private: Annotated[
        bool, typer.Option("--private", help="Allow private key output (pem, base64).")
    ] = False,
    manifests: KeysManifestsOption = None,
) -> None:
    """Print a key: the public JWKS (default), a PEM, or the base64 private JWK.

    Private output needs --private and is secret: pipe it straight into a secret store.
    """
    output = _bare_format(output, bare=bare)
    _check_request(output, private=private)
    store = _open_store(directory, manifests)
    chosen = store.checked([_one_environment(environment)]) if environment else store.defaults[:1]
    key = _load(store.slot(_checked_name(name), chosen[0]))
    if private and _stdout_is_terminal():
        console.warning("warning: private key on a terminal; pipe it into a secret store instead")
    console.stdout().out(_render(key, output, private=private))


def _bare_format(output: _Format, *, bare: bool) -> _Format:
    """`--bare` is `--format jwks-array`; it means nothing with another format."""
    if not bare:
        return output
    if output not in ("jwks", "jwks-array"):
        raise UserError(
            f"--bare goes with --format jwks, not {output}",
            hint="use --format jwks --bare (or --format jwks-array)",
        )
    return "jwks-array"


@app.command()
def revoke(
    client: Annotated[str, typer.Argument(help="Client name in the manifests.")],
    kid: Annotated[str, typer.Argument(help="The registered kid to remove from Digdir now.")],
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    auto_approve: Annotated[bool, typer.Option(help="Do not ask for confirmation.")] = False,
    allow_delete: AllowDeleteOption = False,
) -> int:
    """Revoke one of CLIENT's kids now (orphaned or compromised), even inside a grace period.

    Plans exactly that revocation, shows it and applies it as `mpctl apply --target CLIENT
    --revoke KID` does. Never the sink's current kid (rotate it away with `mpctl apply --rotate
    CLIENT --revoke-previous`), never a kid in keys.preserve, never the last registered key
    without --allow-delete.
    """
    from mpctl.cli.commands.apply import apply  # noqa: PLC0415 - fast --help

    return apply(
        manifests=manifests,
        env=env,
        auto_approve=auto_approve,
        target=[client],
        revoke=[kid],
        allow_delete=allow_delete,
    )


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(
            f"key name {name!r} is not usable",
            hint="use 1-80 of A-Z a-z 0-9 . _ - starting with a letter or digit",
        )
    return name


def _environments(text: str) -> list[str]:
    names = [part.strip().upper() for part in text.split(",") if part.strip()]
    bad = [env for env in names if not _ENVIRONMENT.match(env)]
    if not names or bad or len(set(names)) != len(names):
        raise UserError(
            f"environments {text!r} are not a list of distinct names",
            hint="for example TEST or TEST,PROD (letters, digits and _)",
        )
    return names


def _one_environment(text: str) -> str:
    names = _environments(text)
    if len(names) != 1:
        raise UserError(
            "--environment takes one environment", hint="for example --environment PROD"
        )
    return names[0]


def _kids_in_the_way(slots: list[_Slot], *, force: bool) -> list[str]:
    """Kids of the keys `create` would replace; refuses, before any write, without --force."""
    existing = [slot for slot in slots if slot.exists()]
    if existing and not force:
        listed = ", ".join(str(slot.pem) for slot in existing)
        raise UserError(
            f"a key already exists: {listed}",
            hint="nothing was written; pass --force to replace it (a kid already registered "
            "in Maskinporten then stops working), or use another NAME",
        )
    taken: list[str] = []
    for slot in existing:
        try:
            taken.append(_Metadata.model_validate_json(slot.metadata.read_bytes()).kid)
        except (OSError, ValidationError):
            continue
    if existing:
        console.warning(f"replacing {len(existing)} existing key(s) (--force)")
    return taken


def _store(slot: _Slot, key: PrivateKey) -> None:
    """PEM first, metadata last: a half-written slot has no metadata and refuses to export."""
    metadata = _Metadata(
        name=slot.name,
        environment=slot.environment,
        kid=key.kid,
        algorithm=key.algorithm,
        size=key.size,
        thumbprint=key.thumbprint,
        created_at=key.created_at,
    )
    write_private_file(slot.pem, to_pem(key).encode("ascii"))
    write_private_file(slot.metadata, (metadata.model_dump_json(indent=2) + "\n").encode())


def _load(slot: _Slot) -> PrivateKey:
    if not (slot.pem.exists() and slot.metadata.exists()):
        raise UserError(
            f"no key {slot.name} for {slot.environment} in {slot.directory}",
            hint=f"create it with `mpctl keys create {slot.name} --environments "
            f"{slot.environment}` (or pass --dir / --environment)",
        )
    check_private_directory(slot.pem.parent)
    check_private_file(slot.pem)
    try:
        metadata = _Metadata.model_validate_json(slot.metadata.read_bytes())
        pem = slot.pem.read_text(encoding="ascii")
    except (OSError, ValidationError, UnicodeDecodeError):
        raise UserError(f"cannot read the key files for {slot.name} {slot.environment}") from None
    key = from_pem(
        pem, kid=metadata.kid, created_at=metadata.created_at, algorithm=metadata.algorithm
    )
    if key.thumbprint != metadata.thumbprint:
        raise UserError(
            f"{slot.pem} does not match the thumbprint in {slot.metadata}",
            hint="the files were changed by hand; recreate the key with `keys create --force`",
        )
    return key


def _check_request(output: str, *, private: bool) -> None:
    if output == "base64" and not private:
        raise UserError(
            "--format base64 prints the private key and needs --private",
            hint=_PRIVATE_HELP,
        )
    if output in ("jwks", "jwks-array") and private:
        raise UserError(
            f"--format {output} is public only; it never holds private members",
            hint="use --format base64 --private for the private JWK (Azure Key Vault)",
        )


def _render(key: PrivateKey, output: str, *, private: bool) -> str:
    if output == "jwks":
        return json.dumps(jwks_document([key]), indent=2)
    if output == "jwks-array":
        return json.dumps(jwks_document([key])["keys"], separators=(",", ":"), sort_keys=True)
    if output == "base64":
        return to_private_jwk_base64(key)
    if private:
        return to_pem(key).rstrip("\n")
    public = key.crypto_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode("ascii").rstrip("\n")


def _stdout_is_terminal() -> bool:
    return console.stdout().file.isatty()
