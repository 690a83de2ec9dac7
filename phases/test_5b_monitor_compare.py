"""Step 5B: the same fixtures through both paths, timed side by side, with an estimated Lambda cost."""
from __future__ import annotations

import math
import statistics
import time

from harness.backend_client import BackendClient
from harness.invariants import check_job

FIXTURES = ("standard_720p", "tier_10mb")


def _run_once(target, api: BackendClient, key: str) -> tuple[float, dict]:
    job_id = target.new_job_id()
    t0 = time.monotonic()
    api.upload_complete(key, job_id)
    final = api.wait(job_id, timeout=target.stack.function("video_processor").timeout_s + 30, interval=0.05)
    elapsed = time.monotonic() - t0
    assert final["status"] == "COMPLETED", f"{job_id}: {final['status']} {final.get('error_message')}"
    inv = check_job(target, job_id, expect="COMPLETED", verify_media=False)
    assert inv.ok, inv.summary()
    return elapsed, {**final, "job_id": job_id}


def _billed_gb_s(target, final: dict, memory_mb: int) -> float:
    """GB-seconds of the processor for one job: the runtime's invocation records where the target has
    them (local), else the processor's own processing_duration_seconds (aws; CloudWatch REPORT lines
    are keyed by request id, not by job)."""
    records = [r for r in target.invocations_for_job(final["job_id"]) if hasattr(r, "duration_ms")]
    if records:
        seconds = sum(math.ceil(r.duration_ms) / 1000 for r in records)
    else:
        seconds = float(final.get("processing_duration_seconds") or 0.0)
    return seconds * memory_mb / 1024


def test_lambda_is_no_worse_than_celery_on_the_same_inputs(target, manifest, evidence, request) -> None:
    runs = request.config.getoption("--compare-runs")
    factor = request.config.getoption("--better-factor")
    price = request.config.getoption("--lambda-price-gb-s")
    memory = target.stack.function("video_processor").memory_mb
    api = BackendClient(target.backend())
    rows, verdicts = [], []
    with api.flag(True):
        for name in FIXTURES:
            fixture = manifest[name]
            key = target.upload_file(fixture.path)
            times: dict[str, list[float]] = {"lambda": [], "celery": []}
            segs: dict[str, set] = {"lambda": set(), "celery": set()}
            gb_s = []
            for round_ in range(runs):     # interleaved, order alternating, so both see the same load
                for method in (("lambda", "celery") if round_ % 2 == 0 else ("celery", "lambda")):
                    api.set_processing_method(method == "lambda")
                    elapsed, final = _run_once(target, api, key)
                    assert final["processing_method"] == method, final
                    times[method].append(elapsed)
                    segs[method].add(final["segments_created"])
                    if method == "lambda":
                        gb_s.append(_billed_gb_s(target, final, memory))
            assert segs["lambda"] == segs["celery"] == {fixture.expected_segments(10)}, \
                f"{name}: segments differ between paths: {segs}"
            lam, cel = statistics.median(times["lambda"]), statistics.median(times["celery"])
            spread = {m: max(v) - min(v) for m, v in times.items()}
            cost = statistics.median(gb_s) * price if gb_s else 0.0
            ok = lam <= cel * factor
            verdicts.append((name, ok, lam, cel))
            rows.append([name, runs, f"{lam:.2f}", f"{spread['lambda']:.2f}", f"{cel:.2f}", f"{spread['celery']:.2f}",
                         f"{lam / cel:.2f}", next(iter(segs["lambda"])), f"{statistics.median(gb_s):.3f}" if gb_s else "-",
                         f"{cost:.7f}", "yes" if ok else "NO"])
    evidence.table("Lambda vs Celery (5B)", ["fixture", "runs", "lambda median s", "lambda spread s",
                                             "celery median s", "celery spread s", "ratio", "segments",
                                             "GB-s per job", "USD per job", f"better (<= {factor}x)"], rows)
    for name, ok, lam, cel in verdicts:
        evidence.add("better", f"{name}: Lambda median {lam:.2f} s vs Celery {cel:.2f} s "
                               f"(rule: Lambda <= Celery x {factor}): {'yes' if ok else 'NO'}")
    slow = [f"{n}: {lam:.2f} s > {cel:.2f} s x {factor}" for n, ok, lam, cel in verdicts if not ok]
    assert not slow, "Lambda is slower than the rule allows: " + "; ".join(slow)
