"""Fuzz of the MASKINPORTEN_* environment: `mpctl readiness` and `credentials_from_env` never crash.

Hypothesis generates hostile workload environments (broken and odd URLs such as
`https://[::1/`, every form of private key mangled: truncated, escaped, quoted, base64 of
anything, JWKs with wrong or oversized members, undecodable bytes, very long values, values
missing or blank) and runs them in child processes (`env_fuzz_child.py`) under an address-space
limit, a CPU limit, and a wall-clock budget per example. Each child runs a batch of examples
in-process and reports one line per example, so a crash or hang still names its example.

Checked for every example: the exit code is 0 (ready, mock) or 1 (not ready), as `readiness`
documents; stdout is one valid JSON document whose status matches the exit code; no traceback
and no "unexpected" error; every failure names one of the probed variables; no key material is
printed; `credentials_from_env` either succeeds exactly when the probe says ready, or raises
`EnvironmentConfigError` naming a variable.

Runs: the normal test run does `MPCTL_FUZZ_EXAMPLES` (default 300) examples in batches of
`MPCTL_FUZZ_BATCH` (default 50). The long run is

    MPCTL_FUZZ_EXAMPLES=10000 .venv/bin/pytest -q -p no:cacheprovider -s \\
        tests/unit/verify/test_env_fuzz.py

and prints its counts (examples, outcomes, slowest example) at the end.
"""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpctl.model import SinkVariables
from mpctl.secrets import PrivateKey, private_jwk, to_pem

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = int(os.environ.get("MPCTL_FUZZ_EXAMPLES", "300"))
BATCH = int(os.environ.get("MPCTL_FUZZ_BATCH", "50"))
MEMORY_BYTES = 2 * 1024**3
EXAMPLE_SECONDS = 5
NAMES = SinkVariables()
VARIABLES = tuple(getattr(NAMES, field) for field in SinkVariables.model_fields)
KID = "billing-TEST.2026-11-21"
COUNTS: Counter[str] = Counter()
SLOWEST: list[float] = [0.0]


@cache
def material() -> dict[str, str]:
    """Key texts made once: two good RSA keys, a small one, an EC key, an encrypted one."""
    from datetime import UTC, datetime

    made = datetime(2026, 11, 21, tzinfo=UTC)
    good = [
        PrivateKey(rsa.generate_private_key(65537, 2048), kid=KID, created_at=made)
        for _ in range(2)
    ]
    small = rsa.generate_private_key(65537, 1024)
    pkcs1 = good[1].crypto_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return {
        "good": to_pem(good[0]),
        "other": to_pem(good[1]),
        "pkcs1": pkcs1.decode(),
        "small": small.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "ec": ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode(),
        "encrypted": good[0]
        .crypto_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret-pass"),
        )
        .decode(),
        "jwk": json.dumps(private_jwk(good[0])),
    }


def b64(text: str | bytes) -> str:
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


# --- values ---------------------------------------------------------------------------------

_env_text = st.text(max_size=80).filter(lambda s: "\x00" not in s)
_undecodable = st.binary(max_size=60).map(
    lambda raw: raw.replace(b"\x00", b"").decode("utf-8", "surrogateescape")
)
_long = st.builds(
    lambda ch, n: ch * n, st.sampled_from(["a", "/", "[", "%", "A"]), st.integers(0, 40_000)
)
_noise = st.one_of(_env_text, _undecodable, _long, st.sampled_from(["", " ", "\n", "\t "]))

_hosts = st.one_of(
    st.sampled_from(
        [
            "test.maskinporten.no",
            "maskinporten.no",
            "localhost",
            "127.0.0.1",
            "[::1]",
            "[::1",
            "::1]",
            "[fe80::1%eth0]",
            "[::ffff:127.0.0.1]",
            "[zz::1]",
            "user:pw@test.maskinporten.no",
            "@",
            "test.maskinporten.no:99999",
            "test.maskinporten.no:-1",
            "test.maskinporten.no:port",
            "test.maskinporten.no:",
            "ex\u2100ample.no",
            "ex\uff0fample.no",
            "xn--.no",
            "",
            "\u0000host".replace("\x00", ""),
        ]
    ),
    _env_text,
)
_urls = st.one_of(
    st.builds(
        lambda scheme, sep, host, path: f"{scheme}{sep}{host}{path}",
        st.sampled_from(["https", "http", "HTTPS", "ftp", "javascript", "", "file"]),
        st.sampled_from(["://", ":/", ":", "//", ":///"]),
        _hosts,
        st.sampled_from(["/", "", "/token", "/token?x=1#f", "//", "/ space", "/\u00e6", "/%00"]),
    ),
    _noise,
)


def _mangle_pem(pem: str, how: str, cut: int) -> str:
    match how:
        case "escaped":
            return pem.replace("\n", "\\n")
        case "escaped-crlf":
            return pem.replace("\n", "\\r\\n")
        case "crlf":
            return pem.replace("\n", "\r\n")
        case "truncated":
            return pem[: cut % max(len(pem), 1)]
        case "quoted":
            return f'"{pem}"'
        case "flipped":
            index = cut % max(len(pem), 1)
            return pem[:index] + ("A" if pem[index : index + 1] != "A" else "B") + pem[index + 1 :]
        case "doubled":
            return pem + pem
        case "spaces":
            return pem.replace("\n", " ")
        case "no-header":
            return "\n".join(pem.splitlines()[1:-1])
        case "huge":
            return pem.splitlines()[0] + "\n" + "QUFB" * (cut % 20_000) + "\n"
        case _:
            return pem


_pem_names = st.sampled_from(["good", "other", "pkcs1", "small", "ec", "encrypted"])
_manglings = st.sampled_from(
    [
        "none",
        "escaped",
        "escaped-crlf",
        "crlf",
        "truncated",
        "quoted",
        "flipped",
        "doubled",
        "spaces",
        "no-header",
        "huge",
    ]
)
_pems = st.builds(
    lambda name, how, cut: _mangle_pem(material()[name], how, cut),
    _pem_names,
    _manglings,
    st.integers(0, 100_000),
)


def _mangle_jwk(member: str, value: object) -> str:
    document = json.loads(material()["jwk"])
    if member == "drop":
        document.pop("d")
    elif member != "none":
        document[member] = value
    return b64(json.dumps(document))


_jwk_values = st.one_of(
    st.none(),
    st.integers(),
    st.lists(st.integers(), max_size=2),
    _env_text,
    st.builds(lambda n: base64.urlsafe_b64encode(b"\xff" * n).decode(), st.integers(0, 3000)),
)
_jwks = st.builds(
    _mangle_jwk,
    st.sampled_from(["none", "drop", "n", "e", "d", "p", "q", "dp", "qi", "kty", "kid", "oth"]),
    _jwk_values,
)
_base64_keys = st.one_of(
    _jwks,
    _pems.map(b64),
    _noise.map(b64),
    _noise,
    st.binary(max_size=200).map(b64),
    st.builds(lambda s: b64(s)[:-2], _pems),
)

_kids = st.one_of(st.just(KID), st.sampled_from(["", "a" * 129, "k id", "kid\n", "ø"]), _noise)
_modes = st.one_of(st.sampled_from(["live", " live ", "LIVE", "mock", "", "live\n"]), _noise)

_PLAUSIBLE: dict[str, st.SearchStrategy[str]] = {
    NAMES.mode: st.just("live"),
    NAMES.client_id: st.just("0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10"),
    NAMES.kid: st.just(KID),
    NAMES.private_key: st.builds(
        lambda name, how: _mangle_pem(material()[name], how, 0),
        st.sampled_from(["good", "pkcs1"]),
        st.sampled_from(["none", "escaped", "escaped-crlf", "crlf"]),
    ),
    NAMES.private_key_base64: st.sampled_from(["good", "jwk"]).map(lambda n: b64(material()[n])),
    NAMES.token_endpoint: st.just("https://test.maskinporten.no/token"),
    NAMES.issuer: st.just("https://test.maskinporten.no/"),
}
_HOSTILE: dict[str, st.SearchStrategy[str]] = {
    NAMES.mode: _modes,
    NAMES.client_id: _noise,
    NAMES.kid: _kids,
    NAMES.private_key: st.one_of(_pems, _noise),
    NAMES.private_key_base64: _base64_keys,
    NAMES.token_endpoint: _urls,
    NAMES.issuer: _urls,
}


@st.composite
def environments(draw: st.DrawFn) -> dict[str, Any]:
    """One workload environment: each variable absent, plausible or hostile; and CLI flags.

    Plausible is the likeliest choice, so whole environments are often ready except for one or
    two hostile values: the paths past the first check get exercised too.
    """
    environ: dict[str, str] = {}
    for name, plausible in _PLAUSIBLE.items():
        choice = draw(st.integers(0, 9))
        if name == NAMES.private_key_base64 and choice < 7:
            continue  # usually absent: both key variables set is its own (single) finding
        if choice == 0:
            continue
        environ[name] = draw(_HOSTILE[name] if choice <= 3 else plausible)
    flags = draw(st.lists(st.sampled_from(["--allow-http", "--require-live"]), unique=True))
    return {"environ": environ, "flags": flags}


# --- running and checking ---------------------------------------------------------------------


def run_batch(examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run `examples` in one limited child; a missing line is the example that crashed or hung."""
    request = {
        "examples": examples,
        "memory_bytes": MEMORY_BYTES,
        "cpu_seconds": 30 + EXAMPLE_SECONDS * len(examples),
    }
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "tests.unit.verify.env_fuzz_child"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60 + 2 * EXAMPLE_SECONDS * len(examples),
            check=False,
            env={**os.environ, "MPCTL_DEBUG": "0"},
        )
        stdout, stderr, code = finished.stdout, finished.stderr, finished.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stderr, code = "child timed out", None
    results = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    if len(results) < len(examples):
        culprit = examples[len(results)]
        COUNTS["child died"] += 1
        pytest.fail(
            f"child stopped (exit {code}) in example {len(results)}: {culprit!r}\n{stderr[-2000:]}"
        )
    return results


def problems_of(example: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Every rule this example's result breaks (empty when it behaved)."""
    if result.get("over_budget"):
        return [f"over the {EXAMPLE_SECONDS} s budget"]
    found: list[str] = []
    text = result["out"] + result["err"]
    if result["code"] not in (0, 1):
        found.append(f"exit code {result['code']}")
    if "Traceback" in text or "unexpected" in text or "escaped:" in text:
        found.append(f"crash: {result['err'][-300:]}")
    found += _json_problems(result)
    found += _secret_problems(example, text)
    if result.get("credentials") == "crashed":
        found.append(f"credentials_from_env raised {result['message']}")
    elif result.get("credentials") == "refused" and not any(
        name in result["message"] for name in VARIABLES
    ):
        found.append(f"credentials error names no variable: {result['message'][:200]}")
    return found


def _json_problems(result: dict[str, Any]) -> list[str]:
    try:
        document = json.loads(result["out"])
    except ValueError:
        return [f"stdout is not JSON: {result['out'][:200]!r}"]
    status = document.get("status") if isinstance(document, dict) else None
    expected_code = {"ready": 0, "mock": 0, "not_ready": 1}.get(str(status))
    found = [] if expected_code == result["code"] else [f"status {status!r}, exit {result['code']}"]
    for failure in document.get("failures", []) if isinstance(document, dict) else []:
        if failure.get("field") not in VARIABLES or not failure.get("reason"):
            found.append(f"failure does not name a probed variable: {failure!r}")
    if status == "ready" and result.get("credentials") != "ok":
        found.append("ready, but credentials_from_env refused")
    return found


def _secret_problems(example: dict[str, Any], text: str) -> list[str]:
    keys = (
        example["environ"].get(NAMES.private_key),
        example["environ"].get(NAMES.private_key_base64),
    )
    for value in keys:
        for line in (value or "").splitlines():
            if len(line) >= 24 and line in text:
                return ["key material printed"]
    return []


def _record(result: dict[str, Any]) -> None:
    COUNTS["examples"] += 1
    try:
        COUNTS[f"status {json.loads(result['out']).get('status')}"] += 1
    except (ValueError, AttributeError):
        COUNTS["status unreadable"] += 1
    COUNTS[f"credentials {result.get('credentials')}"] += 1
    SLOWEST[0] = max(SLOWEST[0], float(result["seconds"]))


@settings(
    max_examples=max(1, math.ceil(EXAMPLES / BATCH)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=EXAMPLES <= 300,
)
@given(batch=st.lists(environments(), min_size=BATCH, max_size=BATCH))
def test_hostile_environments_give_findings_not_crashes(batch: list[dict[str, Any]]) -> None:
    results = run_batch(batch)
    broken = []
    for example, result in zip(batch, results, strict=True):
        _record(result)
        problems = problems_of(example, result)
        if problems:
            broken.append((problems, example))
    assert not broken, f"{len(broken)} of {len(batch)} examples broke a rule; first: {broken[0]!r}"


@pytest.fixture(scope="module", autouse=True)
def _counts() -> Any:
    yield
    if COUNTS:
        listed = ", ".join(f"{k}: {v}" for k, v in sorted(COUNTS.items()))
        print(f"\nenv fuzz: {listed}; slowest example {SLOWEST[0]:.2f} s")


def test_the_issue_9_example_is_a_named_finding() -> None:
    """The reported crash, through the same child: `MASKINPORTEN_ISSUER='https://[::1/'`."""
    environ = {
        NAMES.mode: "live",
        NAMES.client_id: "c",
        NAMES.kid: KID,
        NAMES.private_key: material()["good"],
        NAMES.token_endpoint: "https://[::1/token",
        NAMES.issuer: "https://[::1/",
    }
    (result,) = run_batch([{"environ": environ, "flags": []}])
    assert problems_of({"environ": environ}, result) == []
    failures = {f["field"] for f in json.loads(result["out"])["failures"]}
    assert failures == {NAMES.issuer, NAMES.token_endpoint}
    assert result["code"] == 1
