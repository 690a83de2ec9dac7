"""The rollout controller: step through weights, judge every finished job, promote or revert.

At each step of the schedule (weights in basis points) the controller sets the weight, then feeds
every job that finishes under that weight to the sequential judge (harness.judge.rollout) and
acts on its first decisive answer:

- PROMOTE: the next weight (after the last one, the rollout is done: GO);
- ROLLBACK: the weight goes to 0 at once; jobs in flight finish on their path;
- INCONCLUSIVE: the step's job or time budget ran out: the weight is held and the rollout is NO-GO.

Celery's finished jobs carry over from step to step as the baseline (Celery does not change);
Lambda's evidence starts afresh at each weight. Every decision is recorded with its evidence,
and `replay` recomputes them from the recorded events alone, bit for bit.

The controller talks to the world only through `ops` (harness.rollout.ops): pure otherwise.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from harness.judge.rollout import Decision, Judge, Rules

FULL = 10000
DEFAULT_SCHEDULE = (100, 500, 2500, 5000, 10000)      # 1, 5, 25, 50, 100 %


class PreflightFailed(RuntimeError):
    """A check before the first weight change failed; nothing was changed. One line."""


def parse_schedule(text: str) -> tuple[int, ...]:
    """'1,5,25,50,100' (percent) -> basis points; refused naming the value unless increasing in (0, 100]."""
    try:
        percents = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"--schedule {text!r}: expected percentages like 1,5,25,50,100") from None
    weights = tuple(round(p * 100) for p in percents)
    if not weights or any(not 0 < w <= FULL for w in weights) or list(weights) != sorted(set(weights)):
        raise ValueError(f"--schedule {text!r}: percentages must increase, each in (0, 100]")
    return weights


def check_weight(value: object) -> int:
    """A weight the controller may write: an integer in 0..10000, else ValueError naming the value."""
    if isinstance(value, bool) or not isinstance(value, int) and not (isinstance(value, str) and value.isdigit()):
        raise ValueError(f"weight {value!r} is not an integer number of basis points (0..10000)")
    weight = int(value)
    if not 0 <= weight <= FULL:
        raise ValueError(f"weight {weight} is outside 0..10000 basis points")
    return weight


@dataclass(frozen=True)
class Event:
    job_id: str
    path: str            # lambda | celery
    ok: bool
    seconds: float | None


def _decision(d: Decision, at: int) -> dict:
    return {"at": at, "action": d.action, "reason": d.reason, "jobs": d.jobs,
            "failure_interval": d.failure_interval, "ratio_interval": d.ratio_interval}


class StepJudge:
    """The judge of one step: Celery's baseline plus this step's events; records each change of decision."""

    def __init__(self, rules: Rules, baseline: list[Event]) -> None:
        self.judge = Judge(rules)
        for e in baseline:
            self.judge.add(e.path, e.ok, e.seconds)
        self.events: list[Event] = []
        self.decisions: list[dict] = []
        self.last: Decision | None = None

    def add(self, event: Event) -> Decision:
        self.events.append(event)
        self.judge.add(event.path, event.ok, event.seconds)
        return self._note(self.judge.decide())

    def finish(self) -> Decision:
        """The step's time ran out: INCONCLUSIVE unless the evidence decided."""
        return self._note(self.judge.decide(out_of_time=True))

    def _note(self, d: Decision) -> Decision:
        if self.last is None or d.action != self.last.action:      # each change of answer, with its evidence
            self.decisions.append(_decision(d, len(self.events)))
        self.last = d
        return d


@dataclass
class Record:
    """What a rollout did and why: the ledger entry, and the input of replay."""

    run_id: str
    target: str
    schedule: list[int]
    rules: dict
    dry_run: bool
    steps: list[dict] = field(default_factory=list)
    outcome: str = "RUNNING"       # PROMOTED | ROLLED_BACK | INCONCLUSIVE | PREFLIGHT_FAILED | RUNNING
    reason: str = ""
    started: float = 0.0
    finished: float = 0.0

    @property
    def go(self) -> bool:
        return self.outcome == "PROMOTED"

    def to_dict(self) -> dict:
        return asdict(self)


class Controller:
    def __init__(self, ops, *, schedule: tuple[int, ...] = DEFAULT_SCHEDULE, rules: Rules | None = None,
                 dry_run: bool = False, step_timeout: float = 900.0, poll: float = 0.25, say=print,
                 run_id: str = "", target: str = "") -> None:
        self.ops, self.schedule, self.rules = ops, tuple(check_weight(w) for w in schedule), rules or Rules()
        self.dry_run, self.step_timeout, self.poll, self.say = dry_run, step_timeout, poll, say
        self.record = Record(run_id=run_id, target=target, schedule=list(self.schedule),
                             rules=asdict(self.rules), dry_run=dry_run)

    def run(self) -> Record:
        rec = self.record
        rec.started = time.time()
        try:
            self.ops.preflight()
        except PreflightFailed as e:
            rec.outcome, rec.reason = "PREFLIGHT_FAILED", str(e)
            rec.finished = time.time()
            return rec
        baseline: list[Event] = []
        for weight in self.schedule:
            before = self.ops.weight()
            if not self.dry_run:
                self.ops.set_weight(weight)
            step = {"weight_before": before, "weight": weight, "started": time.time(), "events": [],
                    "decisions": [], "out_of_time": False, "weight_after": weight}
            rec.steps.append(step)
            self.say(f"rollout: weight {before / 100:g}% -> {weight / 100:g}%" + (" (dry run)" if self.dry_run else ""))
            judge = StepJudge(self.rules, baseline)
            decision = self._watch(judge, weight, step)
            step["events"] = [asdict(e) for e in judge.events]
            step["decisions"] = judge.decisions
            step["finished"] = time.time()
            self.say(f"rollout: {weight / 100:g}%: {decision.action}: {decision.reason}")
            if decision.action == "ROLLBACK":
                if not self.dry_run:
                    self.ops.set_weight(0)
                step["weight_after"] = 0
                rec.outcome, rec.reason = "ROLLED_BACK", f"at {weight / 100:g}%: {decision.reason}"
                break
            if decision.action != "PROMOTE":
                rec.outcome, rec.reason = "INCONCLUSIVE", f"at {weight / 100:g}%: {decision.reason} (weight held)"
                break
            baseline += [e for e in judge.events if e.path == "celery"]
        else:
            rec.outcome, rec.reason = "PROMOTED", f"every step of {', '.join(f'{w / 100:g}%' for w in self.schedule)} " \
                                                  "promoted"
        rec.finished = time.time()
        return rec

    def _watch(self, judge: StepJudge, weight: int, step: dict) -> Decision:
        deadline = time.monotonic() + self.step_timeout
        seen: set[str] = set()
        while True:
            for event in self.ops.finished(weight=weight, since=step["started"], seen=seen):
                seen.add(event.job_id)
                d = judge.add(event)
                if d.action in ("PROMOTE", "ROLLBACK", "INCONCLUSIVE"):
                    return d
            if time.monotonic() >= deadline:
                step["out_of_time"] = True
                return judge.finish()
            time.sleep(self.poll)


def replay(record: dict) -> list[str]:
    """Recompute every step's decisions from its recorded events; the differences, one line each (pure)."""
    rules = Rules(**record["rules"])
    baseline: list[Event] = []
    problems = []
    for i, step in enumerate(record["steps"]):
        judge = StepJudge(rules, baseline)
        events = [Event(**e) for e in step["events"]]
        for e in events:
            judge.add(e)
        if step.get("out_of_time"):
            judge.finish()
        again = [{**d, "failure_interval": _tuple(d["failure_interval"]), "ratio_interval": _tuple(d["ratio_interval"]),
                  "jobs": {k: tuple(v) for k, v in d["jobs"].items()}} for d in judge.decisions]
        recorded = [{**d, "failure_interval": _tuple(d["failure_interval"]), "ratio_interval": _tuple(d["ratio_interval"]),
                     "jobs": {k: tuple(v) for k, v in d["jobs"].items()}} for d in step["decisions"]]
        if again != recorded:
            first = next((j for j, (a, b) in enumerate(zip(again, recorded)) if a != b), min(len(again), len(recorded)))
            problems.append(f"step {i + 1} ({step['weight'] / 100:g}%): decision {first + 1} differs: recorded "
                            f"{recorded[first] if first < len(recorded) else None} recomputed "
                            f"{again[first] if first < len(again) else None}")
        baseline += [e for e in events if e.path == "celery"]
    return problems


def _tuple(v):
    return tuple(v) if v is not None else None
