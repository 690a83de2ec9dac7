"""Step 4B: injected faults each end in the right final state, with no leftovers and no stuck jobs.

Faults that need the embedded target (the gateway injects S3/DynamoDB errors
and delays; the function's configuration is changed for the duration) are
marked local_only and are not collected for aws; the reliability table in the
report lists every scenario and where it was proven.
"""
from __future__ import annotations

import concurrent.futures
import time

import pytest
import requests

from harness.judge.contract import reason_class
from harness.judge.invariants import check_job
from harness.judge.writers import finished_once, no_write_after, one_delivery_wrote
from harness.local.awsreq import DYNAMODB_WRITES, S3_WRITES
from harness.targets.backend_client import BackendClient

PROCESSOR = "video_processor"
TABLE = "Reliability"
HEADERS = ["scenario", "target", "result", "final state", "objects leaked", "jobs stuck"]


def _row(evidence, target, scenario: str, ok: bool, state: str, leaked: int = 0, stuck: int = 0) -> None:
    evidence.table(TABLE, HEADERS, [[scenario, target.name, "pass" if ok else "FAIL", state, leaked, stuck]])
    evidence.add("reliable", f"{scenario}: {state}")


def _event(target, job_id: str, key: str, **extra) -> dict:
    return {"job_id": job_id, "s3_bucket": target.bucket, "s3_key": key, "segment_duration": 10, **extra}


def _process(target, fixture, *, wait: float | None = None, **extra) -> tuple[str, dict]:
    """Upload, create the job QUEUED, invoke the processor asynchronously, wait for a final state."""
    job_id = target.new_job_id()
    key = target.upload_file(fixture.path, job_id=job_id)
    target.create_queued_job(job_id, key)
    result = target.invoke(PROCESSOR, _event(target, job_id, key, **extra), asynchronous=True)
    assert result.status_code == 202, result
    timeout = wait or target.stack.function(PROCESSOR).timeout_s + 30
    return job_id, target.wait_for_job(job_id, timeout=timeout)


def _assert_final(target, evidence, scenario: str, job_id: str, expect: str, *, fixture=None,
                  reason: str | None = None) -> dict:
    check = check_job(target, job_id, fixture=fixture, expect=expect, verify_media=expect == "COMPLETED")
    job = target.get_job(job_id) or {}
    state = f"{job.get('status')}" + (f" ({str(job.get('error_message'))[:70]})" if job.get("error_message") else "")
    message = str(job.get("error_message", ""))
    ok = check.ok and (reason is None or message.startswith(f"{reason}:"))
    _row(evidence, target, scenario, ok, state, check.leaked, int(check.stuck))
    assert check.ok, check.summary()
    if reason is not None:   # CONTRACT.md F1: "<ReasonClass>: <cause>"
        assert message.startswith(f"{reason}:"), \
            f"{scenario}: error_message {message[:120]!r} is not reason class {reason} (CONTRACT.md F1)"
    return job


@pytest.mark.contract("E3", "E6", "B5")
def test_invalid_s3_key_is_rejected_before_any_write(target, manifest, evidence) -> None:
    api = BackendClient(target.backend())
    resp = requests.post(f"{api.base}/api/test/lambda-processing", json={"s3_key": "uploads/../secrets/x.mp4"},
                         timeout=30)
    assert resp.status_code == 422 and "s3_key" in resp.text, f"backend accepted '..': {resp.status_code} {resp.text[:200]}"
    job_id = target.new_job_id()
    outside = f"processed/{job_id}/segment_000.mp4"
    result = target.invoke(PROCESSOR, _event(target, job_id, outside))
    assert result.function_error and result.payload.get("errorType") == "InvalidEvent", result.payload
    assert "s3_key" in result.payload.get("errorMessage", ""), result.payload
    other = target.invoke(PROCESSOR, {**_event(target, job_id, f"uploads/{job_id}/a.mp4"), "s3_bucket": "someone-elses"})
    assert other.function_error and "s3_bucket" in other.payload.get("errorMessage", ""), other.payload
    assert target.get_job(job_id) is None, "an invalid event wrote a job record"
    assert target.outputs_of(job_id) == [], "an invalid event wrote outputs"
    _row(evidence, target, "invalid S3 key / bucket", True, "rejected (422 / InvalidEvent), nothing written")


@pytest.mark.contract("F1", "F3")
def test_missing_source_object_fails_the_job(target, evidence) -> None:
    job_id = target.new_job_id()
    key = target.upload_key("never-uploaded.mp4", job_id)
    target.create_queued_job(job_id, key)
    target.invoke(PROCESSOR, _event(target, job_id, key), asynchronous=True)
    target.wait_for_job(job_id, timeout=120)
    _assert_final(target, evidence, "missing source object", job_id, "FAILED", reason="SourceNotFound")


@pytest.mark.contract("F1", "F3", "O3")
@pytest.mark.parametrize("name", ["random_bytes_mp4", "truncated_mp4", "zero_byte_mp4", "text_as_mp4"])
def test_broken_video_fails_cleanly(target, manifest, evidence, name) -> None:
    fixture = manifest[name]
    assert fixture.expected["status"] == "FAILED", fixture.expected
    job_id, _ = _process(target, fixture)
    _assert_final(target, evidence, f"broken input: {name}", job_id, "FAILED",
                  reason=reason_class(fixture.expected["reason_class"]))


@pytest.mark.contract("F1", "F3")
@pytest.mark.local_only
@pytest.mark.injects("s3_permission_denied")
def test_upload_failure_at_second_segment_leaves_no_partial_results(target, manifest, evidence) -> None:
    fixture = manifest["standard_720p"]
    job_id = target.new_job_id()
    with target.fault(service="s3", operation=S3_WRITES, match=f"processed/{job_id}/segment_001",
                      error="AccessDenied"):
        key = target.upload_file(fixture.path, job_id=job_id)
        target.create_queued_job(job_id, key)
        target.invoke(PROCESSOR, _event(target, job_id, key), asynchronous=True)
        target.wait_for_job(job_id, timeout=120)
    _assert_final(target, evidence, "upload fails at segment 2", job_id, "FAILED")


@pytest.mark.contract("R4")
@pytest.mark.local_only
@pytest.mark.injects("dynamodb_throttling")
def test_dynamodb_throttling_is_retried_and_the_job_completes(target, manifest, evidence) -> None:
    fixture = manifest["standard_720p"]
    job_id = target.new_job_id()
    with target.fault(service="dynamodb", operation=DYNAMODB_WRITES, match=job_id,
                      error="ProvisionedThroughputExceededException", times=3) as rule:
        key = target.upload_file(fixture.path, job_id=job_id)
        target.create_queued_job(job_id, key)
        target.invoke(PROCESSOR, _event(target, job_id, key), asynchronous=True)
        target.wait_for_job(job_id, timeout=120)
    assert rule.hits >= 1, "no DynamoDB write of the job was throttled: the drill proved nothing"
    _assert_final(target, evidence, "DynamoDB throttling x3", job_id, "COMPLETED", fixture=fixture)


@pytest.mark.contract("L3", "F1")
@pytest.mark.local_only
@pytest.mark.injects("lambda_timeout")
def test_processing_timeout_marks_the_job_failed_before_the_runtime_kills_it(target, manifest, evidence) -> None:
    """Function timeout 4 s; the source is served slowly (each read delayed 6 s) so the job outlives it."""
    fixture = manifest["standard_720p"]
    job_id = target.new_job_id()
    with target.function_config(PROCESSOR, Timeout=4), \
            target.fault(service="s3", operation="GetObject", match=f"/{job_id}/", delay_s=6.0):
        key = target.upload_file(fixture.path, job_id=job_id)
        target.create_queued_job(job_id, key)
        target.invoke(PROCESSOR, _event(target, job_id, key), asynchronous=True)
        job = target.wait_for_job(job_id, timeout=60)
    assert job["status"] == "FAILED", f"job ended {job['status']} instead of FAILED on timeout"
    _assert_final(target, evidence, "function timeout shorter than the job", job_id, "FAILED", reason="TimeoutGuard")


@pytest.mark.contract("F1", "V1")
@pytest.mark.local_only
def test_missing_ffmpeg_fails_the_job_with_a_reason(target, manifest, evidence) -> None:
    """The function is pointed at a layer without bin/ffmpeg: /opt/bin/ffmpeg is simply not there."""
    fixture = manifest["short_3s"]
    with target.layer_without_ffmpeg() as arn, target.function_config(PROCESSOR, Layers=[arn]):
        job_id, _ = _process(target, fixture)
    _assert_final(target, evidence, "ffmpeg missing from the layer", job_id, "FAILED", reason="FfmpegUnavailable")


@pytest.mark.contract("F4")
@pytest.mark.local_only
@pytest.mark.injects("memory_limit")
def test_an_oom_killed_job_ends_failed_through_the_on_failure_destination(target, manifest, evidence) -> None:
    """The processor runs at 128 MB, Lambda's smallest size, and its memory cgroup is filled at its first
    read of the source (a gateway fault) until the kernel OOM-kills its runtime, on every attempt: it can
    never report itself. Lambda's on-failure record reaches the backend's consumer, which marks the job
    FAILED with Lambda's reason, in seconds rather than after the function's timeout."""
    fixture = manifest["short_3s"]
    fn = target.stack.function(PROCESSOR)
    assert fn.on_failure, "terraform declares no on-failure destination for the processor"
    target.backend()                      # the consumer runs in the backend
    t0 = time.monotonic()
    job_id, key = _queued_job(target, fixture)
    with target.function_config(PROCESSOR, MemorySize=128), \
            target.fault(service="s3", operation=("HeadObject", "GetObject"), match=key,
                         exhaust_memory=True) as rule:
        target.invoke(PROCESSOR, _event(target, job_id, key), asynchronous=True)
        job = target.wait_for_job(job_id, timeout=120)
    elapsed = time.monotonic() - t0
    assert rule.crashed and all(hit["oom_killed"] for hit in rule.crashed), rule.crashed
    attempts = target.invocations_for_job(job_id)
    assert [a.outcome for a in attempts] == ["oom"] * (1 + fn.max_retry_attempts), [a.outcome for a in attempts]
    _assert_final(target, evidence, "OOM kill at 128 MB on every attempt (on-failure destination)", job_id,
                  "FAILED", reason="Runtime.OutOfMemory")
    assert "RetriesExhausted" in job["error_message"], job["error_message"]
    evidence.add("reliable", f"OOM-killed job (128 MB) FAILED through the on-failure destination in {elapsed:.1f} s")


def _queued_job(target, fixture) -> tuple[str, str]:
    job_id = target.new_job_id()
    key = target.upload_file(fixture.path, job_id=job_id)
    target.create_queued_job(job_id, key)
    return job_id, key


def _attempts_of_a_hard_fault(target, job_id: str, outcome: str, error_type: str) -> list:
    """Every async attempt ended the same way, with one request id, and Lambda's REPORT line says so."""
    fn = target.stack.function(PROCESSOR)
    allowed = 1 + fn.max_retry_attempts           # terraform's aws_lambda_function_event_invoke_config
    attempts = target.invocations_for_job(job_id)
    got = [(a.outcome, a.error_type) for a in attempts]
    assert got == [(outcome, error_type)] * allowed, f"expected {allowed} attempts ending {outcome} ({error_type}), got {got}"
    assert len({a.request_id for a in attempts}) == 1, "async retries must keep the request id"
    once = finished_once(target.wire_writes(job_id), f"processed/{job_id}/")
    assert not once, once[0]
    rid = attempts[0].request_id
    reports = [ln for ln in target.function_logs(fn.name) if ln.startswith(f"REPORT RequestId: {rid}")]
    status = "Status: timeout" if outcome == "timeout" else f"Status: error\tError Type: {error_type}"
    assert len(reports) == allowed and all(ln.endswith(status) for ln in reports), reports
    return attempts


@pytest.mark.contract("F4", "F3")
@pytest.mark.local_only
def test_a_runtime_crash_mid_upload_ends_failed_through_the_on_failure_destination(target, manifest, evidence) -> None:
    """The runtime process dies of SIGSEGV while it uploads the job's second segment, on every attempt: the
    AWS endpoint signals the instance process that sent the PutObject (as a real crash would, from outside
    the function) and the upload never lands. Lambda reports Runtime.ExitError ("signal: segmentation
    fault"), retries with the same request id, then sends the on-failure record; the backend's consumer
    marks the job FAILED. The crash hits the second upload, so segment_000 has landed on every attempt: the
    consumer must delete processed/<job_id>/ before it marks the job FAILED (CONTRACT F3)."""
    fixture = manifest["standard_720p"]
    fn = target.stack.function(PROCESSOR)
    assert fn.on_failure, "terraform declares no on-failure destination for the processor"
    target.backend()                      # the consumer runs in the backend
    t0 = time.monotonic()
    job_id, key = _queued_job(target, fixture)
    with target.fault(service="s3", operation=S3_WRITES, match=f"processed/{job_id}/segment_001",
                      crash="SIGSEGV") as rule:
        target.invoke(PROCESSOR, _event(target, job_id, key), asynchronous=True)
        job = target.wait_for_job(job_id, timeout=120)
    elapsed = time.monotonic() - t0
    assert len(rule.crashed) == 1 + fn.max_retry_attempts, f"SIGSEGV reached {rule.crashed} ({rule.hits} hits)"
    _attempts_of_a_hard_fault(target, job_id, "error", "Runtime.ExitError")
    _assert_final(target, evidence, "runtime crash (SIGSEGV) mid-upload, every attempt (on-failure destination)",
                  job_id, "FAILED", reason="Runtime.ExitError")
    assert "Runtime exited with error: signal: segmentation fault" in job["error_message"], job["error_message"]
    assert "RetriesExhausted" in job["error_message"], job["error_message"]
    evidence.add("reliable", f"crashed job FAILED through the on-failure destination in {elapsed:.1f} s")


@pytest.mark.contract("F4", "F3")
@pytest.mark.local_only
@pytest.mark.injects("lambda_timeout")
def test_the_hard_timeout_on_every_attempt_ends_failed_through_the_on_failure_destination(target, manifest,
                                                                                           evidence) -> None:
    """Timeout 3 s, and every DynamoDB request the function makes for the job stalls for 8 s (then fails),
    on every attempt: whatever the call (a read or the claim), no timeout guard can pre-empt a call in
    flight, so Lambda kills each attempt (Sandbox.Timedout). After the last retry the on-failure record
    reaches the backend's consumer, which marks the job FAILED."""
    fixture = manifest["short_3s"]
    target.backend()
    t0 = time.monotonic()
    job_id, key = _queued_job(target, fixture)
    with target.function_config(PROCESSOR, Timeout=3), \
            target.fault(service="dynamodb", match=job_id, delay_s=8.0, error="InternalServerError") as rule:
        target.invoke(PROCESSOR, _event(target, job_id, key), asynchronous=True)
        job = target.wait_for_job(job_id, timeout=90)
    elapsed = time.monotonic() - t0
    assert rule.hits >= 1 + target.stack.function(PROCESSOR).max_retry_attempts, f"{rule.hits} stalls"
    _attempts_of_a_hard_fault(target, job_id, "timeout", "Sandbox.Timedout")
    _assert_final(target, evidence, "hard timeout on every attempt, guard unable to act (on-failure destination)",
                  job_id, "FAILED", reason="Sandbox.Timedout")
    assert "RetriesExhausted" in job["error_message"], job["error_message"]
    evidence.add("reliable", f"timed-out job FAILED through the on-failure destination in {elapsed:.1f} s")


@pytest.mark.contract("F2", "F4", "R4")
@pytest.mark.local_only
def test_a_transient_error_on_every_attempt_ends_failed_after_the_last_retry(target, manifest, evidence) -> None:
    """Every DynamoDB request the function makes for the job answers 500 InternalServerError, on every
    attempt. The function cannot claim the job, so after its bounded retries (R4) it must fail the
    invocation (F2: before the claim a failure fails the invocation); it cannot write FAILED itself, as
    every write of the record fails too. Lambda runs 1 + MaximumRetryAttempts attempts with one request id,
    then sends the on-failure record (RetriesExhausted) and the backend's consumer marks the job FAILED
    (F4). Lambda's errorType is the processor's choice (F2 says only that it names the cause)."""
    fixture = manifest["short_3s"]
    fn = target.stack.function(PROCESSOR)
    allowed = 1 + fn.max_retry_attempts
    target.backend()
    t0 = time.monotonic()
    job_id, key = _queued_job(target, fixture)
    with target.fault(service="dynamodb", match=job_id, error="InternalServerError") as rule:
        target.invoke(PROCESSOR, _event(target, job_id, key), asynchronous=True)
        job = target.wait_for_job(job_id, timeout=240)
    elapsed = time.monotonic() - t0
    attempts = target.invocations_for_job(job_id)
    assert [a.outcome for a in attempts] == ["error"] * allowed, \
        f"expected {allowed} failed attempts (F2), got {[(a.outcome, a.error_type) for a in attempts]}"
    assert len({a.request_id for a in attempts}) == 1, "async retries must keep the request id"
    once = finished_once(target.wire_writes(job_id), f"processed/{job_id}/")
    assert not once, once[0]
    assert rule.hits >= allowed, f"only {rule.hits} DynamoDB requests failed"
    _assert_final(target, evidence, f"transient error (DynamoDB 500) on all {allowed} attempts "
                  "(on-failure destination)", job_id, "FAILED")
    assert job["error_message"].endswith(f"(RetriesExhausted after {allowed} attempts)"), job["error_message"]
    evidence.add("reliable", f"job failing transiently on every attempt FAILED after {allowed} attempts "
                             f"in {elapsed:.1f} s")


@pytest.mark.contract("F4", "L4")
@pytest.mark.local_only
def test_an_event_throttled_past_its_maximum_age_ends_failed_through_the_on_failure_destination(target, manifest,
                                                                                                evidence) -> None:
    """Reserved concurrency 1, held by a job whose first DynamoDB request stalls for 6 s; the async event
    of a second job may wait at most 2 s (MaximumEventAgeInSeconds, a local-only value below AWS's 60 s).
    Lambda keeps the throttled event queued and retries it until it is that old, then sends the on-failure
    record (EventAgeExceeded) without ever running the function; the backend's consumer marks the job
    FAILED. The job holding the slot completes."""
    fixture = manifest["short_3s"]
    name = target.stack.function(PROCESSOR).name
    target.backend()
    assert target.runtime.wait_idle(60), "earlier async events of this worker are still running"
    blocker_id, blocker_key = _queued_job(target, fixture)
    job_id, key = _queued_job(target, fixture)
    with target.reserved_concurrency(PROCESSOR, 1), \
            target.event_invoke_config(PROCESSOR, MaximumEventAgeInSeconds=2), \
            target.fault(service="dynamodb", match=blocker_id, delay_s=6.0, times=1) as stall:
        target.invoke(PROCESSOR, _event(target, blocker_id, blocker_key), asynchronous=True)
        deadline = time.monotonic() + 15
        while target.runtime.in_flight(name) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert target.runtime.in_flight(name) == 1, "the first job never took the only slot"
        t0 = time.monotonic()
        target.invoke(PROCESSOR, _event(target, job_id, key), asynchronous=True)
        job = target.wait_for_job(job_id, timeout=60)
        elapsed = time.monotonic() - t0
        blocker = target.wait_for_job(blocker_id, timeout=120)
    assert stall.hits == 1, f"the first job's stall was not injected ({stall.hits})"
    attempts = target.invocations_for_job(job_id)
    assert [a.outcome for a in attempts] == ["throttled"], \
        f"the throttled event should never have run, got {[(a.outcome, a.error_type) for a in attempts]}"
    _assert_final(target, evidence, "event older than its maximum age while throttled (on-failure destination)",
                  job_id, "FAILED")
    assert "EventAgeExceeded" in job["error_message"], job["error_message"]
    assert blocker["status"] == "COMPLETED", f"the job holding the slot ended {blocker['status']}"
    held = check_job(target, blocker_id, fixture=fixture, expect="COMPLETED", verify_media=False)
    assert held.ok, held.summary()
    evidence.add("reliable", f"throttled event past its maximum age (2 s) FAILED through the on-failure "
                             f"destination in {elapsed:.1f} s")


@pytest.mark.contract("F1", "F3")
@pytest.mark.local_only
def test_tmp_exhausted_fails_the_job_cleanly(target, manifest, evidence) -> None:
    """/tmp is made too small for one segment (16 MB; a local-only setting below AWS's 512 MB minimum)."""
    fixture = manifest["tier_100mb"]
    with target.function_config(PROCESSOR, EphemeralStorage={"Size": 16}):
        job_id, _ = _process(target, fixture, segment_duration=60)
    _assert_final(target, evidence, "/tmp exhausted", job_id, "FAILED", reason="StorageExhausted")


@pytest.mark.contract("R1", "O1")
def test_duplicate_async_delivery_gives_one_output_set(target, manifest, evidence) -> None:
    fixture = manifest["standard_720p"]
    job_id = target.new_job_id()
    key = target.upload_file(fixture.path, job_id=job_id)
    target.create_queued_job(job_id, key)
    event = _event(target, job_id, key)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: target.invoke(PROCESSOR, event, asynchronous=True), range(2)))
    assert all(r.status_code == 202 for r in results)
    first = target.wait_for_job(job_id, timeout=120)
    time.sleep(1.0)  # let the second delivery finish too
    job = _assert_final(target, evidence, "duplicate async delivery", job_id, "COMPLETED", fixture=fixture)
    assert job["updated_at"] == first["updated_at"], "the duplicate delivery rewrote the COMPLETED record"


@pytest.mark.contract("R1", "O1")
@pytest.mark.local_only
def test_two_deliveries_released_together_write_as_one(target, manifest, evidence) -> None:
    """The race forced, and judged from the wire: the first DynamoDB call of each delivery is held until
    both have arrived, then every write the function makes for the job is attributed to the delivery
    (request id) that made it. Exactly one delivery may write; a refused conditional write is no write."""
    fixture = manifest["standard_720p"]
    job_id = target.new_job_id()
    key = target.upload_file(fixture.path, job_id=job_id)
    target.create_queued_job(job_id, key)
    event = _event(target, job_id, key)
    with target.fault(service="dynamodb", match=job_id, barrier=2, times=2) as rule:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: target.invoke(PROCESSOR, event, asynchronous=True), range(2)))
        assert all(r.status_code == 202 for r in results)
        target.wait_for_job(job_id, timeout=120)
        target.runtime.wait_idle(30)
    assert rule.released_together == 2, (f"the deliveries' first DynamoDB calls were not released together "
                                         f"({rule.hits} held): the race was not forced")
    wire = target.wire_writes(job_id)
    problems = one_delivery_wrote(wire, job_id)
    assert not problems, problems[0]
    _assert_final(target, evidence, "two deliveries released together (wire: one writer)", job_id, "COMPLETED",
                  fixture=fixture)
    refused = sum(1 for w in wire if not w.wrote)
    evidence.add("reliable", f"two deliveries released together: {sum(1 for w in wire if w.wrote)} writes, all by "
                             f"one delivery; {refused} refused write(s) by the other")


@pytest.mark.contract("R2")
@pytest.mark.local_only
def test_duplicate_of_a_completed_job_writes_nothing(target, manifest, evidence) -> None:
    fixture = manifest["standard_720p"]
    job_id, job = _process(target, fixture)
    assert job["status"] == "COMPLETED", job
    before = {k: target.s3.head_object(Bucket=target.bucket, Key=k)["LastModified"] for k in target.outputs_of(job_id)}
    since = time.time()
    target.invoke(PROCESSOR, _event(target, job_id, job["s3_key"]))   # R2: what it returns is not contract
    target.runtime.wait_idle(30)
    wrote = no_write_after(target.wire_writes(job_id), since)
    assert not wrote, wrote[0]
    after = {k: target.s3.head_object(Bucket=target.bucket, Key=k)["LastModified"] for k in target.outputs_of(job_id)}
    assert after == before, "re-delivering a COMPLETED job rewrote its outputs"
    assert target.get_job(job_id) == job, "re-delivering a COMPLETED job changed its record"
    _row(evidence, target, "redelivery of a COMPLETED job", True, "unchanged, no new writes")


@pytest.mark.contract("R3", "S3")
@pytest.mark.local_only
@pytest.mark.injects("lambda_timeout")
def test_lambda_retry_after_a_transient_error_completes_once(target, manifest, evidence) -> None:
    """The function's first DynamoDB request for the job, whatever call it is (a read, or a
    conditional claim), stalls until the function times out (4 s); Lambda's async retry, with the
    same request id, then completes the job exactly once."""
    fixture = manifest["standard_720p"]
    job_id = target.new_job_id()
    key = target.upload_file(fixture.path, job_id=job_id)
    target.create_queued_job(job_id, key)
    with target.function_config(PROCESSOR, Timeout=4), \
            target.fault(service="dynamodb", match=job_id, delay_s=8.0, times=1) as rule:
        target.invoke(PROCESSOR, _event(target, job_id, key), asynchronous=True)
        target.wait_for_job(job_id, timeout=120)
        target.runtime.wait_idle(30)
    attempts = target.invocations_for_job(job_id)
    assert rule.hits == 1, f"the stall was not injected ({rule.hits} hits)"
    outcomes = [a.outcome for a in attempts]
    allowed = 1 + target.stack.function(PROCESSOR).max_retry_attempts       # terraform's event invoke config
    assert 2 <= len(attempts) <= allowed and outcomes[0] == "timeout" and outcomes[-1] == "success", \
        f"expected a timed-out first attempt and a successful Lambda retry within {allowed} attempts, got {outcomes}"
    assert len({a.request_id for a in attempts}) == 1, "async retries must keep the request id"
    once = finished_once(target.wire_writes(job_id), f"processed/{job_id}/")
    assert not once, once[0]
    _assert_final(target, evidence, "Lambda retry after a transient error", job_id, "COMPLETED", fixture=fixture)


@pytest.mark.contract("L1", "O2")
@pytest.mark.local_only
def test_local_storage_stays_bounded_whatever_the_source_size(target, manifest, evidence) -> None:
    """100 MB through a 64 MB /tmp (a local-only size below AWS's minimum): a processor that
    streams the source and uploads each segment as it closes completes; one that stages the source
    or lets segments pile up runs out of space."""
    fixture = manifest["tier_100mb"]
    with target.function_config(PROCESSOR, EphemeralStorage={"Size": 64}):
        job_id, _job = _process(target, fixture)
    _assert_final(target, evidence, "100 MB source through a 64 MB /tmp", job_id, "COMPLETED", fixture=fixture)
    peak = max((r.max_tmp_bytes for r in target.invocations_for_job(job_id)), default=0)
    evidence.metric("4B peak /tmp bytes for a 100 MB source", peak)
    assert peak <= 64 * 2**20, f"/tmp peaked at {peak / 2**20:.1f} MB"
