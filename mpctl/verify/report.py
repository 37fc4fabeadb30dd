"""The report of one verify run as data: what `mpctl verify --format json` prints.

Owns the pydantic model (`VerifyReport`, `format_version` 1: one `CheckReport` per client and
delegation with its outcome, the claims checked, the MP code and the catalogue's cause and fix,
and the run's totals), its JSON spelling (sorted keys) and its JSON Schema
(`verify_report_schema`). Every text field passes through `mpctl.redaction` when the model is
built, so neither the JSON nor a repr can carry a token, a grant or a key, whatever a message
quoted. Builds no report by itself from the network and never prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mpctl.redaction import redact_text
from mpctl.verify.claims import ClaimCheck

FORMAT_VERSION: Literal["1"] = "1"
"""A string, as the plan file's and the apply report's `format_version` are."""

Shown = Annotated[str, AfterValidator(redact_text)]
"""Text as a report may show it: anything secret-looking is already replaced."""

Outcome = Literal["ok", "failed", "skipped"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClaimReport(_Frozen):
    """One claim checked on a minted token. `expected` None: the claim must be absent; `*`:
    any non-empty value. `actual` is the token's value (never the token itself)."""

    name: Shown
    expected: Shown | None
    actual: Shown | None
    ok: bool
    problem: Shown | None = None

    @classmethod
    def of(cls, check: ClaimCheck) -> ClaimReport:
        return cls(
            name=check.claim,
            expected=check.expected,
            actual=check.actual,
            ok=check.ok,
            problem=check.problem,
        )


class CheckReport(_Frozen):
    """How one client's own token, or one of its delegations, fared."""

    address: Shown = Field(
        description="client/<name> for the client's own scopes, "
        "client/<name>/delegation/<orgno> for a delegation."
    )
    client: Shown
    consumer_org: Shown | None = None
    scopes: list[Shown] = Field(default_factory=list)
    outcome: Outcome
    code: Shown = Field(
        description="ok; Maskinporten's error id (MP-251, or a catalogue slug); the token "
        "endpoint's outcome (exhausted, timeout, ...); refused; claims; no-key; skipped."
    )
    reason: Shown | None = Field(
        default=None, description="Why it failed or was skipped, in one line."
    )
    mp_code: Shown | None = None
    cause: Shown | None = None
    fix: Shown | None = None
    trace_id: Shown | None = Field(
        default=None, description="Maskinporten's trace id of a refusal: what its support asks for."
    )
    claims: list[ClaimReport] = Field(default_factory=list)
    attempts: int = Field(default=0, ge=0, description="Token requests made (retries included).")
    duration_ms: int = Field(default=0, ge=0)

    @classmethod
    def skipped(
        cls, *, address: str, client: str, reason: str, code: str = "skipped"
    ) -> CheckReport:
        return cls(address=address, client=client, outcome="skipped", code=code, reason=reason)


class Totals(_Frozen):
    checks: int = Field(ge=0)
    ok: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(ge=0)


class VerifyReport(_Frozen):
    """One `mpctl verify` run: every check in the order they ran, and the totals."""

    format_version: Literal["1"] = FORMAT_VERSION
    environment: Shown
    issuer: Shown
    ok: bool = Field(description="True when no check failed (the command exits 0).")
    checks: list[CheckReport]
    totals: Totals
    requests: dict[str, int] = Field(
        default_factory=dict,
        description="HTTP responses received, by 'METHOD path' (each retry counts).",
    )
    duration_ms: int = Field(default=0, ge=0)

    def to_json(self) -> str:
        """The report as one JSON document with sorted keys, newline-terminated."""
        document = self.model_dump(mode="json")
        return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def build_report(
    *,
    environment: str,
    issuer: str,
    checks: Iterable[CheckReport],
    requests: Mapping[str, int] | None = None,
    duration_ms: int = 0,
) -> VerifyReport:
    """The run's report with its totals counted from `checks`."""
    listed = list(checks)
    outcomes = [check.outcome for check in listed]
    totals = Totals(
        checks=len(listed),
        ok=outcomes.count("ok"),
        failed=outcomes.count("failed"),
        skipped=outcomes.count("skipped"),
    )
    return VerifyReport(
        environment=environment,
        issuer=issuer,
        ok=totals.failed == 0,
        checks=listed,
        totals=totals,
        requests=dict(sorted((requests or {}).items())),
        duration_ms=duration_ms,
    )


def verify_report_schema() -> dict[str, Any]:
    """The JSON Schema of `mpctl verify --format json` (schemas/verify-report.schema.json)."""
    schema = VerifyReport.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"mpctl verify report (format_version {FORMAT_VERSION})"
    return schema
