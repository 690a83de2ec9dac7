"""Step gating: a rollout step runs only when every earlier selected step passed.

Pure bookkeeping. The plugin feeds it test reports; it answers whether a step
is complete, what its status is, and what blocks a later step. Under xdist the
controller owns the Gate and publishes finished steps to a file that workers
poll (see harness.run.gatefile), so the same rules hold with `-n 2`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.plan.steps import STEP_IDS, step_index

BLOCKED_PREFIX = "blocked by step "


@dataclass
class TestOutcome:
    nodeid: str
    outcome: str = "pending"  # passed | failed | skipped | blocked | pending
    message: str = ""
    duration: float = 0.0
    done: bool = False


@dataclass
class StepState:
    id: str
    tests: dict[str, TestOutcome] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)   # tests of this step the run did not collect (inventory)

    def count(self, outcome: str) -> int:
        return sum(1 for t in self.tests.values() if t.outcome == outcome)

    @property
    def complete(self) -> bool:
        return all(t.done for t in self.tests.values())

    @property
    def duration(self) -> float:
        return sum(t.duration for t in self.tests.values())

    @property
    def status(self) -> str:
        """passed | failed | blocked | partial | not_run (a skip is missing evidence, so it fails the step;
        a test of the step the run did not collect (node ids, paths, -k, -m, --deselect) makes it partial:
        evidence is missing)."""
        if not self.tests or all(t.outcome == "pending" for t in self.tests.values()):
            return "not_run"
        if self.count("failed") or self.count("skipped"):
            return "failed"
        if self.count("blocked") and not self.count("passed"):
            return "blocked"
        if self.count("blocked"):
            return "failed"
        if self.count("pending"):
            return "not_run"
        if self.left_out:
            return "partial"
        return "passed"

    def summary(self) -> str:
        """One line: 'NO-GO (1 failed: phases/test_2a_x.py::test_y[local])'."""
        status = self.status
        if status == "passed":
            return f"GO ({self.count('passed')} passed)"
        if status == "not_run":
            return "NO-GO (no tests ran)" if not self.tests else "NO-GO (not run)"
        if status == "blocked":
            first = next(t for t in self.tests.values() if t.outcome == "blocked")
            return f"NO-GO ({first.message})"
        if status == "partial":
            n = len(self.left_out)
            return (f"NO-GO (partial: {self.count('passed')} passed, {n} check{'s' if n != 1 else ''} of this "
                    f"step not in the run: {self.left_out[0]})")
        parts = []
        failed = [t for t in self.tests.values() if t.outcome == "failed"]
        skipped = [t for t in self.tests.values() if t.outcome == "skipped"]
        if failed:
            parts.append(f"{len(failed)} failed: {failed[0].nodeid}")
        if skipped:
            parts.append(f"{len(skipped)} skipped (missing evidence): {skipped[0].nodeid}")
        return f"NO-GO ({'; '.join(parts)})"


class Gate:
    """Tracks every selected phase test by step."""

    def __init__(self, selected_steps: tuple[str, ...] = STEP_IDS) -> None:
        self.selected = tuple(selected_steps)
        self.steps: dict[str, StepState] = {s: StepState(s) for s in self.selected}

    def expect(self, nodeid: str, step: str) -> None:
        if step in self.steps:
            self.steps[step].tests.setdefault(nodeid, TestOutcome(nodeid))

    def record(self, nodeid: str, step: str, when: str, outcome: str, message: str = "",
               duration: float = 0.0) -> None:
        """Fold one pytest report phase (setup/call/teardown/??? for a crash) into the test."""
        state = self.steps.get(step)
        if state is None:
            return
        test = state.tests.setdefault(nodeid, TestOutcome(nodeid))
        test.duration += duration
        if outcome == "failed":
            if test.outcome != "failed":
                test.message = message
            test.outcome = "failed"
        elif outcome == "skipped":
            if test.outcome != "failed":
                blocked = message.startswith(BLOCKED_PREFIX)
                test.outcome = "blocked" if blocked else "skipped"
                test.message = message
        elif outcome == "passed" and when == "call" and test.outcome == "pending":
            test.outcome = "passed"
        if when in ("teardown", "???"):
            test.done = True
            if test.outcome == "pending":  # e.g. setup passed but the call never reported
                test.outcome = "failed"
                test.message = test.message or "no result was reported for this test"

    def leave_out(self, nodeid: str, step: str) -> None:
        """A test of a selected step that the run did not collect: its evidence is missing."""
        state = self.steps.get(step)
        if state is not None and nodeid not in state.left_out and nodeid not in state.tests:
            state.left_out.append(nodeid)

    def blocker(self, step: str) -> str | None:
        """Why `step` must not run, or None. Only complete earlier steps are judged."""
        for earlier in self.selected:
            if step_index(earlier) >= step_index(step):
                break
            state = self.steps[earlier]
            if state.status != "passed":
                return f"{BLOCKED_PREFIX}{earlier}: {state.summary()}"
        return None

    def earlier_complete(self, step: str) -> bool:
        return all(self.steps[s].complete for s in self.selected
                   if step_index(s) < step_index(step))

    def snapshot(self) -> dict:
        """The finished steps, as published to xdist workers."""
        return {
            s: {"complete": st.complete, "status": st.status, "summary": st.summary()}
            for s, st in self.steps.items()
        }


def blocker_from_snapshot(snapshot: dict, selected: tuple[str, ...], step: str) -> tuple[bool, str | None]:
    """(decided, reason) for a worker: decided is False while an earlier step is still running."""
    for earlier in selected:
        if step_index(earlier) >= step_index(step):
            break
        info = snapshot.get(earlier)
        if info is None or not info["complete"]:
            return False, None
        if info["status"] != "passed":
            return True, f"{BLOCKED_PREFIX}{earlier}: {info['summary']}"
    return True, None
