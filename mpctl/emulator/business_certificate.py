"""Issuing a business certificate ("virksomhetssertifikat") for the `local` environment.

Owns `issue_business_certificate`: it makes (on first use) the CA of the chosen environment in
the persisted state, then writes a certificate for an organisation and its private key (0600,
atomic). It must not be used without a state file: the CA has to outlive the call.
"""

from __future__ import annotations

from pathlib import Path

from mpctl.emulator.authority import issue_certificate
from mpctl.emulator.clock import Clock
from mpctl.emulator.core import Emulator
from mpctl.emulator.key_material import ensure_authority, private_key_of
from mpctl.emulator.keys import KeySource, private_key_to_pem
from mpctl.emulator.orgno import is_valid_orgno
from mpctl.emulator.settings import EmulatorSettings
from mpctl.errors import UserError
from mpctl.files import PRIVATE_MODE, PUBLIC_MODE, write_atomically

DEFAULT_ORG_NAME = "Test Virksomhet AS"


def issue_business_certificate(
    settings: EmulatorSettings,
    orgno: str,
    cert_path: Path,
    key_path: Path,
    *,
    environment: str | None = None,
    org_name: str = DEFAULT_ORG_NAME,
    clock: Clock | None = None,
    key_source: KeySource | None = None,
) -> None:
    """Write a PEM certificate for `orgno`, signed by the emulator's CA, and its key (0600)."""
    target = environment or settings.environment
    if target not in ("test", "prod"):
        raise UserError(f"environment must be 'test' or 'prod', not {target!r}")
    if not is_valid_orgno(orgno):
        raise UserError(f"{orgno!r} is not a valid organisation number (9 digits, mod-11)")
    if settings.state_path is None:
        raise UserError(
            "issuing a business certificate needs a state file",
            hint="set state_path (--state): the CA that signs it lives there",
        )
    emulator = Emulator(settings, clock=clock, key_source=key_source)
    with emulator.store.write() as state:
        now = emulator.now(state)
        authority = ensure_authority(state, target, emulator.key_source, now)
    subject_key = emulator.key_source()
    certificate = issue_certificate(
        authority.certificate_pem,
        private_key_of(authority),
        subject_key=subject_key.public_key(),
        orgno=orgno,
        org_name=org_name,
        now=now,
    )
    write_atomically(key_path, private_key_to_pem(subject_key).encode("ascii"), mode=PRIVATE_MODE)
    write_atomically(cert_path, certificate.encode("ascii"), mode=PUBLIC_MODE)
