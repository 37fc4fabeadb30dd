"""The shared sink behaviour (`tests.sinks.suite`) for GitHub Actions environment secrets, plus
what only this store has: sealed secrets, runners that see secrets only through their job's
environment, names per client, and GitHub's errors.

No GitHub server can be installed here, so the store is `tests.fakes.github` (the documented
REST endpoints, served on 127.0.0.1). The workload's view is what a job in the environment
receives: the variables, and the current secret DECRYPTED with the environment's private key
that only the fake and this test hold, which proves the sink sealed it for that environment.

A sink opened by the store (`store.open()`) is a runner in that GitHub environment that maps
`${{ toJSON(secrets) }}`: its environment is read from the fake at each lookup, as a job started
at that moment would see it. A job's real environment is fixed when it starts;
`test_a_job_started_before_a_rotation_says_so_for_the_new_key` checks that case.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import sys
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import vcr
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.cli.environment import connect, open_workspace
from mpctl.cli.main import main
from mpctl.errors import SecretSinkError
from mpctl.model import GitHubEnvironmentSink
from mpctl.secrets import (
    BlockingSecretSink,
    PrivateKey,
    SinkContext,
    from_pem,
    open_sink,
    to_pem,
)
from mpctl.secrets.github import SECRETS_JSON_VARIABLE, GitHubSecretSink, open_github_sink
from tests.fakes.github import FakeGitHub, serving
from tests.sinks.suite import *  # noqa: F403 (the shared behaviour runs here)
from tests.sinks.suite import CLIENT, CLIENT_ID, T0, StoreUnderTest, key, rotate_to, rotated

REPOSITORY = "acme/payments"
ENVIRONMENT = "production"
TOKEN = "github_pat_fake_0123456789abcdef"
TOKEN_VARIABLE = "MPCTL_GITHUB_TOKEN"
PREFIX = "BILLING_"
CASSETTE = Path(__file__).resolve().parent.parent / "fakes" / "cassettes" / "github.yaml"


class JobEnvironment(Mapping[str, str]):
    """A job's environment in the GitHub environment: the token, and
    `MPCTL_GITHUB_SECRETS: ${{ toJSON(secrets) }}` as the fake holds the secrets right now."""

    def __init__(self, fake: FakeGitHub, *, secrets: bool = True) -> None:
        self._fake = fake
        self._secrets = secrets

    def _values(self) -> dict[str, str]:
        values = {TOKEN_VARIABLE: TOKEN}
        if self._secrets:
            mapped = self._fake.secret_values(REPOSITORY, ENVIRONMENT)
            values[SECRETS_JSON_VARIABLE] = json.dumps(mapped)
        return values

    def __getitem__(self, name: str) -> str:
        return self._values()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    github = FakeGitHub(TOKEN)
    with serving(github):
        yield github


def spec_for(fake: FakeGitHub, **overrides: Any) -> GitHubEnvironmentSink:
    fields: dict[str, Any] = {
        "type": "github-environment",
        "repository": REPOSITORY,
        "environment": ENVIRONMENT,
        "token": {"env": TOKEN_VARIABLE},
        "api_url": fake.url,
        **overrides,
    }
    return GitHubEnvironmentSink.model_validate(fields)


def context_for(environ: Mapping[str, str], tmp: Path = Path(".")) -> SinkContext:
    return SinkContext(
        ENVIRONMENT, tmp, "https://test.maskinporten.no/", "https://test.maskinporten.no/token",
        environ=environ,
    )  # fmt: skip


def runner(
    fake: FakeGitHub, environ: Mapping[str, str] | None = None, **spec: Any
) -> GitHubSecretSink:
    """A sink as a fresh runner opens it (by default: secrets mapped, read live)."""
    chosen = JobEnvironment(fake) if environ is None else environ
    return open_github_sink(spec_for(fake, **spec), context_for(chosen))


def workload_of(fake: FakeGitHub, prefix: str = PREFIX) -> dict[str, str]:
    """What the workload's job maps: the client's variables and its current secret, by name
    without the prefix (`MASKINPORTEN_KID: ${{ vars.BILLING_MASKINPORTEN_KID }}`)."""
    seen = fake.variable_values(REPOSITORY, ENVIRONMENT)
    seen.update(fake.secret_values(REPOSITORY, ENVIRONMENT))
    return {
        name.removeprefix(prefix): value
        for name, value in seen.items()
        if name.startswith(prefix) and "MPCTL_" not in name
    }


@pytest.fixture
def store(fake: FakeGitHub) -> Iterator[StoreUnderTest]:
    fake.reset()
    fake.add_environment(REPOSITORY, ENVIRONMENT)

    def opened() -> BlockingSecretSink:
        return runner(fake)

    yield StoreUnderTest(
        open=opened,
        fail_writes=fake.fail_writes,
        heal=fake.heal,
        workload=lambda: workload_of(fake),
        kind="github-environment",
        wire_log=lambda: "\n".join(fake.requests),
    )
    fake.heal()


# --- sealed secrets ---------------------------------------------------------------------------


def test_keys_are_sealed_for_the_environment_and_the_workload_gets_the_current_one(
    store: StoreUnderTest, fake: FakeGitHub
) -> None:
    sink = store.open()
    rotated(sink)
    environment = fake.environments[(REPOSITORY, ENVIRONMENT)]
    stored = environment.secrets[f"{PREFIX}MASKINPORTEN_PRIVATE_KEY"]
    assert "PRIVATE KEY" not in stored
    assert environment.decrypt(f"{PREFIX}MASKINPORTEN_PRIVATE_KEY") == to_pem(key("k2"))
    assert environment.decrypt(f"{PREFIX}MPCTL_PREVIOUS_PRIVATE_KEY") == to_pem(key("k1"))
    assert f"{PREFIX}MPCTL_PENDING_PRIVATE_KEY" not in environment.secrets
    seen = workload_of(fake)
    assert seen["MASKINPORTEN_KID"] == "k2"
    assert seen["MASKINPORTEN_CLIENT_ID"] == CLIENT_ID
    assert seen["MASKINPORTEN_TOKEN_ENDPOINT"] == "https://test.maskinporten.no/token"
    labels = fake.variable_values(REPOSITORY, ENVIRONMENT)[f"{PREFIX}MPCTL_KEY_LABELS"]
    assert "PRIVATE" not in labels
    assert json.loads(labels)["current"]["kid"] == "k2"


@pytest.mark.parametrize("encoding", ["base64", "jwk-base64"])
def test_a_base64_key_encoding_reaches_the_workload_and_the_next_runner(
    store: StoreUnderTest, fake: FakeGitHub, encoding: str
) -> None:
    rotated(runner(fake, key_encoding=encoding))
    seen = workload_of(fake)
    assert "MASKINPORTEN_PRIVATE_KEY" not in seen
    assert seen["MASKINPORTEN_PRIVATE_KEY_BASE64"]
    other = runner(fake, key_encoding=encoding)
    assert other.load_private_key(CLIENT, "k2").thumbprint == key("k2").thumbprint
    other.forget_previous(CLIENT, "k1")
    rotate_to(other, "k3")  # needs k2's material from the base64 secret to keep it as previous
    assert other.load_private_key(CLIENT, "k2").thumbprint == key("k2").thumbprint


# --- runners ----------------------------------------------------------------------------------


def test_an_interrupted_rotation_is_finished_by_the_next_runner(
    store: StoreUnderTest, fake: FakeGitHub
) -> None:
    first = runner(fake, environ={TOKEN_VARIABLE: TOKEN})  # no secrets mapped, like a plain job
    first.set_client_id(CLIENT, CLIENT_ID)
    first.stage(CLIENT, key("k1"))
    first.promote(CLIENT, "k1", T0)
    first.stage(CLIENT, key("k2"))  # ... and the runner is gone
    job_started_now = dict(JobEnvironment(fake))
    second = runner(fake, environ=job_started_now)
    second.promote(CLIENT, "k2", T0 + timedelta(days=90))
    state = second.read_state(CLIENT)
    assert (state.current and state.current.kid, state.previous and state.previous.kid) == (
        "k2",
        "k1",
    )
    assert from_pem(workload_of(fake)["MASKINPORTEN_PRIVATE_KEY"], kid="k2", created_at=T0
                    ).thumbprint == key("k2").thumbprint  # fmt: skip


def test_a_runner_without_the_secrets_in_its_environment_says_where_to_run(
    store: StoreUnderTest, fake: FakeGitHub
) -> None:
    rotated(store.open())
    store.open().forget_previous(CLIENT, "k1")
    store.open().stage(CLIENT, key("k3"))
    bare = runner(fake, environ={TOKEN_VARIABLE: TOKEN})
    with pytest.raises(SecretSinkError) as refused:
        bare.promote(CLIENT, "k3", T0 + timedelta(days=180))
    assert "k3" in str(refused.value)
    assert "environment: production" in str(refused.value.hint)
    assert "toJSON(secrets)" in str(refused.value.hint)
    assert bare.read_state(CLIENT).pending is not None  # nothing was written


def test_a_job_started_before_a_rotation_says_so_for_the_new_key(
    store: StoreUnderTest, fake: FakeGitHub
) -> None:
    sink = store.open()
    sink.set_client_id(CLIENT, CLIENT_ID)
    rotate_to(sink, "k1")
    started_earlier = runner(fake, environ=dict(JobEnvironment(fake)))
    rotate_to(sink, "k2")
    assert started_earlier.load_private_key(CLIENT, "k1").thumbprint == key("k1").thumbprint
    with pytest.raises(SecretSinkError, match="does not hold it"):
        started_earlier.load_private_key(CLIENT, "k2")


ROTATION_WRITES = 9
"""stage: pending secret, labels; promote: previous secret, current secret, _KID, labels,
delete pending; forget_previous: labels, delete previous."""


@pytest.mark.parametrize("after", range(ROTATION_WRITES + 1))
def test_a_write_failing_at_any_point_leaves_every_label_loadable_by_a_fresh_runner(
    store: StoreUnderTest, fake: FakeGitHub, after: int
) -> None:
    sink = store.open()
    rotated(sink)
    sink.forget_previous(CLIENT, "k1")
    fake.fail_writes(after)
    try:
        rotate_to(sink, "k3")
        sink.forget_previous(CLIENT, "k2")
    except SecretSinkError:
        assert after < ROTATION_WRITES
    fake.heal()
    fresh = runner(fake)
    state = fresh.read_state(CLIENT)
    for slot in (state.current, state.previous, state.pending):
        if slot is not None:
            assert fresh.load_private_key(CLIENT, slot.kid).thumbprint == slot.thumbprint
    assert state.current is not None
    assert state.current.kid in ("k2", "k3")
    finisher = runner(fake)  # the next runner: no memory of k3 unless it stages it again
    if state.current.kid == "k2":
        if state.pending is None:
            finisher.stage(CLIENT, key("k3"))
        finisher.promote(CLIENT, "k3", T0 + timedelta(days=180))
    finisher.forget_previous(CLIENT, "k2")
    seen = workload_of(fake)
    assert seen["MASKINPORTEN_KID"] == "k3"
    assert seen["MASKINPORTEN_PRIVATE_KEY"] == to_pem(key("k3"))
    assert fake.secret_values(REPOSITORY, ENVIRONMENT).keys() == {
        f"{PREFIX}MASKINPORTEN_PRIVATE_KEY"
    }


# --- names ------------------------------------------------------------------------------------


def test_clients_sharing_an_environment_get_their_own_names(
    store: StoreUnderTest, fake: FakeGitHub
) -> None:
    sink = store.open()
    rotated(sink)
    sink.set_client_id("ledger-api", "other-client-id")
    sink.stage("ledger-api", key("k9"))
    sink.promote("ledger-api", "k9", T0)
    assert workload_of(fake)["MASKINPORTEN_KID"] == "k2"
    assert workload_of(fake, "LEDGER_API_")["MASKINPORTEN_KID"] == "k9"
    shared = runner(fake, name_prefix="")
    shared.set_client_id("one", "id-1")
    with pytest.raises(SecretSinkError, match="belongs to client 'one'") as refused:
        shared.read_state("two")
    assert "name_prefix" in str(refused.value.hint)


def test_the_spec_sends_the_token_only_to_github_or_loopback() -> None:
    base = {"type": "github-environment", "repository": "a/b", "environment": "p",
            "token": {"env": "T"}}  # fmt: skip
    assert GitHubEnvironmentSink.model_validate(base).api_url == "https://api.github.com"
    for url in ("https://api.github.com.evil.example", "http://10.0.0.5:8080", "https://ghe.corp"):
        with pytest.raises(ValueError, match="loopback"):
            GitHubEnvironmentSink.model_validate({**base, "api_url": url})
    with pytest.raises(ValueError, match="GITHUB_"):
        GitHubEnvironmentSink.model_validate({**base, "name_prefix": "GITHUB_{client}_"})


# --- errors -----------------------------------------------------------------------------------


def test_a_refused_token_names_the_store_status_and_permissions_never_the_token(
    store: StoreUnderTest, fake: FakeGitHub
) -> None:
    wrong = runner(fake, environ={TOKEN_VARIABLE: "github_pat_wrong_token"})
    with pytest.raises(SecretSinkError) as refused:
        wrong.read_state(CLIENT)
    text = f"{refused.value} {refused.value.hint} {wrong!r}"
    assert "HTTP 401" in text
    assert "Bad credentials" in text
    assert f"{REPOSITORY} environment 'production'" in text
    assert "Environments: read and write" in text
    assert TOKEN_VARIABLE in text
    assert "github_pat_wrong_token" not in text


def test_a_missing_environment_is_named_with_how_to_fix(
    store: StoreUnderTest, fake: FakeGitHub
) -> None:
    sink = runner(fake, environment="staging")
    with pytest.raises(SecretSinkError) as refused:
        sink.stage(CLIENT, key("k1"))
    assert "HTTP 404" in str(refused.value)
    assert "'staging'" in str(refused.value.hint)
    assert "Settings → Environments" in str(refused.value.hint)


def test_an_unset_token_is_refused_when_the_sink_opens(tmp_path: Path, fake: FakeGitHub) -> None:
    with pytest.raises(SecretSinkError, match=f"environment variable {TOKEN_VARIABLE}"):
        open_github_sink(spec_for(fake), context_for({}, tmp_path))
    (tmp_path / "token").write_text(TOKEN + "\n")
    sink = open_github_sink(spec_for(fake, token={"file": "token"}), context_for({}, tmp_path))
    assert TOKEN not in repr(sink)


def test_without_pynacl_the_sink_says_which_extra_to_install(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nacl.public", None)
    with pytest.raises(SecretSinkError, match=r"pip install 'mpctl\[github\]'"):
        open_sink(spec_for(fake), context_for({TOKEN_VARIABLE: TOKEN}))


# --- the wire format, pinned ------------------------------------------------------------------


def _scrub(request: Any) -> Any:
    request.headers.pop("Authorization", None)
    return request


def _cassette_rotation(sink: BlockingSecretSink) -> None:
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, cassette_key("k1"))
    sink.promote(CLIENT, "k1", T0)
    sink.stage(CLIENT, cassette_key("k2"))
    sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    sink.forget_previous(CLIENT, "k1")


def test_one_rotation_replays_from_the_cassette(fake: FakeGitHub) -> None:
    """`tests/fakes/cassettes/github.yaml` pins every request of one rotation (method and
    path, in order); rerecord with MPCTL_RECORD_CASSETTES=1 when the wire format changes."""
    recording = bool(os.environ.get("MPCTL_RECORD_CASSETTES"))
    recorder = vcr.VCR(
        record_mode="all" if recording else "none",
        match_on=["method", "scheme", "host", "path", "query"],
        before_record_request=_scrub,
        filter_headers=["authorization"],
        decode_compressed_response=True,
    )
    if recording:
        fake.reset()
        fake.add_environment(REPOSITORY, ENVIRONMENT)
    with recorder.use_cassette(str(CASSETTE), allow_playback_repeats=False) as cassette:
        url = fake.url if recording else _recorded_url()
        sink = open_github_sink(spec_for(fake, api_url=url), context_for({TOKEN_VARIABLE: TOKEN}))
        _cassette_rotation(sink)
        if not recording:
            assert cassette.all_played
    text = CASSETTE.read_text()
    assert "PRIVATE KEY" not in text
    assert TOKEN not in text
    assert "Bearer" not in text
    puts = [r for r in cassette.requests if r.method == "PUT"]
    assert puts
    assert all(set(json.loads(r.body)) == {"encrypted_value", "key_id"} for r in puts)


def _recorded_url() -> str:
    for line in CASSETTE.read_text().splitlines():
        if line.strip().startswith("uri: "):
            uri = line.split("uri: ", 1)[1].strip()
            return uri.split("/repos/", 1)[0]
    raise AssertionError("the cassette holds no request")


# --- the cassette's keys ----------------------------------------------------------------------
# The replayed rotation must stage the same public keys the recording did (the recorded labels
# hold their thumbprints), and no private key may be stored: so the cassette's keys are derived
# from a fixed seed, RSA built by hand from seeded primes. Throwaway keys, for this test only.

_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, math.isqrt(p) + 1))]
_CASSETTE_KEYS: dict[str, PrivateKey] = {}


def _probably_prime(n: int, rng: random.Random, rounds: int = 40) -> bool:
    """Miller-Rabin."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _seeded_prime(rng: random.Random, bits: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (0b11 << (bits - 2)) | 1
        if all(candidate % p for p in _SMALL_PRIMES) and _probably_prime(candidate, rng):
            return candidate


def cassette_key(kid: str) -> PrivateKey:
    """A 2048-bit RSA key that is the same on every run (seeded by `kid`)."""
    if kid not in _CASSETTE_KEYS:
        rng = random.Random(f"mpctl github cassette {kid}")
        e = 65537
        p, q = _seeded_prime(rng, 1024), _seeded_prime(rng, 1024)
        while p == q or math.gcd(e, (p - 1) * (q - 1)) != 1:
            p, q = _seeded_prime(rng, 1024), _seeded_prime(rng, 1024)
        d = pow(e, -1, math.lcm(p - 1, q - 1))
        numbers = rsa.RSAPrivateNumbers(
            p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
            rsa.RSAPublicNumbers(e, p * q),
        )  # fmt: skip
        _CASSETTE_KEYS[kid] = PrivateKey(numbers.private_key(), kid=kid, created_at=T0)
    return _CASSETTE_KEYS[kid]


def test_the_cassette_keys_are_the_same_on_every_run() -> None:
    again = _CASSETTE_KEYS.pop("k1", None) and None
    first = cassette_key("k1").thumbprint
    _CASSETTE_KEYS.clear()
    assert again is None
    assert cassette_key("k1").thumbprint == first
    assert cassette_key("k1").size == 2048
    assert cassette_key("k2").thumbprint != first


# --- through the real CLI ---------------------------------------------------------------------

_LOCAL_EMULATOR = "    emulator:\n      world: emulator-world.yaml\n"


def _with_github_sink(project: Path, url: str) -> None:
    config = project / "mpctl.yaml"
    text = config.read_text().replace("size: 3072", "size: 2048")
    assert text.count(_LOCAL_EMULATOR) == 1
    sink = (
        "    sink:\n"
        "      type: github-environment\n"
        f"      repository: {REPOSITORY}\n"
        f"      environment: {ENVIRONMENT}\n"
        f"      token: {{env: {TOKEN_VARIABLE}}}\n"
        f"      api_url: {url}\n"
    )
    config.write_text(text.replace(_LOCAL_EMULATOR, _LOCAL_EMULATOR + sink))


def _registered_kids(project: Path) -> dict[str, frozenset[str]]:
    """client_id → kids in its JWKS, read from Digdir (the embedded emulator)."""

    async def go() -> dict[str, frozenset[str]]:
        async with connect(open_workspace(project, None), access="read") as (api, _):
            return {
                client.client_id: (await api.get_jwks(client.client_id)).kids
                for client in await api.list_clients()
            }

    return asyncio.run(go())


def test_apply_writes_the_workload_variables_and_verify_runs_in_the_environment(
    fake: FakeGitHub,
    example_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.reset()
    fake.add_environment(REPOSITORY, ENVIRONMENT)
    _with_github_sink(example_copy, fake.url)
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    monkeypatch.delenv(SECRETS_JSON_VARIABLE, raising=False)
    manifests = ["--manifests", str(example_copy)]

    assert main(["apply", *manifests, "--auto-approve"]) == 0, capsys.readouterr()
    variables = fake.variable_values(REPOSITORY, ENVIRONMENT)
    sealed = fake.secret_values(REPOSITORY, ENVIRONMENT)
    registered = _registered_kids(example_copy)
    kids = {name: value for name, value in variables.items() if name.endswith("_MASKINPORTEN_KID")}
    assert kids, "apply wrote no MASKINPORTEN_KID"
    for name, kid in kids.items():
        prefix = name.removesuffix("MASKINPORTEN_KID")
        client_id = variables[f"{prefix}MASKINPORTEN_CLIENT_ID"]
        assert kid in registered[client_id], name
        current = from_pem(sealed[f"{prefix}MASKINPORTEN_PRIVATE_KEY"], kid=kid, created_at=T0)
        labels = json.loads(variables[f"{prefix}MPCTL_KEY_LABELS"])
        assert labels["current"]["thumbprint"] == current.thumbprint
    assert set(sealed) == {f"{n.removesuffix('KID')}PRIVATE_KEY" for n in kids}
    assert not list(example_copy.glob(".mpctl/secrets/**/*.json")), "a key went to a file sink"
    capsys.readouterr()

    # verify in a plain job: the keys are sealed in GitHub, so it says where to run
    assert main(["verify", *manifests]) == 1
    assert "toJSON(secrets)" in capsys.readouterr().err
    # verify in a job of the GitHub environment that maps the secrets
    monkeypatch.setenv(SECRETS_JSON_VARIABLE, json.dumps(sealed))
    assert main(["verify", *manifests]) == 0, capsys.readouterr()
    writes = [r for r in fake.requests if r.split()[0] != "GET"]
    assert main(["plan", *manifests, "--detailed-exitcode"]) == 0
    assert main(["apply", *manifests, "--auto-approve"]) == 0
    assert [r for r in fake.requests if r.split()[0] != "GET"] == writes, "a re-run wrote"
