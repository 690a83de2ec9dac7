"""5B's judge: Mann-Whitney for 'do they differ', a bootstrap CI of the median ratio for 'by how much'."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.judge.compare import judge, rounds_needed

FAST = [1.00, 1.10, 0.90, 1.05, 0.95]
SLOW = [2.00, 2.10, 1.90, 2.05, 1.95]


def test_clearly_faster_says_faster_with_its_numbers() -> None:
    j = judge(FAST, SLOW, 1.25)
    assert j.word == "faster" and j.ok and j.decision == "PASS"
    assert j.ratio == pytest.approx(0.5)
    assert j.ci95[1] < 1 and j.p == pytest.approx(2 / 252, rel=1e-3)     # exact U test, n=5 each: 2/C(10,5)
    assert j.answer.startswith("faster: ratio 0.50 [") and "p=0.008" in j.answer and "PASS" in j.answer


def test_overlapping_samples_whose_interval_stays_under_the_factor_pass() -> None:
    j = judge([1.0, 1.2, 0.9, 1.1, 1.05], [1.1, 0.95, 1.0, 1.15, 1.02], 1.25)
    assert j.word == "no worse" and j.ok and j.p > 0.05 and j.ci95[1] <= 1.25


def test_twice_as_slow_fails_by_its_lower_bound() -> None:
    j = judge(SLOW, FAST, 1.25)
    assert (j.word, j.decision, j.ok) == ("slower", "FAIL", False)
    assert j.ci95[0] > 1.25 and "lower bound > 1.25: FAIL" in j.answer


def test_significantly_slower_but_provably_within_the_margin_passes() -> None:
    """The issue's 'slower: ratio 1.22 [1.20, 1.24]': the whole interval is under 1.25, so PASS."""
    lam = [1.10, 1.12, 1.11, 1.13, 1.14]
    cel = [1.00, 1.01, 1.02, 0.99, 1.00]
    j = judge(lam, cel, 1.25)
    assert j.decision == "PASS" and j.ok and j.ci95[1] <= 1.25


def test_a_wide_interval_spanning_the_factor_is_inconclusive_not_no_worse() -> None:
    """The issue's 'no worse: ratio 1.24 [0.50, 3.00]' is not evidence: INCONCLUSIVE, NO-GO."""
    j = judge([0.5, 3.0, 1.24, 0.6, 2.9], [1.0, 1.1, 0.9, 1.2, 1.0], 1.25)
    assert j.decision == "INCONCLUSIVE" and not j.ok and j.word == "inconclusive"
    assert j.ci95[0] < 1.25 < j.ci95[1]


def test_inconclusive_says_how_many_rounds_the_spread_predicts() -> None:
    j = judge([1.0, 1.3, 1.1, 1.2, 0.95], [1.0, 1.05, 0.98, 1.02, 1.0], 1.25)
    assert j.decision == "INCONCLUSIVE", j.answer
    assert j.more_rounds is not None and j.more_rounds > 5
    assert f"about {j.more_rounds} rounds per path" in j.answer
    assert rounds_needed(5, 1.1, 1.4, 1.25) == 20 and rounds_needed(5, 1.3, 1.5, 1.25) is None


def test_the_interval_is_scipys_bca_bootstrap() -> None:
    import numpy as np
    from scipy.stats import bootstrap

    lam, cel = [10.2, 10.5, 10.1, 11.0, 10.4], [9.0, 9.3, 9.1, 9.8, 9.2]
    ref = bootstrap((lam, cel), lambda a, b, axis=-1: np.median(a, axis=axis) / np.median(b, axis=axis),
                    vectorized=True, paired=False, n_resamples=10_000, method="BCa",
                    random_state=np.random.default_rng(20261129)).confidence_interval
    assert judge(lam, cel, 1.25).ci95 == pytest.approx((ref.low, ref.high))


def test_the_charts_band_is_the_judges_median_interval() -> None:
    from harness.judge.compare import median_ci
    from harness.tell.report_charts import median_ci95

    values = [1.0, 1.4, 0.9, 1.2, 1.1, 1.3]
    assert median_ci95(values) == median_ci(values)


@pytest.mark.parametrize("lam, cel, factor, needle", [
    ([], [1.0], 1.25, "no lambda durations"),
    ([1.0], [0.0, 1.0], 1.25, "celery durations must be positive seconds, got 0.0"),
    ([1.0], [float("nan")], 1.25, "got nan"),
    ([1.0], [1.0], 0, "--better-factor must be positive, got 0"),
])
def test_bad_samples_are_refused_naming_the_value(lam, cel, factor, needle) -> None:
    with pytest.raises(ValueError, match=needle.replace("[", r"\[")):
        judge(lam, cel, factor)


def test_single_runs_have_no_p_value() -> None:
    j = judge([1.0], [2.0], 1.25)
    assert j.p is None and "p n/a" in j.answer


samples = st.lists(st.floats(0.05, 100, allow_nan=False), min_size=2, max_size=9)


@settings(max_examples=60, deadline=None)
@given(samples, samples, st.floats(0.1, 50))
def test_the_judgement_does_not_depend_on_the_unit(lam, cel, scale) -> None:
    a, b = judge(lam, cel, 1.25), judge([v * scale for v in lam], [v * scale for v in cel], 1.25)
    assert a.ratio == pytest.approx(b.ratio) and a.decision == b.decision
    assert a.ci95 == pytest.approx(b.ci95) and (a.p == b.p or math.isclose(a.p, b.p, rel_tol=1e-9))


def test_the_sequential_plan_splits_alpha_over_its_looks() -> None:
    from harness.judge.compare import sequential_plan

    assert sequential_plan(5, 15) == ([5, 10, 15], pytest.approx(1 - 0.05 / 3))
    assert sequential_plan(5, 5) == ([5], pytest.approx(0.95))
    with pytest.raises(ValueError, match="at least 5"):
        sequential_plan(3, 15)
    with pytest.raises(ValueError, match="fewer than the first look's 10"):
        sequential_plan(10, 5)


def test_a_wider_interval_at_a_sequential_look_says_its_level() -> None:
    j = judge(FAST, SLOW, 1.25, confidence=1 - 0.05 / 3)
    assert "(98.3% interval)" in j.answer and j.as_dict()["confidence"] == pytest.approx(0.98333, abs=1e-4)
