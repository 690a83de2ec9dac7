"""5B's judge: Mann-Whitney for 'do they differ', a bootstrap CI of the median ratio for 'by how much'."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.compare import judge

FAST = [1.00, 1.10, 0.90, 1.05, 0.95]
SLOW = [2.00, 2.10, 1.90, 2.05, 1.95]


def test_clearly_faster_says_faster_with_its_numbers() -> None:
    j = judge(FAST, SLOW, 1.25)
    assert j.word == "faster" and j.ok
    assert j.ratio == pytest.approx(0.5)
    assert j.ci95[1] < 1 and j.p == pytest.approx(2 / 252, rel=1e-3)     # exact U test, n=5 each: 2/C(10,5)
    assert j.answer.startswith("faster: ratio 0.50 [") and "p=0.008" in j.answer and "holds" in j.answer


def test_overlapping_samples_are_no_worse() -> None:
    j = judge([1.0, 1.2, 0.9, 1.1, 1.05], [1.1, 0.95, 1.0, 1.15, 1.02], 1.25)
    assert j.word == "no worse" and j.ok and j.p > 0.05


def test_twice_as_slow_fails_the_rule() -> None:
    j = judge(SLOW, FAST, 1.25)
    assert (j.word, j.ok) == ("slower", False)
    assert "rule ratio <= 1.25: FAILS" in j.answer


def test_significantly_slower_but_within_the_rule_still_holds() -> None:
    lam = [1.10, 1.12, 1.11, 1.13, 1.14]
    cel = [1.00, 1.01, 1.02, 0.99, 1.00]
    j = judge(lam, cel, 1.25)
    assert (j.word, j.ok) == ("slower", True)


def test_a_noisy_ratio_over_the_factor_fails_even_without_significance() -> None:
    j = judge([0.5, 3.0, 1.6, 0.4, 2.9], [1.0, 1.1, 0.9, 1.2, 1.0], 1.25)
    assert j.ratio > 1.25 and not j.ok and j.word == "slower"


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
    assert a.ratio == pytest.approx(b.ratio) and a.word == b.word and a.ok == b.ok
    assert a.ci95 == pytest.approx(b.ci95) and (a.p == b.p or math.isclose(a.p, b.p, rel_tol=1e-9))
