"""A saved plan held against the manifests it claims to come from.

Owns the two checks `apply --plan` makes before any write, besides the observed fingerprint
(which `mpctl.apply` checks itself): the plan is this project's and this environment's
(`check_identity`), and it is step for step the plan these manifests call for against the
fresh observation (`check_rederived`), so an edited plan file is refused, naming the first
difference. Must not observe or plan: the caller passes both plans.
"""

from __future__ import annotations

from mpctl.errors import StalePlanError
from mpctl.model import DesiredState
from mpctl.plan.types import Plan

_NOTHING_WRITTEN = "nothing was written"


def project_identity(desired: DesiredState) -> str:
    """'<orgno>/<project>', or the org number alone for a project without `project:`."""
    orgno = desired.organisation.orgno
    return f"{orgno}/{desired.project}" if desired.project else orgno


def check_identity(plan: Plan, desired: DesiredState) -> None:
    """Refuse a plan made for another project or environment."""
    here = project_identity(desired)
    if plan.project != here:
        raise StalePlanError(
            f"the plan was made for project {plan.project!r}, and these manifests are project "
            f"{here!r}; {_NOTHING_WRITTEN}",
            hint="apply a plan made from these manifests (`mpctl plan --out FILE`)",
        )
    check_environment(plan, desired.env_name)


def check_environment(plan: Plan, env_name: str) -> None:
    """Refuse a plan made for another environment."""
    if plan.env_name != env_name:
        raise StalePlanError(
            f"the plan is for {plan.env_name!r}, not {env_name!r}; {_NOTHING_WRITTEN}"
        )


def check_rederived(plan: Plan, derived: Plan) -> None:
    """Refuse `plan` unless it is exactly `derived`, the plan called for now."""
    if derived != plan:
        raise StalePlanError(
            "the plan is not what these manifests and Digdir call for now "
            f"({_first_difference(plan, derived)}); {_NOTHING_WRITTEN}",
            hint="the plan file was edited, or a time-dependent key decision changed since it "
            "was made: make a new plan (`mpctl plan --out FILE`), review it, and apply that",
        )


def _first_difference(plan: Plan, derived: Plan) -> str:
    """Where a plan and the one derived now part, for people."""
    mine = {s.address: s for s in plan.steps}
    theirs = {s.address: s for s in derived.steps}
    extra = sorted(mine.keys() - theirs.keys())
    if extra:
        return f"{extra[0]} is not called for"
    missing = sorted(theirs.keys() - mine.keys())
    if missing:
        return f"{missing[0]} is missing from the plan"
    changed = sorted(a for a in mine if mine[a] != theirs[a])
    if changed:
        return f"{changed[0]} differs"
    if [s.address for s in plan.steps] != [s.address for s in derived.steps]:
        return "the steps are in another order"
    if plan.sinks != derived.sinks:
        return "its secret sinks differ"
    return "its options, diagnostics or summary differ"
