"""S8: plant a known key, grants and tokens, then scan every result, event, log line and error.

Nothing that mpctl shows, logs or raises may contain private key material, a signed grant or
an access token, whichever way an exchange ends.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import stamina
from pydantic import SecretStr

from mpctl.emulator import EmulatorSettings, create_app
from mpctl.errors import MpctlError
from mpctl.model import FileSink
from mpctl.remote import GrantRequest, fresh_grants, sign_grant
from mpctl.secrets import (
    FileSecretSink,
    PrivateKey,
    SinkContext,
    from_pem,
    private_jwk,
    to_pem,
    to_private_jwk_base64,
)
from mpctl.verify import (
    ExpectedClaims,
    JsonLinesEventLog,
    RecordingObserver,
    TokenResult,
    credentials_from_env,
    request_token,
    signing_key,
    verify_token,
)
from tests.unit.verify.emulator_world import (
    CLIENT_ID,
    ISSUER,
    OWN_SCOPE,
    TOKEN_ENDPOINT,
    write_world,
)

SCENARIOS = [
    [],
    [{"kind": "error", "status": 503, "max_hits": 1}],
    [{"kind": "error", "status": 500}],
    [{"kind": "rate_limit", "retry_after": 1, "max_hits": 1}],
    [{"kind": "drop", "max_hits": 2}],
    [{"kind": "drop"}],
]


class Planted:
    """Everything secret this test knows about, and the text it has seen."""

    def __init__(self, key: PrivateKey) -> None:
        jwk = private_jwk(key)
        pem = to_pem(key)
        self.secrets: list[str] = [jwk[m] for m in ("d", "p", "q", "dp", "dq", "qi")]
        self.secrets += [line for line in pem.splitlines() if "-----" not in line]
        self.secrets.append(to_private_jwk_base64(key)[40:120])
        self.seen: list[str] = []

    def add_token(self, token: str) -> None:
        self.secrets += [token, *token.split(".")[1:]]

    def see(self, *things: object) -> None:
        for thing in things:
            self.seen += [str(thing), repr(thing)]
            if isinstance(thing, BaseException):
                self.see_error(thing)

    def see_error(self, error: BaseException) -> None:
        self.seen += [repr(arg) for arg in error.args]
        if isinstance(error, MpctlError):
            self.seen.append(str(error.hint))
        for linked in (error.__cause__, error.__context__):
            if linked is not None:
                self.see(linked)

    def assert_clean(self) -> None:
        text = "\n".join(self.seen)
        leaked = [s[:12] for s in self.secrets if len(s) >= 16 and s in text]
        assert not leaked, f"secret material shown: {leaked}"


class RecordingGrants:
    def __init__(self, key: PrivateKey, request: GrantRequest, planted: Planted) -> None:
        self._make = fresh_grants(signing_key(key), request)
        self._planted = planted

    def __call__(self) -> SecretStr:
        grant = self._make()
        self._planted.add_token(grant.get_secret_value())
        return grant


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@pytest.fixture
async def http(tmp_path: Path, key: PrivateKey) -> AsyncIterator[httpx.AsyncClient]:
    settings = EmulatorSettings(world=write_world(tmp_path, key), control_enabled=True)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield client


@pytest.mark.parametrize("faults", SCENARIOS)
@pytest.mark.parametrize("scope", [OWN_SCOPE, "acme:unknown"])
async def test_exchanges_show_no_secret(
    http: httpx.AsyncClient,
    key: PrivateKey,
    caplog: pytest.LogCaptureFixture,
    faults: list[dict[str, object]],
    scope: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    planted = Planted(key)
    rules = [{"path": "/token", **rule} for rule in faults]
    await http.put("/_emulator/faults", json={"faults": rules})
    stream, observer = io.StringIO(), RecordingObserver()
    request = GrantRequest(CLIENT_ID, ISSUER, (scope,))

    def both(event: object) -> None:
        JsonLinesEventLog(stream)(event)  # type: ignore[arg-type]
        observer(event)  # type: ignore[arg-type]

    result = await request_token(
        http, TOKEN_ENDPOINT, RecordingGrants(key, request, planted), observer=both
    )
    see_result(planted, result)
    if result.access_token is not None:
        planted.add_token(result.access_token.get_secret_value())
        expected = ExpectedClaims(ISSUER, ("acme:other",), "123456785")
        planted.see(*await verify_token(http, result.access_token, expected))
    planted.see(stream.getvalue(), *observer.events, *(e.as_dict() for e in observer.events))
    planted.see(caplog.text, *(vars(r) for r in caplog.records))
    assert planted.secrets
    planted.assert_clean()


def see_result(planted: Planted, result: TokenResult) -> None:
    planted.see(result, result.error)
    if result.error is not None:
        planted.see(result.error.diagnosis, *result.error.diagnosis.entries)


def test_errors_about_secrets_show_no_secret(tmp_path: Path, key: PrivateKey) -> None:
    planted = Planted(key)
    pem = to_pem(key)
    grant = sign_grant(
        signing_key(key), GrantRequest(CLIENT_ID, ISSUER, (OWN_SCOPE,)), issued_at=1, jti="j"
    )
    planted.add_token(grant.get_secret_value())
    planted.see(key, grant, [grant], {"grant": grant})

    errors: list[BaseException] = []
    for attempt in (
        lambda: from_pem(pem[:-100], kid="k", created_at=datetime.now(UTC)),
        lambda: from_pem(pem.replace("A", "B", 5), kid="k", created_at=datetime.now(UTC)),
        lambda: credentials_from_env(
            {"MASKINPORTEN_MODE": "live", "MASKINPORTEN_PRIVATE_KEY": pem[:-100]}
        ),
        lambda: corrupt_sink_file(tmp_path, key),
    ):
        with pytest.raises(MpctlError) as caught:
            attempt()
        errors.append(caught.value)
    planted.see(*errors)
    planted.assert_clean()


def corrupt_sink_file(tmp_path: Path, key: PrivateKey) -> None:
    context = SinkContext("test", tmp_path, ISSUER, TOKEN_ENDPOINT)
    sink = FileSecretSink(FileSink(), context)
    sink.set_client_id("billing", CLIENT_ID)
    sink.stage("billing", key)
    sink.promote("billing", key.kid, datetime.now(UTC))
    path = sink.json_path("billing")
    path.write_text(path.read_text()[:-40])
    sink.read_state("billing")


def test_planted_check_catches_a_leak(key: PrivateKey) -> None:
    """The scanner itself works: a leaked PEM line is found."""
    planted = Planted(key)
    planted.see(f"oops {to_pem(key).splitlines()[3]}")
    with pytest.raises(AssertionError, match="secret material shown"):
        planted.assert_clean()


def test_sink_state_and_repr_show_no_secret(tmp_path: Path, key: PrivateKey) -> None:
    planted = Planted(key)
    context = SinkContext("test", tmp_path, ISSUER, TOKEN_ENDPOINT)
    sink = FileSecretSink(FileSink(), context)
    sink.stage("billing", key)
    planted.see(sink, sink.read_state("billing"), sink.load_private_key("billing", key.kid))
    planted.assert_clean()
