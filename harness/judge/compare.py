"""Step 5B's judge: is Lambda no worse than Celery on the same inputs, by the interval, not the point?

Pure functions over two samples of durations, one per path. The rule is a non-inferiority test on
the ratio of medians (Lambda/Celery) with its 95% bootstrap interval (scipy.stats.bootstrap, BCa
where the data allow it, percentile where BCa is undefined):
- PASS when the interval's upper bound is at most the factor (`--better-factor`): no worse, proven;
- FAIL when its lower bound is above the factor: slower, proven;
- INCONCLUSIVE otherwise, which is NO-GO, with how many rounds the current spread predicts.
Rounds are judged sequentially (`sequential_plan`): a look every --compare-runs rounds up to
--compare-max-runs, alpha split evenly over the looks, stopping at the first decisive one.
A Mann-Whitney U test (Kayenta's judge) says whether the samples differ at all; it qualifies the
word ("faster" when the whole interval is below 1) and never decides.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu

ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 10_000
SEED = 20261129            # fixed: the same samples always give the same interval


MIN_ROUNDS = 5


@dataclass(frozen=True)
class Judgement:
    ratio: float                   # median(lambda) / median(celery)
    ci95: tuple[float, float]      # bootstrap 95% interval of that ratio (BCa where defined)
    p: float | None                # Mann-Whitney U, two-sided; None when a sample has < 2 values
    factor: float                  # the non-inferiority margin: upper bound <= factor
    decision: str                  # "PASS" | "FAIL" | "INCONCLUSIVE"
    word: str                      # "faster" | "no worse" | "slower" | "inconclusive"
    rounds: int = 0                # rounds per path judged
    more_rounds: int | None = None  # INCONCLUSIVE: rounds per path the spread predicts; None: cannot pass
    confidence: float = 0.95       # of the interval (a sequential look's share of alpha)

    @property
    def ok(self) -> bool:
        return self.decision == "PASS"

    @property
    def answer(self) -> str:
        p = "p n/a" if self.p is None else f"p={self.p:.3f}"
        level = "" if abs(self.confidence - 0.95) < 1e-9 else f" ({self.confidence:.1%} interval)"
        numbers = f"ratio {self.ratio:.2f} [{self.ci95[0]:.2f}, {self.ci95[1]:.2f}]{level}, {p}, {self.rounds} rounds"
        rule = {"PASS": f"upper bound <= {self.factor:g}: PASS",
                "FAIL": f"lower bound > {self.factor:g}: FAIL",
                "INCONCLUSIVE": f"interval spans {self.factor:g}: INCONCLUSIVE"}[self.decision]
        if self.decision == "INCONCLUSIVE":
            rule += (f" (the spread predicts about {self.more_rounds} rounds per path to decide)"
                     if self.more_rounds else " (the median ratio is above the factor: more rounds would "
                     "not show it no worse)")
        return f"{self.word}: {numbers}; {rule}"

    def as_dict(self) -> dict:
        return {"value": round(self.ratio, 4), "ci95": [round(self.ci95[0], 4), round(self.ci95[1], 4)],
                "p": None if self.p is None else round(self.p, 5), "rule": self.factor, "ok": self.ok,
                "decision": self.decision, "word": self.word, "answer": self.answer,
                "more_rounds": self.more_rounds, "confidence": self.confidence, "rounds": self.rounds}


def _interval(samples: tuple, statistic, *, resamples: int, seed: int,
              confidence: float = 0.95) -> tuple[float, float]:
    """A bootstrap interval (95% unless told) of `statistic` over independent samples: BCa, or percentile where BCa is
    undefined (degenerate data); a point when every value is the same."""
    import warnings

    from scipy.stats import bootstrap

    arrays = tuple(np.asarray(s, dtype=float) for s in samples)
    if all(np.all(a == a[0]) for a in arrays):
        point = float(statistic(*arrays, axis=-1))
        return point, point
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # BCa's degenerate-data warning: the fallback handles it
            ci = bootstrap(arrays, statistic, vectorized=True, paired=False, n_resamples=resamples,
                           confidence_level=confidence, method=method,
                           random_state=np.random.default_rng(seed)).confidence_interval
        if np.isfinite(ci.low) and np.isfinite(ci.high):
            return float(ci.low), float(ci.high)
    raise ValueError("no bootstrap interval could be computed")


def _median_ratio(a, b, axis=-1):
    return np.median(a, axis=axis) / np.median(b, axis=axis)


def _median(a, axis=-1):
    return np.median(a, axis=axis)


def ratio_ci(lam: list[float], cel: list[float], *, resamples: int = BOOTSTRAP_RESAMPLES,
             seed: int = SEED, confidence: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of median(lam)/median(cel), each path resampled on its own."""
    return _interval((lam, cel), _median_ratio, resamples=resamples, seed=seed, confidence=confidence)


def sequential_plan(first: int, most: int, alpha: float = ALPHA) -> tuple[list[int], float]:
    """The rounds per path at which 5B looks (every `first` rounds up to `most`) and the confidence of
    each look's interval: alpha is split evenly over the looks (Bonferroni), so stopping at the first
    decisive look keeps the overall error at most alpha (pure)."""
    if first < MIN_ROUNDS:
        raise ValueError(f"{first} rounds per look: 5B needs at least {MIN_ROUNDS}")
    if most < first:
        raise ValueError(f"at most {most} rounds is fewer than the first look's {first}")
    looks = list(range(first, most + 1, first))
    return looks, 1 - alpha / len(looks)


def median_ci(values: list[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """95% bootstrap interval of one sample's median (the charts' bands)."""
    if len(values) == 0 or not np.all(np.isfinite(np.asarray(values, dtype=float))):
        raise ValueError("no finite values")
    return _interval((values,), _median, resamples=resamples, seed=seed)


def rounds_needed(n: int, ratio: float, hi: float, factor: float) -> int | None:
    """Rounds per path the current spread predicts for the upper bound to reach the factor (the
    interval's half-width shrinks as 1/sqrt(n)); None when the point estimate itself is above it."""
    if ratio >= factor:
        return None
    if hi <= factor:
        return n
    return int(np.ceil(n * ((hi - ratio) / (factor - ratio)) ** 2))


def mann_whitney_p(lam: list[float], cel: list[float]) -> float | None:
    if len(lam) < 2 or len(cel) < 2:
        return None
    if len(set(lam) | set(cel)) == 1:
        return 1.0       # identical samples: no difference at all (scipy warns and returns nan)
    return float(mannwhitneyu(lam, cel, alternative="two-sided").pvalue)


def judge(lam: list[float], cel: list[float], factor: float, *, alpha: float = ALPHA,
          confidence: float = 0.95) -> Judgement:
    """Judge Lambda's durations against Celery's. Raises ValueError on an empty or non-positive sample."""
    for name, sample in (("lambda", lam), ("celery", cel)):
        if not sample:
            raise ValueError(f"no {name} durations to judge")
        bad = [v for v in sample if not v > 0]
        if bad:
            raise ValueError(f"{name} durations must be positive seconds, got {bad[0]!r}")
    if not factor > 0:
        raise ValueError(f"--better-factor must be positive, got {factor!r}")
    ratio = statistics.median(lam) / statistics.median(cel)
    lo, hi = ratio_ci(lam, cel, confidence=confidence)
    p = mann_whitney_p(lam, cel)
    n = min(len(lam), len(cel))
    if hi <= factor:
        decision = "PASS"
        word = "faster" if hi < 1 and p is not None and p < alpha else "no worse"
    elif lo > factor:
        decision, word = "FAIL", "slower"
    else:
        decision, word = "INCONCLUSIVE", "inconclusive"
    more = rounds_needed(n, ratio, hi, factor) if decision == "INCONCLUSIVE" else None
    return Judgement(ratio=ratio, ci95=(lo, hi), p=p, factor=factor, decision=decision, word=word,
                     rounds=n, more_rounds=more, confidence=confidence)


def host_cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    try:
        with open(cpuinfo, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU model"
