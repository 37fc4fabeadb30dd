"""A stateful property test of apply's safety rules (issue 8), on the real apply and emulator.

Hypothesis drives a small project (three clients with keys, the example's scopes) through
random manifest edits (a scope's consumers, including an organisation Digdir refuses), remote
drift (a client's marker removed or restored, access revoked), injected API failures (5xx on
writes until the retries run out, lost writes), clock jumps and forced rotations, and runs
plan → apply (`tests/e2e/harness.World.run`: the real planner, engine, executors, rotation,
file sinks and token tests). After every HTTP call and sink write the harness checks
reliability.md §2 (the sink's current kid is always registered, among others), and this test
adds, after every call:

* no scope ever has fewer APPROVED consumers than min(before the run, wanted after it);
* no manifest client ever has two active clients at Digdir: neither two carrying its marker
  nor two with its client_name (a client that lost its marker must not be created again);

and at the end of every example, once faults stop and the drift is undone by hand where only a
person can (markers, an unknown organisation), apply converges: the last plan is empty.

`MPCTL_SAFETY_EXAMPLES` sets the number of examples (default 12, a short run for the test
command); the long run used for the closing note:

    MPCTL_SAFETY_EXAMPLES=300 .venv/bin/pytest tests/e2e/test_safety_stateful.py -q
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from mpctl.cli.environment import open_workspace
from mpctl.emulator.fault_rules import FaultRule
from mpctl.plan import PlanOptions
from mpctl.plan.ownership import parse_marker, strip_marker
from tests.e2e.conftest import Templates
from tests.e2e.harness import ENV, ORGNO, InvariantViolation, World, copy_world

EXAMPLES = int(os.environ.get("MPCTL_SAFETY_EXAMPLES", "12"))
CLIENTS = ("altinn-sync", "billing-invoices", "reelle-supplier")
KNOWN = ("910753614", "923456783", "934567897")
UNKNOWN = "876543214"  # a valid mod-11 number Digdir (the emulator's world) does not know
SCOPES = ("acme:invoices.read", "acme:invoices.write", "acme:reports/monthly")
FAILURES = {
    "grant": ("/api/v1/scopes/access/*", "PUT"),
    "revoke": ("/api/v1/scopes/access/*", "DELETE"),
    "client update": ("/api/v1/clients/*", "PUT"),
    "jwks upload": ("/api/v1/clients/*/jwks", "POST"),
    "scope update": ("/api/v1/scopes", "PUT"),
}
STATS: Counter[str] = Counter()
CHANGES = st.one_of(
    st.tuples(
        st.just("edit_consumers"),
        st.tuples(st.sampled_from(SCOPES), st.sets(st.sampled_from((*KNOWN, UNKNOWN)))),
    ),
    st.tuples(st.just("drop_marker"), st.tuples(st.sampled_from(CLIENTS))),
    st.tuples(st.just("restore_markers"), st.just(())),
    st.tuples(
        st.just("revoke_access_remotely"),
        st.tuples(st.sampled_from(SCOPES), st.sampled_from(KNOWN)),
    ),
    st.tuples(st.just("time_passes"), st.tuples(st.sampled_from((1, 2, 40, 100)))),
)
FAILURE = st.tuples(
    st.sampled_from(sorted(FAILURES)),
    st.sampled_from(("error", "lost_write")),
    st.sampled_from((0.5, 1.0)),
)


class SafetyMachine(RuleBasedStateMachine):
    """One world per example; rules change the manifests, Digdir, time, and run apply."""

    template: World
    base: Path
    counter: Iterator[int]

    def __init__(self) -> None:
        super().__init__()
        self.world = copy_world(self.template, self.base / f"example-{next(self.counter)}")
        self.world.checker.check = self._checked(self.world.checker.check)  # type: ignore[method-assign]
        self.floors: dict[str, int] = {}
        STATS["examples"] += 1

    # invariants, after every call -------------------------------------------------------------

    def _checked(self, harness_check: Callable[[], None]) -> Callable[[], None]:
        def check() -> None:
            harness_check()
            self._check_access_floor()
            self._check_one_client_per_name()
            STATS["checks"] += 1

        return check

    def _approved(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        with self.world.emulator.store.read() as state:
            for record in state.access.values():
                if record.owner_orgno == ORGNO and record.state == "APPROVED":
                    counts[record.scope] += 1
        return dict(counts)

    def _check_access_floor(self) -> None:
        approved = self._approved()
        for scope, floor in self.floors.items():
            if approved.get(scope, 0) < floor:
                raise InvariantViolation(
                    f"{scope} has {approved.get(scope, 0)} approved consumers, fewer than "
                    f"min(before, after) = {floor}"
                )

    def _check_one_client_per_name(self) -> None:
        organisation = self.world.workspace.desired.organisation.name
        with self.world.emulator.store.read() as state:
            active = [c for c in state.clients.values() if c.active and not c.admin]
        for name in CLIENTS:
            marked = [c for c in active if (m := parse_marker(c.description)) and m.name == name]
            named = [c for c in active if c.client_name == f"{organisation} - {name} - {ENV}"]
            if len(marked) > 1 or len(named) > 1:
                raise InvariantViolation(f"{name} has two clients at Digdir: {marked or named}")

    # manifest edits ---------------------------------------------------------------------------

    def edit_consumers(self, scope: str, consumers: set[str]) -> None:
        path = self.world.directory / "resources" / "scopes.yaml"
        documents = path.read_text().split("\n---\n")
        listed = ", ".join(f'"{orgno}"' for orgno in sorted(consumers))
        for index, document in enumerate(documents):
            if f"\nname: {scope}\n" in f"\n{document}\n":
                documents[index] = re.sub(
                    r"^consumers: \[.*\]$", f"consumers: [{listed}]", document, count=1, flags=re.M
                )
        path.write_text("\n---\n".join(documents))
        self.world.workspace = open_workspace(self.world.directory, ENV)
        STATS["consumer edits"] += 1

    # remote drift -----------------------------------------------------------------------------

    def drop_marker(self, name: str) -> None:
        with self.world.emulator.store.write() as state:
            for client in state.clients.values():
                found = parse_marker(client.description)
                if client.active and found is not None and found.name == name:
                    client.description = strip_marker(client.description) or "edited by hand"
                    STATS["markers dropped"] += 1

    def restore_markers(self) -> None:
        """A person puts the markers back (what `adopt:` would do), so the example goes on."""
        project = self.world.workspace.desired.project
        organisation = self.world.workspace.desired.organisation.name
        with self.world.emulator.store.write() as state:
            for client in state.clients.values():
                for name in CLIENTS:
                    named = client.client_name == f"{organisation} - {name} - {ENV}"
                    if client.active and named and parse_marker(client.description) is None:
                        client.description += f" [mpctl:{project}/{name}]"

    def revoke_access_remotely(self, scope: str, orgno: str) -> None:
        with self.world.emulator.store.write() as state:
            record = state.access.get(f"{scope}|{orgno}")
            if record is not None:
                record.state = "DENIED"
                STATS["access revoked remotely"] += 1

    # faults, time, rotation -------------------------------------------------------------------

    def inject_failure(self, failure: str, kind: str, probability: float) -> None:
        path, method = FAILURES[failure]
        rule = FaultRule.model_validate(
            {
                "kind": kind,
                "path": path,
                "methods": [method],
                "status": 500,
                "probability": probability,
                "max_hits": 6,
            }
        )
        with self.world.emulator.store.write() as state:
            state.faults = [*state.faults, rule]
        STATS["faults injected"] += 1

    def time_passes(self, days: int) -> None:
        self.world.clock.jump(timedelta(days=days))

    # apply ------------------------------------------------------------------------------------

    @rule(
        changes=st.lists(CHANGES, max_size=3),
        failures=st.lists(FAILURE, max_size=2),
        allow_delete=st.booleans(),
        rotate=st.sets(st.sampled_from(CLIENTS), max_size=1),
    )
    def change_then_apply(
        self,
        changes: list[tuple[str, tuple[object, ...]]],
        failures: list[tuple[str, str, float]],
        allow_delete: bool,
        rotate: set[str],
    ) -> None:
        for method, arguments in changes:
            getattr(self, method)(*arguments)
        for failure in failures:
            self.inject_failure(*failure)
        self.apply(allow_delete, rotate)

    def apply(self, allow_delete: bool, rotate: set[str]) -> None:
        wanted = {name: set(s.consumers) for name, s in self.world.workspace.desired.scopes.items()}
        approved = self._approved()
        self.floors = {
            scope: min(approved.get(scope, 0), len(wanted.get(scope, ()))) for scope in SCOPES
        }
        options = PlanOptions(allow_delete=allow_delete, rotate=tuple(sorted(rotate)))
        run = asyncio.run(self.world.run(options=options))
        STATS["applies"] += 1
        if run.report is not None:
            STATS["steps"] += len(run.report.outcomes)
            STATS["failed steps"] += len(run.report.failed)
            STATS["held back steps"] += len(run.report.held)
        with self.world.emulator.store.write() as state:
            state.faults = []  # a fault lasts one run

    @initialize()
    def start(self) -> None:
        self.world.checker.baseline()

    def teardown(self) -> None:
        """The drift is over: faults end, the person puts back what they broke (markers, an
        organisation Digdir refuses), and apply → plan is empty."""
        with self.world.emulator.store.write() as state:
            state.faults = []
        self.restore_markers()
        for scope, declared in self.world.workspace.desired.scopes.items():
            if UNKNOWN in declared.consumers:
                self.edit_consumers(scope, set(declared.consumers) - {UNKNOWN})
        runs = asyncio.run(self.world.converge(options=PlanOptions(allow_delete=True)))
        assert runs[-1].plan.steps == ()
        STATS["converged after the drift"] += 1


def test_apply_keeps_its_safety_rules_under_random_edits_drift_and_failures(
    worlds: Templates, tmp_path: Path
) -> None:
    STATS.clear()
    SafetyMachine.template = worlds.converged
    SafetyMachine.base = tmp_path
    SafetyMachine.counter = itertools.count()
    run_state_machine_as_test(
        SafetyMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=EXAMPLES <= 12,
        ),
    )
    print(f"\nsafety state machine: {dict(sorted(STATS.items()))}")
