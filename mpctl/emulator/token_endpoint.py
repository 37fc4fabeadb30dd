"""HTTP handlers for Maskinporten itself: `POST /token`, `GET /jwk`, and the RFC 8414 metadata.

Owns the token request/response flow (form parsing, no-store headers, signing-key creation on
first use) and the published key set and metadata. It must not hold the grant checks
(`grant_checks`) or token contents (`access_tokens`).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mpctl.emulator import token_errors as refuse
from mpctl.emulator.access_tokens import token_response
from mpctl.emulator.grant_checks import GrantContext, check_grant, read_assertion
from mpctl.emulator.key_material import ensure_signing_key, private_key_of
from mpctl.emulator.keys import public_members
from mpctl.emulator.resource import Resource
from mpctl.emulator.state import EmulatorState
from mpctl.emulator.vocabulary import GRANT_SIGNING_ALGORITHMS, JWT_BEARER_GRANT
from mpctl.emulator.wire import json_response

_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM: Final = "application/x-www-form-urlencoded"


def _form(request: Request, raw: bytes) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM:
        raise refuse.not_form_encoded()
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise refuse.not_form_encoded() from None
    return {name: values[0] for name, values in fields.items()}


class MaskinportenApi(Resource):
    """`/token`, `/jwk`, `/.well-known/oauth-authorization-server`."""

    def routes(self) -> list[Route]:
        return [
            Route("/token", self.token, methods=["POST"]),
            Route("/jwk", self.jwk, methods=["GET"]),
            Route("/.well-known/oauth-authorization-server", self.metadata, methods=["GET"]),
        ]

    async def token(self, request: Request) -> Response:
        assertion = read_assertion(_form(request, await request.body()))
        with self.emu.store.write() as state:
            now = self.emu.now(state)
            grant = check_grant(assertion, state, self._context(state, now))
            signing_key = ensure_signing_key(state, self.emu.key_source)
            body = token_response(grant, state, signing_key, self.emu.issuer, now)
        return json_response(body, headers=dict(_NO_STORE))

    def _context(self, state: EmulatorState, now: float) -> GrantContext:
        authority = state.authorities.get(self.emu.settings.environment)
        return GrantContext(
            issuer=self.emu.issuer,
            now=now,
            switches=self.emu.switches,
            trusted_ca_pem=authority.certificate_pem if authority is not None else None,
        )

    async def jwk(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            signing_key = state.signing_key
        if signing_key is None:
            with self.emu.store.write() as state:
                signing_key = ensure_signing_key(state, self.emu.key_source)
        public = public_members(private_key_of(signing_key).public_key())
        key = {**public, "kid": signing_key.kid, "alg": "RS256", "use": "sig"}
        return json_response({"keys": [key]})

    async def metadata(self, request: Request) -> Response:
        return json_response(self.metadata_document())

    def metadata_document(self) -> dict[str, Any]:
        issuer = self.emu.issuer
        return {
            "issuer": issuer,
            "token_endpoint": f"{issuer}token",
            "jwks_uri": f"{issuer}jwk",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "grant_types_supported": [JWT_BEARER_GRANT],
            "token_endpoint_auth_signing_alg_values_supported": list(GRANT_SIGNING_ALGORITHMS),
            "authorization_details_types_supported": [
                "urn:altinn:systemuser",
                "urn:altinn:consent",
            ],
        }
