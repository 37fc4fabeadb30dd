"""What makes an uploaded JWKS acceptable, and what expiry each stored key gets.

Owns the JWKS rules: whole-set replacement, 1 to 5 keys, required members kty/use/kid/alg/e/n,
`use` = sig, RSA only, RS256/384/512, modulus of at least 2048 bits, kid characters, no private
members, no duplicate kid, per-key `exp` of at most one year (reject or clamp), and the
expiry-on-repost switch. It must not know HTTP routes or who is calling.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from mpctl.emulator.errors import ApiError, Problem
from mpctl.emulator.keys import b64url_decode
from mpctl.emulator.settings import Switches
from mpctl.emulator.state import KeySet, StoredKey
from mpctl.emulator.vocabulary import (
    GRANT_SIGNING_ALGORITHMS,
    KEY_MAX_LIFETIME_SECONDS,
    MAX_KEYS_PER_CLIENT,
    MIN_RSA_BITS,
)

OBJECT: Final = "Jwks"
_KID: Final = re.compile(r"^[A-Za-z0-9._-]+\Z")
_PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "k")
_REQUIRED_MEMBERS: Final = ("kty", "use", "kid", "alg", "e", "n")


@dataclass(frozen=True)
class JwkInput:
    kid: str
    alg: str
    e: str
    n: str
    use: str
    x5c: list[str] | None
    exp: int | None


def _reject(problems: list[Problem]) -> ApiError:
    return ApiError(400, problems, object_name=OBJECT)


def key_list(payload: dict[str, Any]) -> list[Any]:
    """The `keys` array of a POST/PUT body: present, non-empty, at most five entries."""
    keys = payload.get("keys")
    if not isinstance(keys, list):
        raise _reject([Problem('Body must be {"keys": [...]}', field="keys")])
    if not keys:
        message = "keys must not be empty; use DELETE to remove all keys"
        raise _reject([Problem(message, field="keys")])
    if len(keys) > MAX_KEYS_PER_CLIENT:
        message = f"A client can have at most {MAX_KEYS_PER_CLIENT} keys"
        raise _reject([Problem(message, field="keys")])
    return keys


def check_jwk(raw: object, where: str) -> tuple[JwkInput | None, list[Problem]]:
    """One uploaded key: the parsed public key, or the problems that make it unacceptable."""
    if not isinstance(raw, dict):
        return None, [Problem("Each key must be a JSON object", field=where)]
    problems = _member_problems(raw, where)
    if problems:
        return None, problems
    problems = _value_problems(raw, where)
    exp = raw.get("exp")
    if exp is not None and (not isinstance(exp, int) or isinstance(exp, bool)):
        problems.append(Problem("exp must be epoch seconds (integer)", field=f"{where}.exp"))
    x5c = raw.get("x5c")
    if x5c is not None and not (isinstance(x5c, list) and all(isinstance(c, str) for c in x5c)):
        problems.append(Problem("x5c must be an array of strings", field=f"{where}.x5c"))
    if problems:
        return None, problems
    members = {name: raw[name] for name in ("kid", "alg", "e", "n", "use")}
    return JwkInput(**members, x5c=x5c, exp=exp), []


def _member_problems(raw: dict[str, Any], where: str) -> list[Problem]:
    problems = [
        Problem(f"Private key member '{name}' must not be uploaded", field=f"{where}.{name}")
        for name in _PRIVATE_MEMBERS
        if name in raw
    ]
    problems += [
        Problem(f"'{name}' is required and must be a string", field=f"{where}.{name}")
        for name in _REQUIRED_MEMBERS
        if not isinstance(raw.get(name), str) or not raw[name]
    ]
    return problems


def _value_problems(raw: dict[str, Any], where: str) -> list[Problem]:
    problems = []
    if raw["kty"] != "RSA":
        problems.append(Problem("Only RSA keys (kty RSA) are supported", field=f"{where}.kty"))
    if raw["use"] != "sig":
        problems.append(Problem("use must be 'sig'", field=f"{where}.use"))
    if raw["alg"] not in GRANT_SIGNING_ALGORITHMS:
        message = f"alg must be one of {', '.join(GRANT_SIGNING_ALGORITHMS)}"
        problems.append(Problem(message, field=f"{where}.alg"))
    if not _KID.match(raw["kid"]):
        message = "kid may only contain A-Z, a-z, 0-9, '.', '_' and '-'"
        problems.append(Problem(message, field=f"{where}.kid"))
    return problems + _rsa_problems(raw["n"], raw["e"], where)


def _rsa_problems(n: str, e: str, where: str) -> list[Problem]:
    try:
        modulus = int.from_bytes(b64url_decode(n), "big")
        exponent = int.from_bytes(b64url_decode(e), "big")
    except ValueError:
        return [Problem("n and e must be base64url-encoded integers", field=f"{where}.n")]
    problems = []
    if modulus.bit_length() < MIN_RSA_BITS:
        message = f"RSA keys must be at least {MIN_RSA_BITS} bits"
        problems.append(Problem(message, field=f"{where}.n"))
    if exponent < 3 or exponent % 2 == 0:
        problems.append(Problem("e is not a valid RSA public exponent", field=f"{where}.e"))
    return problems


def build_key_set(
    raw_keys: list[Any],
    existing: KeySet | None,
    now: float,
    switches: Switches,
    kid_taken_elsewhere: Callable[[str], bool],
) -> KeySet:
    """The new whole set, or 400 with every problem found."""
    parsed, problems = [], []
    for index, raw in enumerate(raw_keys):
        key, key_problems = check_jwk(raw, f"keys[{index}]")
        problems += key_problems
        if key is not None:
            parsed.append((index, key))
    problems += _uniqueness_problems(parsed, kid_taken_elsewhere)
    problems += _lifetime_problems(parsed, now, switches)
    if problems:
        raise _reject(problems)
    stored = [_stored(key, existing, now, switches) for _, key in parsed]
    created = existing.created if existing is not None else now
    return KeySet(keys=stored, created=created, last_updated=now)


def _uniqueness_problems(
    parsed: list[tuple[int, JwkInput]], kid_taken_elsewhere: Callable[[str], bool]
) -> list[Problem]:
    problems, seen = [], set()
    for index, key in parsed:
        if key.kid in seen:
            problems.append(Problem(f"Duplicate kid '{key.kid}'", field=f"keys[{index}].kid"))
        elif kid_taken_elsewhere(key.kid):
            message = f"kid '{key.kid}' is already used by another client"
            problems.append(Problem(message, field=f"keys[{index}].kid"))
        seen.add(key.kid)
    return problems


def _latest_allowed_exp(now: float) -> int:
    return int(now) + KEY_MAX_LIFETIME_SECONDS


def _lifetime_problems(
    parsed: list[tuple[int, JwkInput]], now: float, switches: Switches
) -> list[Problem]:
    if switches.key_exp_beyond_one_year == "clamp":
        return []
    return [
        Problem("exp must be at most one year from now", field=f"keys[{index}].exp")
        for index, key in parsed
        if key.exp is not None and key.exp > _latest_allowed_exp(now)
    ]


def _stored(key: JwkInput, existing: KeySet | None, now: float, switches: Switches) -> StoredKey:
    previous = None
    if existing is not None:
        previous = next((k for k in existing.keys if k.same_material(key.kid, key.n, key.e)), None)
    return StoredKey(
        kty="RSA",
        use=key.use,
        kid=key.kid,
        alg=key.alg,
        e=key.e,
        n=key.n,
        x5c=key.x5c,
        exp=_expiry(key, previous, now, switches),
        registered_at=previous.registered_at if previous is not None else now,
    )


def _expiry(key: JwkInput, previous: StoredKey | None, now: float, switches: Switches) -> int:
    latest = _latest_allowed_exp(now)
    mode = switches.key_expiry_on_repost
    if mode == "renew_all":
        return latest
    if key.exp is not None:
        return min(key.exp, latest)
    if mode == "keep_existing" and previous is not None:
        return previous.exp
    return latest
