"""The embedded emulator for reading commands: a throwaway copy, so reading writes nothing.

Owns `ThrowawayEmulator`: the in-process emulator running on a copy of the environment's state
file (or on a fresh state from the world file when there is none yet) in a private temporary
directory that is removed when the transport closes, and `with_admin_certificate`, which
points the admin credentials at the project's certificate files when they exist or at a test
business certificate issued into that directory. `plan`, `verify` and `import` then work in a
read-only checkout and leave the project exactly as it was; `apply` uses the real state file
(`mpctl.cli.environment`). Must not write anything under the project directory.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx

from mpctl.emulator import EmulatorSettings, create_app, issue_business_certificate
from mpctl.errors import ConfigError
from mpctl.model import AdminCredential, DesiredState, EmbeddedEmulator, Environment

_STATE_FILE = "emulator-state.json"


class ThrowawayEmulator(httpx.ASGITransport):
    """The emulator app on a private copy of the state; closing removes the copy."""

    def __init__(self, directory: Path, settings: EmulatorSettings) -> None:
        self.directory = directory
        self.settings = settings
        super().__init__(app=create_app(settings))

    async def aclose(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def throwaway_emulator(
    project_directory: Path, env_name: str, environment: Environment, embedded: EmbeddedEmulator
) -> ThrowawayEmulator:
    """An emulator on a copy of `embedded.state` (only read) in a new private temporary dir."""
    directory = Path(tempfile.mkdtemp(prefix="mpctl-emulator-"))  # 0700
    state = directory / _STATE_FILE
    original = project_directory / embedded.state.format(env=env_name)
    try:
        if original.is_file():
            shutil.copyfile(original, state)
            state.chmod(0o600)  # holds the test CA's private key
    except OSError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise ConfigError(
            f"cannot read the emulator state {original}: {exc.strerror}",
            hint="check its permissions, or delete it to start from the world file",
        ) from None
    world = project_directory / embedded.world
    settings = EmulatorSettings(
        issuer=environment.issuer, world=world, state_path=state, seed_time=seed_time(world)
    )
    return ThrowawayEmulator(directory, settings)


def seed_time(world: Path) -> float | None:
    """When a fresh state from `world` is seeded: the world file's mtime, the same for a
    plan on a throwaway copy and the apply that then creates the real state file."""
    try:
        return world.stat().st_mtime
    except OSError:
        return None


def with_admin_certificate(
    desired: DesiredState, project_directory: Path, emulator: ThrowawayEmulator
) -> Environment:
    """The environment with admin credentials whose certificate files exist.

    The project's own files when both are there (a project that has been applied); otherwise
    a certificate issued by the throwaway emulator's CA into its directory.
    """
    environment = desired.environment
    update: dict[str, AdminCredential] = {}
    for field in ("admin", "admin_readonly"):
        credential: AdminCredential | None = getattr(environment, field)
        if credential is None or credential.certificate is None:
            continue
        certificate, key = _files(credential, project_directory)
        if certificate.is_file() and key.is_file():
            continue
        certificate = emulator.directory / f"{field}-certificate.pem"
        key = emulator.directory / f"{field}-key.pem"
        organisation = desired.organisation
        issue_business_certificate(
            emulator.settings, organisation.orgno, certificate, key, org_name=organisation.name
        )
        source = type(credential.private_key)  # the model behind `SecretSource`
        update[field] = credential.model_copy(
            update={
                "certificate": source.model_validate({"file": str(certificate)}),
                "private_key": source.model_validate({"file": str(key)}),
            }
        )
    return environment.model_copy(update=update) if update else environment


def _files(credential: AdminCredential, project_directory: Path) -> tuple[Path, Path]:
    certificate, key = credential.certificate, credential.private_key
    if certificate is None or certificate.file is None or key.file is None:
        raise ConfigError(
            "an emulator environment needs the admin certificate and key as files",
            hint="use {file: .mpctl/<env>/admin-certificate.pem} and a key file",
        )
    return project_directory / certificate.file, project_directory / key.file
