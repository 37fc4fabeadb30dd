"""Approval labels: which pull-request label allows which destructive step.

Owns the mapping from a pull request's labels to plan allow options and the question "which
label is missing for this plan". The rules mirror `mpctl.plan.policy`: a delete (of a client,
a scope or a consumer's access) needs `allow_delete`, a replacement `allow_replace`, and on an
environment marked `protected: true` both also need `allow_protected`. Label names are
configurable; `{env}` in a name is replaced by the environment (`mpctl:allow-delete-{env}`
approves deletes in one environment only). Must not do I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mpctl.plan import Action, Address, Plan

ALLOW_DELETE = "allow_delete"
ALLOW_REPLACE = "allow_replace"
ALLOW_PROTECTED = "allow_protected"
_NEEDS = {Action.DELETE: ALLOW_DELETE, Action.REPLACE: ALLOW_REPLACE}
_NOUNS = {ALLOW_DELETE: "delete", ALLOW_REPLACE: "replacement", ALLOW_PROTECTED: "protected change"}


@dataclass(frozen=True)
class ApprovalLabels:
    """The label that grants each allow option."""

    delete: str = "mpctl:allow-delete"
    replace: str = "mpctl:allow-replace"
    protected: str = "mpctl:allow-protected"

    def for_env(self, env: str) -> dict[str, str]:
        """Allow option → label name in `env`."""
        return {
            ALLOW_DELETE: self.delete.replace("{env}", env),
            ALLOW_REPLACE: self.replace.replace("{env}", env),
            ALLOW_PROTECTED: self.protected.replace("{env}", env),
        }

    def granted(self, labels: Iterable[str], env: str) -> frozenset[str]:
        """The allow options the pull request's `labels` grant in `env`."""
        present = set(labels)
        return frozenset(allow for allow, label in self.for_env(env).items() if label in present)


@dataclass(frozen=True)
class Approval:
    """One allow option a plan needs: its label, and the steps that need it."""

    allow: str
    label: str
    addresses: tuple[Address, ...]

    @property
    def noun(self) -> str:
        """'delete', 'replacement' or 'protected change'."""
        return _NOUNS[self.allow]


def needed_approvals(
    plan: Plan, labels: ApprovalLabels, *, env: str, protected: bool
) -> tuple[Approval, ...]:
    """Every allow option the plan's steps need, with their label, in a stable order."""
    needs: dict[str, list[Address]] = {}
    for step in plan.steps:
        allow = _NEEDS.get(step.action)
        if allow is None:
            continue
        needs.setdefault(allow, []).append(step.address)
        if protected:
            needs.setdefault(ALLOW_PROTECTED, []).append(step.address)
    names = labels.for_env(env)
    order = (ALLOW_DELETE, ALLOW_REPLACE, ALLOW_PROTECTED)
    return tuple(
        Approval(allow, names[allow], tuple(sorted(needs[allow])))
        for allow in order
        if allow in needs
    )


def missing_approvals(needed: Iterable[Approval], granted: frozenset[str]) -> tuple[Approval, ...]:
    """The needed approvals whose label the pull request does not carry."""
    return tuple(approval for approval in needed if approval.allow not in granted)
