"""The rollout controller over a scripted world: promote, revert, hold, dry-run, preflight, replay."""
from __future__ import annotations

import copy
import json
import random

import pytest

from harness.judge.rollout import Rules
from harness.rollout.controller import Controller, Event, PreflightFailed, check_weight, parse_schedule, replay

RULES = Rules(min_jobs=10, max_jobs=400, failure_margin=0.3, tau=0.1)


class World:
    """Jobs finish on each path as the weight routes them; Lambda fails at `lambda_failure`."""

    def __init__(self, lambda_failure: float = 0.0, *, preflight: str | None = None, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.lambda_failure, self.preflight_problem = lambda_failure, preflight
        self.current, self.writes, self.n = 0, [], 0

    def preflight(self) -> None:
        if self.preflight_problem:
            raise PreflightFailed(self.preflight_problem)

    def weight(self) -> int:
        return self.current

    def set_weight(self, weight: int) -> None:
        self.writes.append(weight)
        self.current = weight

    def finished(self, *, weight: int, since: float, seen: set[str]) -> list[Event]:
        out = []
        for _ in range(4):
            self.n += 1
            path = "lambda" if self.rng.random() * 10000 < weight else "celery"
            fails = path == "lambda" and self.rng.random() < self.lambda_failure
            out.append(Event(f"job-{self.n}", path, not fails, self.rng.lognormvariate(0, 0.2)))
        return out


def _run(world: World, **kw):
    kw.setdefault("rules", RULES)
    return Controller(world, schedule=(5000, 10000), poll=0, say=lambda _line: None, **kw).run()


def test_a_good_version_is_promoted_through_every_step() -> None:
    world = World()
    rec = _run(world)
    assert rec.outcome == "PROMOTED" and rec.go, rec.reason
    assert world.writes == [5000, 10000]
    assert [s["decisions"][-1]["action"] for s in rec.steps] == ["PROMOTE", "PROMOTE"]
    # at 100 % no new Celery job exists: the baseline carried over from 50 % is what Lambda is judged against
    assert rec.steps[1]["decisions"][-1]["jobs"]["celery"][0] > 0


def test_a_failing_version_is_rolled_back_to_weight_zero() -> None:
    world = World(lambda_failure=0.5)
    rec = _run(world)
    assert rec.outcome == "ROLLED_BACK" and "Lambda fails more" in rec.reason
    assert world.writes == [5000, 0] and rec.steps[0]["weight_after"] == 0


def test_a_dry_run_decides_without_writing_the_weight() -> None:
    world = World(lambda_failure=0.5)
    world.current = 5000
    rec = _run(world, dry_run=True)
    assert rec.outcome == "ROLLED_BACK" and world.writes == []


def test_a_failed_preflight_changes_nothing_and_says_why_in_one_line() -> None:
    world = World(preflight="rollout weight /p/rollout/lambda-weight is not readable and writable: denied")
    rec = _run(world)
    assert rec.outcome == "PREFLIGHT_FAILED" and world.writes == [] and "\n" not in rec.reason


def test_no_finished_job_before_the_step_times_out_is_inconclusive_and_holds_the_weight() -> None:
    class Silent(World):
        def finished(self, **_kw):
            return []

    world = Silent()
    rec = _run(world, step_timeout=0.05)
    assert rec.outcome == "INCONCLUSIVE" and world.writes == [5000] and rec.steps[0]["out_of_time"]
    assert "no finished" in rec.reason and "weight held" in rec.reason


def test_replay_recomputes_every_decision_bit_for_bit_and_names_a_tampered_one() -> None:
    rec = json.loads(json.dumps(_run(World(lambda_failure=0.02)).to_dict()))
    assert replay(rec) == []
    tampered = copy.deepcopy(rec)
    tampered["steps"][0]["events"][3]["ok"] = not tampered["steps"][0]["events"][3]["ok"]
    problems = replay(tampered)
    assert problems and problems[0].startswith("step 1 (50%): decision")


@pytest.mark.parametrize("text,problem", [("1,5,5", "must increase"), ("0,50", "(0, 100]"), ("a,b", "percentages"),
                                          ("50,150", "(0, 100]")])
def test_a_bad_schedule_is_refused_naming_it(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace("(", r"\(")) as err:
        parse_schedule(text)
    assert problem in str(err.value)


def test_parse_schedule_reads_percentages_as_basis_points() -> None:
    assert parse_schedule("1,5,25,50,100") == (100, 500, 2500, 5000, 10000)
    assert parse_schedule("0.5,100") == (50, 10000)


@pytest.mark.parametrize("value", [-1, 10001, "12.5", "ten", True, None])
def test_a_weight_outside_0_to_10000_or_not_an_integer_is_refused_naming_it(value) -> None:
    with pytest.raises(ValueError, match="weight"):
        check_weight(value)
