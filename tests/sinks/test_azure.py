"""The shared sink behaviour (`tests.sinks.suite`) and the Azure specifics, for Key Vault.

No Key Vault server can be installed here, so the store is `tests.fakes.azure_keyvault`: the
documented Secrets REST API over TLS on 127.0.0.1 (a throwaway CA the client trusts through
`connection_verify`), with the challenge-based bearer auth, driven by the real
azure-keyvault-secrets SDK. The challenge names `vault.azure.net`, which is not 127.0.0.1, so
only these tests pass `verify_challenge_resource=False`. The wire format is pinned in
`tests/fakes/cassettes/azure_keyvault.yaml` (one rotation, recorded against the fake with
`MPCTL_RECORD_CASSETTES=1`, Authorization filtered, a key anyone can derive) and replayed with
vcrpy against a `*.vault.azure.net` URL with the SDK's challenge check on.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import vcr
from azure.keyvault.secrets import SecretClient
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.cli.main import main
from mpctl.errors import SecretSinkError
from mpctl.model import AzureKeyVaultSink, SinkState
from mpctl.secrets import PrivateKey, SinkContext, private_jwk, to_private_jwk_base64
from mpctl.secrets.azure import AzureKeyVaultSecretSink, SecretNames
from tests.fakes.azure_keyvault import (
    OFFICER,
    RESOURCE,
    TENANT,
    USER,
    FixedTokenCredential,
    RunningVault,
    running_vault,
)
from tests.sinks.suite import *  # noqa: F403 (the shared behaviour runs here)
from tests.sinks.suite import CLIENT, CLIENT_ID, T0, StoreUnderTest, key, rotated

CONTEXT = SinkContext("test", Path("."), "https://test.maskinporten.no/", "https://t/token")
CASSETTE = Path(__file__).parents[1] / "fakes" / "cassettes" / "azure_keyvault.yaml"
CASSETTE_VAULT = "https://mpctl-test.vault.azure.net"


def open_sink(vault: RunningVault, role: str = OFFICER, **spec: Any) -> AzureKeyVaultSecretSink:
    return AzureKeyVaultSecretSink(
        AzureKeyVaultSink(type="azure-key-vault", vault_url=vault.url + "/", **spec),
        CONTEXT,
        credential=FixedTokenCredential(vault.token_for(role)),
        connection_verify=str(vault.ca_file),
        verify_challenge_resource=False,
        retry_total=0,
    )


def workload_client(vault: RunningVault) -> SecretClient:
    """How a workload holding only 'Key Vault Secrets User' reads the vault."""
    return SecretClient(
        vault.url,
        FixedTokenCredential(vault.token_for(USER)),
        connection_verify=str(vault.ca_file),
        verify_challenge_resource=False,
        logging_enable=False,
        api_version="7.5",
    )


def workload_view(vault: RunningVault) -> dict[str, str]:
    names = SecretNames.of(f"{CLIENT}-test")
    client = workload_client(vault)
    return {
        "MASKINPORTEN_CLIENT_ID": client.get_secret(names.client_id).value or "",
        "MASKINPORTEN_KID": client.get_secret(names.kid).value or "",
        "MASKINPORTEN_PRIVATE_KEY_BASE64": client.get_secret(names.private_key).value or "",
    }


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[RunningVault]:
    with running_vault(tmp_path / "tls") as running:
        yield running


@pytest.fixture
def store(vault: RunningVault) -> StoreUnderTest:
    return StoreUnderTest(
        open=lambda: open_sink(vault),
        fail_writes=vault.fail_writes,
        heal=vault.heal,
        workload=lambda: workload_view(vault),
        kind="azure-key-vault",
    )


# --- what the workload reads (seed 001) -------------------------------------------------------


def test_the_workload_reads_altinn_jwks_base64_of_the_current_key(vault: RunningVault) -> None:
    sink = open_sink(vault)
    rotated(sink)
    seen = workload_view(vault)
    assert seen["MASKINPORTEN_PRIVATE_KEY_BASE64"] == to_private_jwk_base64(key("k2"))
    jwk = json.loads(base64.b64decode(seen["MASKINPORTEN_PRIVATE_KEY_BASE64"]))
    assert (jwk["kid"], jwk["d"]) == ("k2", private_jwk(key("k2"))["d"])
    assert (seen["MASKINPORTEN_KID"], seen["MASKINPORTEN_CLIENT_ID"]) == ("k2", CLIENT_ID)


def test_companion_secrets_hold_no_key_material(vault: RunningVault) -> None:
    rotated(open_sink(vault))
    open_sink(vault).stage(CLIENT, key("k3"))
    names = SecretNames.of(f"{CLIENT}-test")
    private_members = [
        private_jwk(key(kid))[member] for kid in ("k1", "k2", "k3") for member in ("d", "p", "q")
    ]
    for name in (names.labels, names.kid, names.client_id):
        for version in vault.state.secrets[name]:
            assert not any(member in version.value for member in private_members), name
            assert not any(member in json.dumps(version.tags) for member in private_members)
    labels = json.loads(vault.state.secrets[names.labels][-1].value)
    assert labels["current"]["secret"] == names.private_key
    assert labels["pending"]["secret"] == names.pending_key


# --- labels point at exact versions -----------------------------------------------------------


def test_previous_is_the_older_version_of_the_private_key_secret(vault: RunningVault) -> None:
    rotated(open_sink(vault))
    names = SecretNames.of(f"{CLIENT}-test")
    labels = json.loads(vault.state.secrets[names.labels][-1].value)
    versions = [v.version for v in vault.state.secrets[names.private_key]]
    assert (labels["previous"]["version"], labels["current"]["version"]) == tuple(versions)


def test_a_reader_finds_a_kid_whose_label_moved_on_but_never_an_unknown_one(
    vault: RunningVault,
) -> None:
    sink = open_sink(vault)
    rotated(sink)
    sink.forget_previous(CLIENT, "k1")
    assert sink.read_state(CLIENT).previous is None
    assert sink.load_private_key(CLIENT, "k1").thumbprint == key("k1").thumbprint
    with pytest.raises(SecretSinkError, match="no key with kid 'k9'"):
        sink.load_private_key(CLIENT, "k9")


def test_a_rotation_writes_six_versions_and_deletes_nothing(vault: RunningVault) -> None:
    sink = open_sink(vault)
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    vault.state.requests.clear()
    sink.stage(CLIENT, key("k2"))
    sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    sink.forget_previous(CLIENT, "k1")
    writes = [r for r in vault.state.requests if not r.startswith("GET")]
    assert len(writes) == 6
    assert all(r.startswith("PUT") for r in writes)
    vault.state.requests.clear()
    sink.stage(CLIENT, key("k2"))
    sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    sink.set_client_id(CLIENT, CLIENT_ID)
    assert [r for r in vault.state.requests if not r.startswith("GET")] == []


def _rotate_and_forget(sink: AzureKeyVaultSecretSink) -> None:
    """k1 → k2 and the end of k1's grace: 6 writes (stage 2, promote 3, forget 1)."""
    sink.stage(CLIENT, key("k2"))
    sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    sink.forget_previous(CLIENT, "k1")


@pytest.mark.parametrize("after", range(6))
def test_a_rotation_cut_at_each_write_keeps_a_working_current_and_finishes(
    vault: RunningVault, after: int
) -> None:
    sink = open_sink(vault)
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    vault.fail_writes(after)
    with pytest.raises(SecretSinkError, match="HTTP 500"):
        _rotate_and_forget(sink)
    vault.heal()
    state = open_sink(vault).read_state(CLIENT)
    assert state.current is not None
    assert state.current.kid in ("k1", "k2")
    loaded = open_sink(vault).load_private_key(CLIENT, state.current.kid)
    assert loaded.thumbprint == state.current.thumbprint
    workload_key = json.loads(
        base64.b64decode(workload_view(vault)["MASKINPORTEN_PRIVATE_KEY_BASE64"])
    )
    assert workload_key["kid"] in ("k1", "k2")  # the JWK names the key it holds, registered both
    again = open_sink(vault)  # the next run finishes the rotation
    _rotate_and_forget(again)
    final = again.read_state(CLIENT)
    assert (final.current and final.current.kid, final.previous, final.pending) == (
        "k2",
        None,
        None,
    )
    seen = workload_view(vault)
    assert seen["MASKINPORTEN_KID"] == "k2"
    assert seen["MASKINPORTEN_PRIVATE_KEY_BASE64"] == to_private_jwk_base64(key("k2"))


def test_unreadable_labels_are_an_error_not_an_empty_store(vault: RunningVault) -> None:
    sink = open_sink(vault)
    sink.set_client_id(CLIENT, CLIENT_ID)
    raw = sink._client  # the SDK client of the sink, to damage the labels as a human could
    raw.set_secret(SecretNames.of(f"{CLIENT}-test").labels, "{not json")
    with pytest.raises(SecretSinkError, match=r"billing-test-labels.*not treated as empty"):
        sink.read_state(CLIENT)


def test_labels_of_another_client_under_the_same_prefix_are_refused(vault: RunningVault) -> None:
    open_sink(vault, secret_prefix="shared").set_client_id("other", CLIENT_ID)
    with pytest.raises(SecretSinkError, match="labels of client 'other'") as caught:
        open_sink(vault, secret_prefix="shared").read_state(CLIENT)
    assert "{client}" in str(caught.value.hint)


# --- auth and permissions ---------------------------------------------------------------------


def test_the_sdk_follows_the_challenge_to_the_vault_resource(vault: RunningVault) -> None:
    credential = FixedTokenCredential(vault.token_for(OFFICER))
    sink = AzureKeyVaultSecretSink(
        AzureKeyVaultSink(type="azure-key-vault", vault_url=vault.url),
        CONTEXT,
        credential=credential,
        connection_verify=str(vault.ca_file),
        verify_challenge_resource=False,
        retry_total=0,
    )
    sink.set_client_id(CLIENT, CLIENT_ID)
    assert credential.asked[0] == ((f"{RESOURCE}/.default",), TENANT)
    assert sink.read_state(CLIENT).client_id == CLIENT_ID


def test_a_read_only_role_can_read_and_is_told_which_role_writes(vault: RunningVault) -> None:
    rotated(open_sink(vault))
    reader = open_sink(vault, role=USER)
    assert reader.read_state(CLIENT).current is not None
    with pytest.raises(SecretSinkError) as caught:
        reader.stage(CLIENT, key("k3"))
    message = str(caught.value)
    assert "set secret 'billing-test-pending-key'" in message
    assert "HTTP 403 Forbidden" in message
    assert "Microsoft.KeyVault/vaults/secrets/setSecret/action" in message
    assert "Key Vault Secrets Officer" in str(caught.value.hint)
    assert caught.value.__context__ is None


def test_a_token_the_vault_does_not_accept_is_reported(vault: RunningVault) -> None:
    sink = AzureKeyVaultSecretSink(
        AzureKeyVaultSink(type="azure-key-vault", vault_url=vault.url),
        CONTEXT,
        credential=FixedTokenCredential("not-a-token-of-this-vault"),
        connection_verify=str(vault.ca_file),
        verify_challenge_resource=False,
        retry_total=0,
    )
    with pytest.raises(SecretSinkError, match="HTTP 401") as caught:
        sink.read_state(CLIENT)
    assert "tenant" in str(caught.value.hint)


class _NoCredential:
    """What DefaultAzureCredential does on a runner with no Azure login."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.identity import CredentialUnavailableError

        raise CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token")


def test_no_azure_login_says_how_to_get_one(vault: RunningVault) -> None:
    sink = AzureKeyVaultSecretSink(
        AzureKeyVaultSink(type="azure-key-vault", vault_url=vault.url),
        CONTEXT,
        credential=_NoCredential(),
        connection_verify=str(vault.ca_file),
        verify_challenge_resource=False,
        retry_total=0,
    )
    with pytest.raises(SecretSinkError, match="no Azure credential") as caught:
        sink.read_state(CLIENT)
    assert "az login" in str(caught.value.hint)
    assert "AZURE_FEDERATED_TOKEN_FILE" in str(caught.value.hint)


def test_the_challenge_resource_is_checked_outside_tests(vault: RunningVault) -> None:
    credential = FixedTokenCredential(vault.token_for(OFFICER))
    sink = AzureKeyVaultSecretSink(
        AzureKeyVaultSink(type="azure-key-vault", vault_url=vault.url),
        CONTEXT,
        credential=credential,
        connection_verify=str(vault.ca_file),
        retry_total=0,
    )
    with pytest.raises(SecretSinkError, match="get secret 'billing-test-labels'") as caught:
        sink.read_state(CLIENT)
    assert "vault_url" in str(caught.value.hint)
    assert credential.asked == []  # no token was fetched for a vault that is not Azure's


# --- never a secret in logs -------------------------------------------------------------------


def test_debug_logs_hold_no_jwk_of_any_key(
    vault: RunningVault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = open_sink(vault)
    rotated(sink)
    vault.fail_writes(0)
    with pytest.raises(SecretSinkError) as caught:
        sink.stage(CLIENT, key("k3"))
    vault.heal()
    assert "HTTP 500" in str(caught.value)
    shown = "\n".join([caplog.text, str(caught.value), repr(caught.value), repr(sink)])
    assert "PUT" in caplog.text or "put" in caplog.text.lower()
    for kid in ("k1", "k2", "k3"):
        jwk = private_jwk(key(kid))
        assert to_private_jwk_base64(key(kid))[:64] not in shown
        assert not any(jwk[member] in shown for member in ("d", "p", "q", "dp", "dq", "qi"))


# --- configuration ----------------------------------------------------------------------------


_AWS_SINK = "    sink:\n      type: aws-secrets-manager\n      region: eu-north-1\n"


@pytest.mark.parametrize(
    ("vault_url", "prefix", "problem"),
    [
        ("http://acme-test.vault.azure.net/", "{client}-{env}", "vault_url 'http://acme-test"),
        ("https://acme-test.vault.azure.net/", "{client}_{env}", "secret_prefix '{client}_{env}'"),
    ],
)
def test_validate_refuses_what_key_vault_would_with_file_and_line(
    example_copy: Path,
    capsys: pytest.CaptureFixture[str],
    vault_url: str,
    prefix: str,
    problem: str,
) -> None:
    config = example_copy / "mpctl.yaml"
    text = config.read_text()
    assert _AWS_SINK in text
    block = (
        f"    sink:\n      type: azure-key-vault\n      vault_url: {vault_url}\n"
        f'      secret_prefix: "{prefix}"\n'
    )
    config.write_text(text.replace(_AWS_SINK, block, 1))
    line = text[: text.index(_AWS_SINK)].count("\n") + 1
    assert main(["validate", "--manifests", str(example_copy), "-e", "test"]) == 1
    out = capsys.readouterr().out
    assert f"mpctl.yaml:{line}: MPL005" in out
    assert problem in out


def test_a_name_too_long_for_key_vault_is_refused_before_any_request(
    vault: RunningVault,
) -> None:
    sink = open_sink(vault, secret_prefix="{client}-" + "x" * 85)
    with pytest.raises(SecretSinkError, match="secret_prefix"):
        sink.read_state("a-client-with-a-rather-long-manifest-name")
    assert vault.state.requests == []


def test_without_the_sdk_opening_the_sink_says_what_to_install() -> None:
    program = (
        "import sys; sys.modules['azure.identity'] = None\n"
        "from pathlib import Path\n"
        "from pydantic import TypeAdapter\n"
        "from mpctl.errors import SecretSinkError\n"
        "from mpctl.model import SinkSpec\n"
        "from mpctl.secrets import SinkContext, open_sink\n"
        "spec = TypeAdapter(SinkSpec).validate_python("
        "{'type': 'azure-key-vault', 'vault_url': 'https://kv.vault.azure.net/'})\n"
        "try:\n"
        "    open_sink(spec, SinkContext('test', Path('.'), 'https://i/', 'https://t/'))\n"
        "except SecretSinkError as exc:\n"
        "    print(exc, '|', exc.hint)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert "azure-keyvault-secrets" in done.stdout
    assert "pip install 'mpctl[azure]'" in done.stdout


# --- the wire format, pinned in a cassette ----------------------------------------------------


def _probable_prime(rng: random.Random, bits: int) -> int:
    """A prime from `rng` (Miller-Rabin, 40 rounds): the same for the same seed."""
    while True:
        candidate = rng.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if candidate % 65537 != 1 and _is_probable_prime(candidate, rng):
            return candidate


def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if any(n % p == 0 for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)):
        return False
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(40):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def throwaway_key(kid: str) -> PrivateKey:
    """A 2048-bit key derived from a public seed: anyone can make it, so it guards nothing,
    and the cassette can hold it."""
    rng = random.Random(f"mpctl azure cassette {kid}")
    p, q = _probable_prime(rng, 1024), _probable_prime(rng, 1024)
    e = 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q)
    )
    return PrivateKey(numbers.private_key(), kid=kid, created_at=T0)


def _one_rotation(sink: AzureKeyVaultSecretSink) -> SinkState:
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, throwaway_key("cassette-1"))
    sink.promote(CLIENT, "cassette-1", T0)
    sink.stage(CLIENT, throwaway_key("cassette-2"))
    sink.promote(CLIENT, "cassette-2", T0 + timedelta(days=90))
    sink.forget_previous(CLIENT, "cassette-1")
    return sink.read_state(CLIENT)


def _recorder(local: str) -> vcr.VCR:
    """Records against the fake, rewriting its loopback address to a vault's public name."""

    def request(req: Any) -> Any:
        req.uri = req.uri.replace(local, CASSETTE_VAULT)
        return req

    def response(resp: dict[str, Any]) -> dict[str, Any]:
        body = resp["body"]["string"].replace(local.encode(), CASSETTE_VAULT.encode())
        resp["body"]["string"] = body
        for name in list(resp["headers"]):
            if name.lower() == "content-length":
                resp["headers"][name] = [str(len(body))]
            if name.lower() == "date":
                resp["headers"][name] = ["Sun, 01 Nov 2026 09:00:00 GMT"]
        return resp

    return vcr.VCR(
        record_mode="all",
        filter_headers=["authorization", "user-agent", "x-ms-client-request-id"],
        before_record_request=request,
        before_record_response=response,
    )


@pytest.mark.skipif(
    not os.environ.get("MPCTL_RECORD_CASSETTES"), reason="records only when asked to"
)
def test_record_the_cassette(vault: RunningVault) -> None:
    from azure.keyvault.secrets._shared import http_challenge_cache

    http_challenge_cache.clear()
    CASSETTE.unlink(missing_ok=True)  # vcrpy keeps old interactions of an existing cassette
    with _recorder(vault.url).use_cassette(str(CASSETTE)):
        _one_rotation(open_sink(vault))


def test_one_rotation_replays_from_the_cassette() -> None:
    """The SDK's requests (paths, api-version, bodies' shape, the 401 challenge then the
    bearer token) match what the fake answered, against a real vault name with the challenge
    check on."""
    from azure.keyvault.secrets._shared import http_challenge_cache

    http_challenge_cache.clear()  # the SDK caches challenges per vault, process-wide
    replay = vcr.VCR(record_mode="none", filter_headers=["authorization"])
    credential = FixedTokenCredential("replayed")
    with replay.use_cassette(str(CASSETTE)) as cassette:
        sink = AzureKeyVaultSecretSink(
            AzureKeyVaultSink(type="azure-key-vault", vault_url=CASSETTE_VAULT + "/"),
            CONTEXT,
            credential=credential,
            retry_total=0,
        )
        state = _one_rotation(sink)
        assert cassette.all_played
    assert (state.client_id, state.current and state.current.kid) == (CLIENT_ID, "cassette-2")
    assert state.previous is None
    assert credential.asked[0] == ((f"{RESOURCE}/.default",), TENANT)
    puts = [r for r in cassette.requests if r.method == "PUT" and r.body]
    assert {json.loads(r.body)["contentType"] for r in puts if b"contentType" in r.body} >= {
        "application/jwk+json; encoding=base64"
    }
    first = cassette.requests[0]
    assert "authorization" not in {h.lower() for h in first.headers}
    assert cassette.responses[0]["status"]["code"] == 401


def test_the_cassette_holds_no_token_and_only_the_throwaway_keys() -> None:
    text = CASSETTE.read_text()
    assert "Bearer fake-" not in text
    assert "authorization:" not in text.lower().replace("www-authenticate", "")
    assert "PRIVATE KEY" not in text
    assert "cassette-2" in text
