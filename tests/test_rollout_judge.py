"""The rollout's sequential judge (harness.judge.rollout): pure, looked at after every job."""
from __future__ import annotations

import random
import time

import pytest

from harness.judge.rollout import Judge, Rules, half_width, replay


def run(p_lambda: float, p_celery: float, slow: float, *, seed: int, jobs: int = 600,
        rules: Rules | None = None) -> tuple[str, int]:
    """One simulated rollout, half the jobs on each path, a decision after every job."""
    rng = random.Random(seed)
    judge = Judge(rules or Rules())
    for i in range(jobs):
        path = "lambda" if i % 2 else "celery"
        p = p_lambda if path == "lambda" else p_celery
        seconds = rng.lognormvariate(1.0, 0.3) * (slow if path == "lambda" else 1.0)
        judge.add(path, rng.random() >= p, seconds)
        d = judge.decide()
        if d.action != "CONTINUE":
            return d.action, i + 1
    return "CONTINUE", jobs


def test_an_a_a_rollout_checked_after_every_job_rolls_back_at_most_alpha_of_the_time() -> None:
    """1000 simulated rollouts of identical paths, a look after every job: false rollbacks <= alpha."""
    outcomes = [run(0.02, 0.02, 1.0, seed=s, jobs=600)[0] for s in range(1000)]
    false_rollbacks = outcomes.count("ROLLBACK") / len(outcomes)
    assert false_rollbacks <= Rules().alpha, false_rollbacks
    assert outcomes.count("PROMOTE") > 800       # and the right answer is reached in most within 600 jobs


def test_a_version_failing_ten_percent_is_rolled_back_early() -> None:
    results = [run(0.10, 0.0, 1.0, seed=s, jobs=1000) for s in range(200)]
    assert all(action == "ROLLBACK" for action, _ in results), {a for a, _ in results}
    jobs = sorted(n for _, n in results)
    assert jobs[len(jobs) // 2] <= 400, jobs[len(jobs) // 2]


def test_a_version_twice_as_slow_is_rolled_back_and_never_promoted() -> None:
    results = [run(0.0, 0.0, 2.0, seed=s) for s in range(200)]
    assert {a for a, _ in results} == {"ROLLBACK"}
    assert max(n for _, n in results) <= 100


def test_no_data_on_a_path_is_never_promote() -> None:
    judge = Judge(Rules(min_jobs=1, max_jobs=50))
    for _ in range(49):
        judge.add("lambda", True, 1.0)
        assert judge.decide().action == "CONTINUE"
    judge.add("lambda", True, 1.0)
    d = judge.decide()
    assert d.action == "INCONCLUSIVE" and "no finished celery job" in d.reason


def test_the_budget_ending_undecided_is_inconclusive() -> None:
    assert run(0.05, 0.05, 1.2, seed=1, jobs=40, rules=Rules(max_jobs=40))[0] == "INCONCLUSIVE"


def test_replay_recomputes_every_decision_bit_for_bit() -> None:
    rng = random.Random(7)
    events = [("lambda" if i % 2 else "celery", rng.random() > 0.03, rng.lognormvariate(1, 0.3)) for i in range(300)]
    assert replay(events) == replay(list(events))
    assert [d.action for d in replay(events)][-1] in ("PROMOTE", "CONTINUE")


def test_the_boundary_is_wider_than_a_fixed_sample_interval_and_shrinks() -> None:
    fixed = 1.96 * (0.01 ** 0.5)
    assert half_width(0.01, 0.05, 0.025) > fixed
    assert half_width(0.0001, 0.05, 0.025) < half_width(0.01, 0.05, 0.025)


@pytest.mark.parametrize("bad, words", [({"alpha": 0}, "alpha 0"), ({"margin": 1.0}, "margin 1.0"),
                                        ({"failure_margin": -0.1}, "failure margin -0.1")])
def test_bad_rules_are_refused_naming_the_value(bad: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Rules(**bad)


def test_a_decision_with_ten_thousand_jobs_on_record_is_cheap() -> None:
    judge = Judge()
    rng = random.Random(3)
    for i in range(10_000):
        judge.add("lambda" if i % 2 else "celery", rng.random() > 0.02, rng.lognormvariate(1, 0.3))
    t0 = time.perf_counter()
    for _ in range(100):
        judge.decide()
    assert (time.perf_counter() - t0) / 100 < 0.05


def test_the_plan_predicts_the_jobs_a_step_needs_before_it_starts() -> None:
    from harness.judge.rollout import plan

    p = plan(Rules(max_jobs=1000), share=0.5, sims=60)
    assert p.promote_rate > 0.8 and p.promote_jobs[0] <= p.promote_jobs[1] <= 1000
    assert p.rollback_jobs[0] <= p.rollback_jobs[1] and p.lambda_jobs_affected <= p.rollback_jobs[1]
    assert plan(Rules(max_jobs=1000), share=0.5, sims=60) == p          # seeded: the same plan every time
    with pytest.raises(ValueError, match="share 0"):
        plan(Rules(), share=0)
