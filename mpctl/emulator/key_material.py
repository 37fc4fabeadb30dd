"""The emulator's own secrets inside the state: its token-signing key and its CAs.

Owns lazy creation (first use) and lookup of that key material, so a fresh emulator does no
RSA work until it needs to. It must not expose private keys anywhere but the state file.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from mpctl.emulator.authority import create_authority
from mpctl.emulator.keys import KeySource, load_private_key, private_key_to_pem, thumbprint
from mpctl.emulator.state import CertificateAuthority, EmulatorState, SigningKey


def ensure_signing_key(state: EmulatorState, key_source: KeySource) -> SigningKey:
    """The token-signing key, created on first use (kid = RFC 7638 thumbprint)."""
    if state.signing_key is None:
        key = key_source()
        state.signing_key = SigningKey(
            kid=thumbprint(key.public_key()),
            private_key_pem=SecretStr(private_key_to_pem(key)),
        )
    return state.signing_key


def private_key_of(holder: SigningKey | CertificateAuthority) -> rsa.RSAPrivateKey:
    return load_private_key(holder.private_key_pem.get_secret_value())


def ensure_authority(
    state: EmulatorState, environment: str, key_source: KeySource, now: float
) -> CertificateAuthority:
    """The business-certificate CA of `environment`, created on first use."""
    authority = state.authorities.get(environment)
    if authority is None:
        key = key_source()
        authority = CertificateAuthority(
            certificate_pem=create_authority(key, environment, now),
            private_key_pem=SecretStr(private_key_to_pem(key)),
        )
        state.authorities[environment] = authority
    return authority
