"""Step 4B (continued): a burst of jobs under reserved concurrency, and fuzzed input to the function
and the backend. Results join the report's reliability table."""
from __future__ import annotations

import concurrent.futures
import statistics
import time
import uuid
from datetime import datetime

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.judge.invariants import check_job
from harness.judge.lambda_logs import concurrency
from harness.targets.backend_client import BackendClient

PROCESSOR = "video_processor"
BURST = 25
TABLE = "Reliability"
HEADERS = ["scenario", "target", "result", "final state", "objects leaked", "jobs stuck"]
FIELDS = ("job_id", "s3_bucket", "s3_key", "segment_duration", "event")


def _ts(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _intervals(records) -> list[list[float]]:
    """Each attempt's [start, end] in seconds from the burst's first start, for the report's chart."""
    ran = [r for r in records if r.outcome != "throttled"]
    if not ran:
        return []
    t0 = min(r.started for r in ran)
    return [[round(r.started - t0, 3), round(r.ended - t0, 3)] for r in sorted(ran, key=lambda r: r.started)]


@pytest.mark.contract("L4", "R4")
def test_burst_of_jobs_all_complete_under_reserved_concurrency(target, manifest, evidence) -> None:
    """Concurrency is counted from the processor's own START/END log lines (harness.judge.lambda_logs), the
    way one would on AWS, not from the emulator's counters; the runtime's records only draw the chart."""
    fixture = manifest["short_3s"]
    api = BackendClient(target.backend())
    key = target.upload_file(fixture.path)
    function_name = target.stack.function(PROCESSOR).name
    logs_before = len(target.function_logs(function_name))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        started = list(pool.map(lambda _: api.start_test_processing(key), range(BURST)))
    job_ids = [s["job_id"] for s in started]
    target.created_jobs.update(job_ids)
    deadline = time.monotonic() + 240
    pending = set(job_ids)
    while pending and time.monotonic() < deadline:
        pending = {j for j in pending if (target.get_job(j) or {}).get("status") not in ("COMPLETED", "FAILED")}
        time.sleep(0.5)
    checks = [check_job(target, j, fixture=fixture, expect="COMPLETED", verify_media=False) for j in job_ids]
    jobs = [target.get_job(j) or {} for j in job_ids]
    completed = sum(1 for j in jobs if j.get("status") == "COMPLETED")
    failed = sum(1 for j in jobs if j.get("status") == "FAILED")
    latencies = sorted(_ts(j["updated_at"]) - _ts(j["created_at"]) for j in jobs if j.get("status") == "COMPLETED")
    records = target.runtime_records(job_ids)  # None where the target keeps no structured records (aws)
    throttled = sum(1 for r in records if r.outcome == "throttled") if records is not None else "n/a"
    reserved = target.stack.function(PROCESSOR).reserved_concurrency
    seen = concurrency(target.function_logs(function_name)[logs_before:])
    log_deadline = time.monotonic() + 30      # CloudWatch delivers logs seconds after the fact
    while (seen.invocations < BURST or seen.unended) and time.monotonic() < log_deadline:
        time.sleep(1)
        seen = concurrency(target.function_logs(function_name)[logs_before:])
    overlap = seen.peak
    if records:
        evidence.series("4B burst", {"limit": reserved, "intervals": _intervals(records)})
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)] if latencies else float("nan")
    leaked = sum(c.leaked for c in checks)
    stuck = sum(int(c.stuck) for c in checks) + len(pending)
    ok = completed == BURST and not leaked and not stuck and all(c.ok for c in checks)
    evidence.table("Load (4B)", ["jobs started", "completed", "failed", "throttles seen", "max concurrent",
                                 "reserved concurrency", "p50 s", "p95 s"],
                   [[BURST, completed, failed, throttled, overlap if overlap is not None else "n/a", reserved,
                     f"{p50:.2f}", f"{p95:.2f}"]])
    evidence.table(TABLE, HEADERS, [[f"burst of {BURST} jobs", target.name, "pass" if ok else "FAIL",
                                     f"{completed}/{BURST} COMPLETED", leaked, stuck]])
    evidence.add("reliable", f"burst of {BURST}: {completed} COMPLETED, p50 {p50:.2f} s, p95 {p95:.2f} s, "
                             f"max {overlap} concurrent (reserved {reserved})")
    assert not pending, f"{len(pending)} jobs never finished: {sorted(pending)[:3]}"
    assert completed == BURST, [c.summary() for c in checks if not c.ok][:3]
    assert all(c.ok for c in checks), [c.summary() for c in checks if not c.ok][:3]
    assert seen.invocations >= BURST, (f"the processor's log shows {seen.invocations} START lines for {BURST} "
                                       f"jobs: its logs are incomplete, so its concurrency is unknown")
    assert not seen.unended, f"invocations STARTed but never ENDed in the function's log: {seen.unended[:3]}"
    if reserved is not None:
        assert overlap <= reserved, (f"{overlap} invocations ran at once by the function's START/END log lines, "
                                     f"above reserved concurrency {reserved}")


def _invalid_events(bucket: str):
    good = {"job_id": str(uuid.UUID(int=1)), "s3_bucket": bucket, "s3_key": "uploads/fuzz/video.mp4",
            "segment_duration": 10}
    # Payloads must be JSON (NaN/Infinity are not: the Invoke API itself rejects them), and a null
    # segment_duration is documented to mean the default, so neither counts as an invalid event here.
    junk = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                     st.text(max_size=40),
                     st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
    bad_key = st.one_of(
        st.just("uploads/../secrets/x.mp4"), st.just("/etc/passwd"), st.just("processed/x/segment_000.mp4"),
        st.just("uploads/a/../../b.mp4"), st.just(""), st.just("uploads/" + "a" * 1100),
        st.text(min_size=1, max_size=30).filter(lambda s: not s.startswith("uploads/")),
        st.just("uploads/nul\x00byte.mp4"), st.just("test_output/x.mp4"))
    bad_duration = st.one_of(st.just(0), st.just(-5), st.just(10 ** 12), st.just(1e308), st.just(True),
                             st.just("10"), st.floats(max_value=0.5, allow_nan=False, allow_infinity=False),
                             st.just([10]))
    bad_bucket = st.one_of(st.just("someone-elses-bucket"), st.text(max_size=20).filter(lambda b: b != bucket),
                           st.just(None))
    bad_job = st.one_of(st.just("not-a-uuid"), st.just(""), st.just("../../x"), st.integers(), st.text(max_size=40))
    mutations = st.one_of(
        st.builds(lambda v: {**good, "s3_key": v}, bad_key),
        st.builds(lambda v: {**good, "segment_duration": v}, bad_duration),
        st.builds(lambda v: {**good, "s3_bucket": v}, bad_bucket),
        st.builds(lambda v: {**good, "job_id": v}, bad_job),
        st.builds(lambda k: {f: v for f, v in good.items() if f != k}, st.sampled_from(["job_id", "s3_bucket", "s3_key"])),
        st.builds(lambda f, v: {**good, f: v}, st.sampled_from(["job_id", "s3_bucket", "s3_key"]), junk),
        st.one_of(st.lists(st.integers(), max_size=2), st.text(max_size=10), st.none()),
    )
    return mutations


@pytest.mark.contract("E1", "E2", "E3", "E4", "E6")
def test_fuzzed_processor_events_are_rejected_with_the_field_named_and_no_writes(target, evidence) -> None:
    seen: list[str] = []
    ran = [0]     # how many examples hypothesis really ran (it may stop early, e.g. on exhausted strategies)

    @settings(max_examples=200, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(_invalid_events(target.bucket))
    def check(event) -> None:
        ran[0] += 1
        result = target.invoke(PROCESSOR, event)
        assert result.function_error, f"invalid event accepted: {event!r} -> {result.payload}"
        assert result.payload.get("errorType") == "InvalidEvent", f"{event!r} -> {result.payload}"
        message = result.payload.get("errorMessage", "")
        assert any(f in message for f in FIELDS), f"message names no field: {message!r} for {event!r}"
        if isinstance(event, dict) and isinstance(event.get("job_id"), str):
            seen.append(event["job_id"])

    check()
    written = [j for j in set(seen) if _safe_get(target, j)]
    assert not written, f"invalid events wrote job records: {written[:3]}"
    assert target.list_keys("processed/00000000-0000-0000-0000-000000000001/") == []
    assert ran[0] > 0, "hypothesis ran no example"
    evidence.table(TABLE, HEADERS, [[f"fuzzed processor events ({ran[0]})", target.name, "pass",
                                     "all InvalidEvent naming the field, nothing written", 0, 0]])
    evidence.add("reliable", f"{ran[0]} fuzzed invalid events: every one InvalidEvent naming the field, no writes")


def _safe_get(target, job_id: str):
    try:
        uuid.UUID(job_id)
    except (ValueError, TypeError, AttributeError):
        return None
    return target.get_job(job_id)


@pytest.mark.contract("B5")
def test_fuzzed_backend_bodies_never_give_a_5xx_and_name_the_field(target, evidence) -> None:
    api = BackendClient(target.backend())
    bodies = st.one_of(
        st.fixed_dictionaries({"s3_key": st.one_of(st.text(max_size=30).filter(lambda s: not s.startswith("uploads/")),
                                                   st.just("uploads/../x"), st.integers(), st.none())},
                              optional={"job_id": st.text(max_size=40), "segment_duration": st.floats()}),
        st.fixed_dictionaries({"s3_key": st.just("uploads/ok.mp4"),
                               "job_id": st.one_of(st.text(max_size=40), st.integers(), st.none())}),
        st.fixed_dictionaries({"s3_key": st.just("uploads/ok.mp4"), "job_id": st.just(str(uuid.uuid4())),
                               "segment_duration": st.one_of(st.just(0), st.just(-1), st.just(10 ** 9),
                                                             st.text(max_size=5))}),
    )
    endpoints = ["/api/upload/complete", "/api/test/lambda-processing"]
    statuses: dict[int, int] = {}

    @settings(max_examples=200, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(endpoints), bodies)
    def check(path, body) -> None:
        if path.endswith("lambda-processing"):
            body = {k: v for k, v in body.items() if k != "job_id"} if body.get("s3_key") != "uploads/ok.mp4" \
                else {"s3_key": "uploads/../x", **{k: v for k, v in body.items() if k == "segment_duration"}}
        resp = requests.post(f"{api.base}{path}", json=body, timeout=30)
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        assert resp.status_code < 500, f"{path} {body!r} -> {resp.status_code}: {resp.text[:200]}"
        assert resp.status_code == 422, f"{path} accepted invalid {body!r}: {resp.status_code} {resp.text[:200]}"
        assert any(f in resp.text for f in ("s3_key", "job_id", "segment_duration")), resp.text[:200]

    check()
    ran = sum(statuses.values())
    assert ran > 0, "hypothesis ran no example"
    evidence.table(TABLE, HEADERS, [[f"fuzzed backend bodies ({ran})", target.name, "pass",
                                     f"statuses {dict(sorted(statuses.items()))}, never 5xx", 0, 0]])
    evidence.add("reliable", f"{ran} fuzzed backend bodies: {dict(sorted(statuses.items()))}, none 5xx")
