"""Step 3B: job status moves forward only, through conditional writes, and survives throttling."""
from __future__ import annotations

from datetime import datetime

import pytest

from harness.local.awsreq import DYNAMODB_WRITES

STATUS = "job_status"


def _create_queued(target) -> str:
    job_id = target.new_job_id()
    target.create_queued_job(job_id)
    return job_id


def _move(target, job_id: str, status: str, **extra):
    return target.invoke(STATUS, {"job_id": job_id, "status": status, **extra})


@pytest.mark.contract("T5", "S1", "J2")
def test_status_moves_forward_with_increasing_updated_at(target, evidence) -> None:
    job_id = _create_queued(target)
    stamps = [target.get_job(job_id)["updated_at"]]
    for status in ("PROCESSING", "COMPLETED"):
        result = _move(target, job_id, status)
        assert result.ok, f"{status} refused: {result.payload}"
        job = target.get_job(job_id)
        assert job["status"] == status, job
        stamps.append(job["updated_at"])
    assert all(s.endswith("Z") and "T" in s for s in stamps[1:]), stamps
    times = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps]     # parsed: '..:00.5Z' < '..:01Z'
    assert all(a < b for a, b in zip(times, times[1:])), f"updated_at not increasing: {stamps}"
    evidence.add("works", "QUEUED -> PROCESSING -> COMPLETED with increasing ISO-8601 UTC updated_at")


@pytest.mark.parametrize("start,back", [("PROCESSING", "QUEUED"), ("COMPLETED", "PROCESSING"),
                                        ("COMPLETED", "FAILED"), ("COMPLETED", "QUEUED")])
@pytest.mark.contract("T5", "S1", "S2")
def test_backwards_or_overwriting_transition_is_refused(target, evidence, start, back) -> None:
    job_id = _create_queued(target)
    for status in ("PROCESSING", "COMPLETED")[: ("PROCESSING", "COMPLETED").index(start) + 1]:
        assert _move(target, job_id, status).ok
    before = target.get_job(job_id)
    result = _move(target, job_id, back, error_message="should not land")
    assert result.function_error, f"{start} -> {back} was accepted: {result.payload}"
    assert result.payload.get("errorType") == "TransitionRefused", result.payload
    after = target.get_job(job_id)
    assert after == before, f"refused transition still changed the record: {before} -> {after}"
    evidence.add("reliable", f"{start} -> {back} refused by the conditional write; record unchanged")


@pytest.mark.contract("T5", "R4")
@pytest.mark.local_only
@pytest.mark.injects("dynamodb_throttling")
def test_throttled_status_write_is_retried_and_succeeds(target, evidence) -> None:
    """Throttling is injected at the embedded DynamoDB endpoint: the first two writes of this job, whichever
    call makes them (PutItem, UpdateItem, TransactWriteItems, BatchWriteItem), are throttled."""
    job_id = _create_queued(target)
    with target.fault(service="dynamodb", operation=DYNAMODB_WRITES, match=job_id,
                      error="ProvisionedThroughputExceededException", times=2) as rule:
        result = _move(target, job_id, "PROCESSING")
    assert result.ok, f"throttled write was not retried to success: {result.payload}"
    assert rule.hits >= 1, "no DynamoDB write of the job was throttled: the drill proved nothing"
    assert target.get_job(job_id)["status"] == "PROCESSING"
    evidence.add("reliable", f"{rule.hits} injected ProvisionedThroughputExceeded error(s) on the job's writes "
                             "were retried; the write landed")
