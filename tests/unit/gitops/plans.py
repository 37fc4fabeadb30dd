"""Small hand-made plans for the GitOps composers' unit tests (no Digdir, no manifests)."""

from __future__ import annotations

from mpctl.plan import (
    Action,
    Address,
    ClientStep,
    Diagnostic,
    FieldChange,
    Plan,
    PlanSummary,
    Severity,
    Step,
)

PROJECT = "313367002/acme-platform"


def create(name: str, *scopes: str) -> ClientStep:
    return ClientStep(
        address=Address.client(name),
        action=Action.CREATE,
        changes=(FieldChange(path=("scopes",), new=list(scopes or ("acme:invoices.read",))),),
    )


def update(name: str, old: str, new: str, *, reason: str = "") -> ClientStep:
    return ClientStep(
        address=Address.client(name),
        action=Action.UPDATE,
        client_id=f"id-{name}",
        reason=reason,
        changes=(FieldChange(path=("description",), old=old, new=new),),
    )


def delete(name: str, *, blocked: bool = False) -> ClientStep:
    return ClientStep(
        address=Address.client(name), action=Action.DELETE, client_id=f"id-{name}", blocked=blocked
    )


def refusal(step: Step) -> Diagnostic:
    return Diagnostic(
        severity=Severity.ERROR,
        code=f"policy.{step.action.value}-not-allowed",
        address=step.address,
        message=f"{step.action.value} of {step.address} needs allow_delete (--allow-delete)",
    )


def plan(
    *steps: Step,
    diagnostics: tuple[Diagnostic, ...] = (),
    env: str = "test",
    project: str = PROJECT,
    observed: str = "o",
    manifests: str = "m",
) -> Plan:
    return Plan(
        project=project,
        env_name=env,
        observed_fingerprint=observed,
        manifests_fingerprint=manifests,
        steps=steps,
        diagnostics=diagnostics,
        summary=PlanSummary.of(steps, diagnostics, unchanged=2),
    )
