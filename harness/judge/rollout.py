"""The rollout's sequential judge: after every finished job, PROMOTE, CONTINUE, ROLLBACK or INCONCLUSIVE.

Pure functions over the jobs that finished, each (path, ok, seconds), path "lambda" or "celery".
Looking after every job is what a rollout needs, and what fixed-sample tests forbid: each look
would spend alpha again. So both questions are answered with confidence sequences, intervals
valid at every look at once (Howard, Ramdas et al., "Time-uniform, nonparametric, nonasymptotic
confidence sequences", 2021; the normal-mixture boundary of Robbins, as in the always-valid
mSPRT of Johari et al., "Always Valid Inference", 2017):

- failures: the difference of failure rates, Lambda minus Celery, with a normal-mixture boundary
  on the plug-in variance (rates regularised by one pseudo-failure and one pseudo-success per path,
  so zero failures never gives a zero variance);
- duration: the difference of mean log-durations (log of the ratio of geometric means, which is the
  ratio of medians for log-normal durations), with the same boundary.

Each uses alpha/2 (the two questions share alpha, Bonferroni). Then:
- ROLLBACK when Lambda is proven worse: the failure interval lies above 0 (any proven increase in
  failures), or, once each path has `min_jobs` timed jobs (the first jobs of a new path are its cold
  starts), the duration ratio's interval lies above the margin;
- PROMOTE when Lambda is proven no worse on both (failures at most Celery's plus the failure margin,
  the duration ratio at most the margin), with at least `min_jobs` on each path;
- INCONCLUSIVE when the step's job or time budget ran out first; CONTINUE otherwise.
No data on either path is never PROMOTE (Flagger's and Argo's "no values found" never pass here).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

PATHS = ("lambda", "celery")


@dataclass(frozen=True)
class Rules:
    alpha: float = 0.05
    margin: float = 1.25              # duration: Lambda no worse than margin x Celery
    failure_margin: float = 0.05      # PROMOTE: Lambda's failure rate proven at most Celery's + this
    min_jobs: int = 20                # per path, before PROMOTE
    max_jobs: int = 2000              # the step's budget of finished jobs
    tau: float = 0.03                 # mixture scale of the failure boundary (a difference of rates)
    tau_log: float = 0.25             # mixture scale of the duration boundary (a log-ratio)

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha {self.alpha!r} must be between 0 and 1")
        if not self.margin > 1:
            raise ValueError(f"margin {self.margin!r} must be above 1 (Lambda at most margin x Celery)")
        if not 0 <= self.failure_margin < 1:
            raise ValueError(f"failure margin {self.failure_margin!r} must be in [0, 1)")


@dataclass
class PathStats:
    n: int = 0
    failures: int = 0
    logs: int = 0                     # successful jobs with a duration
    sum_log: float = 0.0
    sum_log2: float = 0.0

    def add(self, ok: bool, seconds: float | None) -> None:
        self.n += 1
        if not ok:
            self.failures += 1
        elif seconds is not None and seconds > 0:
            x = math.log(seconds)
            self.logs += 1
            self.sum_log += x
            self.sum_log2 += x * x

    @property
    def rate(self) -> float:
        return (self.failures + 1) / (self.n + 2)

    @property
    def mean_log(self) -> float:
        return self.sum_log / self.logs

    @property
    def var_log(self) -> float:
        if self.logs < 2:
            return 1.0                # before two durations: a wide prior, never a zero variance
        m = self.mean_log
        return max(1e-6, (self.sum_log2 - self.logs * m * m) / (self.logs - 1))


@dataclass(frozen=True)
class Decision:
    action: str                       # PROMOTE | CONTINUE | ROLLBACK | INCONCLUSIVE
    reason: str
    jobs: dict                        # path -> (finished, failed)
    failure_interval: tuple[float, float] | None
    ratio_interval: tuple[float, float] | None


def half_width(variance: float, tau: float, alpha: float) -> float:
    """The normal-mixture confidence sequence's half-width for an estimate of this variance: valid
    simultaneously at every sample size (Robbins' boundary)."""
    v, t2 = variance, tau * tau
    return math.sqrt(2 * v * (v + t2) / t2 * math.log(math.sqrt((v + t2) / v) / alpha))


@dataclass
class Judge:
    rules: Rules = field(default_factory=Rules)
    stats: dict = field(default_factory=lambda: {p: PathStats() for p in PATHS})

    def add(self, path: str, ok: bool, seconds: float | None = None) -> None:
        if path not in self.stats:
            raise ValueError(f"path {path!r} is not one of {PATHS}")
        self.stats[path].add(bool(ok), seconds)

    def decide(self, *, out_of_time: bool = False) -> Decision:
        r, lam, cel = self.rules, self.stats["lambda"], self.stats["celery"]
        jobs = {p: (s.n, s.failures) for p, s in self.stats.items()}
        budget_gone = out_of_time or lam.n + cel.n >= r.max_jobs
        if lam.n == 0 or cel.n == 0:
            empty = "lambda" if lam.n == 0 else "celery"
            if budget_gone:
                return Decision("INCONCLUSIVE", f"no finished {empty} job when the budget ran out", jobs, None, None)
            return Decision("CONTINUE", f"no finished {empty} job yet", jobs, None, None)
        a = r.alpha / 2
        diff = lam.rate - cel.rate
        w = half_width(lam.rate * (1 - lam.rate) / lam.n + cel.rate * (1 - cel.rate) / cel.n, r.tau, a)
        fail = (diff - w, diff + w)
        ratio = None
        if lam.logs and cel.logs:
            d = lam.mean_log - cel.mean_log
            wl = half_width(lam.var_log / lam.logs + cel.var_log / cel.logs, r.tau_log, a)
            ratio = (math.exp(d - wl), math.exp(d + wl))
        if fail[0] > 0:
            return Decision("ROLLBACK", f"Lambda fails more: {lam.failures}/{lam.n} vs Celery {cel.failures}/{cel.n}, "
                                        f"difference in [{fail[0]:+.3f}, {fail[1]:+.3f}], above 0",
                            jobs, fail, ratio)
        # durations judge only with min_jobs timed jobs per path: the first jobs of a new path are cold starts
        timed = min(lam.logs, cel.logs) >= r.min_jobs
        if ratio is not None and timed and ratio[0] > r.margin:
            return Decision("ROLLBACK", f"Lambda is slower: duration ratio in [{ratio[0]:.2f}, {ratio[1]:.2f}] > "
                                        f"{r.margin:g}", jobs, fail, ratio)
        enough = min(lam.n, cel.n) >= r.min_jobs
        if enough and ratio is not None and fail[1] <= r.failure_margin and ratio[1] <= r.margin:
            return Decision("PROMOTE", f"Lambda no worse: failures difference <= {fail[1]:+.3f}, duration ratio "
                                       f"<= {ratio[1]:.2f}", jobs, fail, ratio)
        if budget_gone:
            return Decision("INCONCLUSIVE", "the step's budget ran out before the intervals decided", jobs, fail, ratio)
        return Decision("CONTINUE", "not enough evidence yet", jobs, fail, ratio)


def replay(events: list[tuple[str, bool, float | None]], rules: Rules | None = None) -> list[Decision]:
    """The decision after every event, recomputed from the events alone (a dry run over past data)."""
    judge = Judge(rules or Rules())
    out = []
    for path, ok, seconds in events:
        judge.add(path, ok, seconds)
        out.append(judge.decide())
    return out


@dataclass(frozen=True)
class Plan:
    """What the judge is expected to need, simulated before a step starts (pure, seeded)."""

    share: float                      # Lambda's share of the jobs at this step
    promote_jobs: tuple[int, int]     # finished jobs (both paths) to PROMOTE a good version: median, p90
    promote_rate: float               # of simulated good versions promoted within the budget
    rollback_jobs: tuple[int, int]    # to ROLLBACK a version failing `bad_failure_rate` more: median, p90
    lambda_jobs_affected: int         # Lambda jobs of that bad version finished before ROLLBACK (p90)


def plan(rules: Rules, *, share: float, failure_rate: float = 0.01, bad_failure_rate: float = 0.10,
         spread: float = 0.3, sims: int = 200, seed: int = 20261207) -> Plan:
    """Simulate the step: jobs go to Lambda with probability `share`, fail at `failure_rate` (plus
    `bad_failure_rate` on Lambda for the bad version), take log-normal durations of sd `spread`."""
    import random

    if not 0 < share <= 1:
        raise ValueError(f"share {share!r} must be in (0, 1]")

    def simulate(extra: float, k: int) -> tuple[str, int, int]:
        rng = random.Random(seed * 1000 + k)
        judge = Judge(rules)
        on_lambda = 0
        for i in range(rules.max_jobs):
            path = "lambda" if rng.random() < share else "celery"
            on_lambda += path == "lambda"
            p = failure_rate + (extra if path == "lambda" else 0.0)
            judge.add(path, rng.random() >= p, rng.lognormvariate(0.0, spread))
            d = judge.decide()
            if d.action != "CONTINUE":
                return d.action, i + 1, on_lambda
        return "INCONCLUSIVE", rules.max_jobs, on_lambda

    def quantiles(values: list[int]) -> tuple[int, int]:
        values = sorted(values) or [rules.max_jobs]
        return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.9))]

    good = [simulate(0.0, k) for k in range(sims)]
    bad = [simulate(bad_failure_rate, sims + k) for k in range(sims)]
    promoted = [n for action, n, _ in good if action == "PROMOTE"]
    return Plan(share=share, promote_jobs=quantiles(promoted), promote_rate=len(promoted) / sims,
                rollback_jobs=quantiles([n for action, n, _ in bad if action == "ROLLBACK"]),
                lambda_jobs_affected=quantiles([lam for action, _, lam in bad if action == "ROLLBACK"])[1])
