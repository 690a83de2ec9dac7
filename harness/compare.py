"""Step 5B's judge: is Lambda better, no worse, or slower than Celery on the same inputs?

Pure functions over two samples of durations, one per path. The model is Kayenta's judge: a
Mann-Whitney U test says whether the two samples differ at all, and an effect size (here the ratio of
medians, with a bootstrap 95% confidence interval) says by how much. The verdict follows one stated
rule, the one `--better-factor` sets: Lambda's median is at most `factor` times Celery's. The statistics
never overrule it; they qualify the answer ("faster", "no worse", "slower").
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu

ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 10_000
SEED = 20261129            # fixed: the same samples always give the same interval


@dataclass(frozen=True)
class Judgement:
    ratio: float                   # median(lambda) / median(celery)
    ci95: tuple[float, float]      # bootstrap percentile interval of that ratio
    p: float | None                # Mann-Whitney U, two-sided; None when a sample has < 2 values
    factor: float                  # the rule: ratio <= factor
    ok: bool                       # the rule holds
    word: str                      # "faster" | "no worse" | "slower"

    @property
    def answer(self) -> str:
        p = "p n/a" if self.p is None else f"p={self.p:.3f}"
        numbers = f"ratio {self.ratio:.2f} [{self.ci95[0]:.2f}, {self.ci95[1]:.2f}], {p}"
        rule = f"rule ratio <= {self.factor:g}: {'holds' if self.ok else 'FAILS'}"
        return f"{self.word}: {numbers}; {rule}"

    def as_dict(self) -> dict:
        return {"value": round(self.ratio, 4), "ci95": [round(self.ci95[0], 4), round(self.ci95[1], 4)],
                "p": None if self.p is None else round(self.p, 5), "rule": self.factor, "ok": self.ok,
                "word": self.word, "answer": self.answer}


def ratio_ci(lam: list[float], cel: list[float], *, resamples: int = BOOTSTRAP_RESAMPLES,
             seed: int = SEED) -> tuple[float, float]:
    """95% percentile bootstrap interval of median(lam)/median(cel), each path resampled on its own."""
    rng = np.random.default_rng(seed)
    a, b = np.asarray(lam, dtype=float), np.asarray(cel, dtype=float)
    ma = np.median(rng.choice(a, size=(resamples, a.size), replace=True), axis=1)
    mb = np.median(rng.choice(b, size=(resamples, b.size), replace=True), axis=1)
    lo, hi = np.percentile(ma / mb, [2.5, 97.5])
    return float(lo), float(hi)


def mann_whitney_p(lam: list[float], cel: list[float]) -> float | None:
    if len(lam) < 2 or len(cel) < 2:
        return None
    if len(set(lam) | set(cel)) == 1:
        return 1.0       # identical samples: no difference at all (scipy warns and returns nan)
    return float(mannwhitneyu(lam, cel, alternative="two-sided").pvalue)


def judge(lam: list[float], cel: list[float], factor: float, *, alpha: float = ALPHA) -> Judgement:
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
    lo, hi = ratio_ci(lam, cel)
    p = mann_whitney_p(lam, cel)
    significant = p is not None and p < alpha
    if significant and hi < 1:
        word = "faster"
    elif significant and lo > 1:
        word = "slower"
    else:
        word = "no worse" if ratio <= factor else "slower"
    return Judgement(ratio=ratio, ci95=(lo, hi), p=p, factor=factor, ok=ratio <= factor, word=word)


def host_cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    try:
        with open(cpuinfo, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU model"
