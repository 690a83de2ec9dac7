"""Step 5C: the progressive rollout, drilled on real jobs: routing by weight, promotion, automatic rollback.

The controller (`python -m harness rollout`, harness/rollout/) sets the SSM weight, watches every job
that finishes under it, and asks the sequential judge after each one. Here it runs against the
target's own stack with a stream of real jobs through the backend.

The drills run the real controller and judge, with rules loosened so that a drill decides within
tens of jobs (DRILL_RULES; a real rollout keeps the defaults of harness.judge.rollout.Rules, which
need hundreds): they prove the machinery moves, promotes and reverts real jobs, not that a version
is good. Each drill says so in its evidence.
"""
from __future__ import annotations

import concurrent.futures
import time

import pytest

from harness.judge.rollout import Rules
from harness.rollout.controller import Controller, check_weight
from harness.rollout.ops import JobStream, TargetOps
from harness.targets.backend_client import BackendClient

DRILL_RULES = Rules(min_jobs=15, max_jobs=400, margin=2.0, failure_margin=0.35, tau=0.1)
SCHEDULE = (5000, 10000)          # 50 %, then 100 %
RATE = 4.0                        # jobs per second
FIXTURE = "short_3s"
DRILL_NOTE = (f"drill rules: >= {DRILL_RULES.min_jobs} jobs per path, failure margin {DRILL_RULES.failure_margin}, "
              f"duration margin {DRILL_RULES.margin} (a real rollout keeps the judge's defaults)")


@pytest.mark.contract("B7")
def test_the_rollout_weight_is_declared_at_zero_and_holds_a_valid_weight(target, evidence) -> None:
    """terraform creates the weight at 0 and never moves it; what is deployed now is a weight in 0..10000."""
    ops = TargetOps(target)
    declared = target.stack.parameters[ops.weight_name]
    assert declared == "0", f"terraform declares {ops.weight_name} = {declared!r}: an apply would move traffic"
    current = ops.weight()
    check_weight(current)
    evidence.add("rollback", f"{ops.weight_name} is {current} basis points; terraform creates it at 0 and ignores "
                             "later changes, so the controller's writes are the only moves")


def _drill(target, manifest, *, fault: dict | None = None):
    fixture = manifest[FIXTURE]
    api = BackendClient(target.backend())
    key = target.upload_file(fixture.path)
    ops = TargetOps(target)
    lines: list[str] = []
    ctl = Controller(ops, schedule=SCHEDULE, rules=DRILL_RULES, step_timeout=150.0, poll=0.2, say=lines.append,
                     run_id=target.run_id, target=target.name)
    try:
        with api.flag(None):                      # unset: the weight decides (B7)
            ops.set_weight(0)
            with JobStream(api, key=key, new_job_id=target.new_job_id, rate=RATE) as stream:
                if fault:
                    with target.fault(**fault):
                        record = ctl.run()
                        after = _submitted_after(stream, seconds=3.0)
                else:
                    record = ctl.run()
                    after = []
    finally:
        ops.set_weight(0)
    assert not stream.errors, f"{len(stream.errors)} submission(s) failed: {stream.errors[0]}"
    timeout = target.stack.function("video_processor").timeout_s + 60
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        finals = dict(zip(stream.jobs, pool.map(lambda j: target.wait_for_job(j, timeout=timeout), stream.jobs)))
    return record, finals, after, lines


def _medians(record) -> str:
    """Each path's median job duration per step: what a duration verdict was made of."""
    import statistics

    out = []
    for step in record.steps:
        for path in ("lambda", "celery"):
            secs = [e["seconds"] for e in step["events"] if e["path"] == path and e["ok"] and e["seconds"]]
            if secs:
                out.append(f"{step['weight'] / 100:g}% {path} median {statistics.median(secs):.2f} s of {len(secs)}")
    return "; ".join(out)


def _submitted_after(stream: JobStream, seconds: float) -> list[str]:
    """The jobs submitted in the next `seconds` once the backend's weight cache has expired (after a rollback:
    they must all go to Celery)."""
    time.sleep(2.0)                  # the local backend caches the weight for 1 s (ROLLOUT_CACHE_SECONDS)
    start = len(stream.jobs)
    time.sleep(seconds)
    return stream.jobs[start:]


@pytest.mark.contract("B7", "B4")
@pytest.mark.local_only
def test_a_good_version_is_promoted_weight_by_weight_on_real_jobs(target, manifest, evidence) -> None:
    record, finals, _after, _lines = _drill(target, manifest)
    assert record.outcome == "PROMOTED", f"{record.outcome}: {record.reason} ({_medians(record)})"
    lost = {j: f["status"] for j, f in finals.items() if f["status"] != "COMPLETED"}
    assert not lost, f"{len(lost)} job(s) did not complete: {dict(list(lost.items())[:3])}"
    half = record.steps[0]
    paths = {e["path"] for e in half["events"]}
    assert paths == {"lambda", "celery"}, f"at 50% the jobs ran on {paths} only"
    judged = sum(len(s["events"]) for s in record.steps)
    evidence.add("works", f"promoted 50% -> 100% on {judged} judged real jobs ({len(finals)} submitted, all "
                          f"COMPLETED): {record.steps[-1]['decisions'][-1]['reason']} ({_medians(record)}); "
                          f"{DRILL_NOTE}")


@pytest.mark.contract("B7", "B4", "F1")
@pytest.mark.local_only
@pytest.mark.injects("s3_permission_denied")
def test_a_failing_version_is_rolled_back_to_zero_and_no_job_is_lost(target, manifest, evidence) -> None:
    """Every Lambda job fails (the function's reads of the source are denied at the endpoint); Celery's do
    not. The judge must roll back at the first step, the weight must be 0 after it, every job must end
    (the failed ones FAILED with a reason, none stuck), and jobs after the rollback must run on Celery."""
    record, finals, after, _lines = _drill(
        target, manifest, fault={"service": "s3", "operation": ("HeadObject", "GetObject"), "match": "uploads/",
                                 "error": "AccessDenied"})
    assert record.outcome == "ROLLED_BACK", f"{record.outcome}: {record.reason}"
    step = record.steps[0]
    assert step["weight"] == SCHEDULE[0] and step["weight_after"] == 0, step
    assert TargetOps(target).weight() == 0
    stuck = {j: f["status"] for j, f in finals.items() if f["status"] not in ("COMPLETED", "FAILED")}
    assert not stuck, f"{len(stuck)} job(s) never ended: {stuck}"
    on_lambda_after = [j for j in after if finals[j]["processing_method"] == "lambda"]
    assert after and not on_lambda_after, f"{len(on_lambda_after)} of {len(after)} jobs after the rollback ran on Lambda"
    failed = sum(f["status"] == "FAILED" for f in finals.values())
    evidence.add("rollback", f"rolled back automatically at 50% after {len(step['events'])} judged jobs "
                             f"({step['decisions'][-1]['reason']}); weight 0; {len(finals)} jobs all ended "
                             f"({failed} FAILED with a reason, none stuck); the {len(after)} submitted after it ran "
                             f"on Celery; {DRILL_NOTE}")
