"""The DynamoDB adapter's conditional writes, against moto's in-process mock."""

from __future__ import annotations

from typing import Any

import lambda_support as ls
import pytest
from moto import mock_aws
from video_processor.errors import TransitionRefused
from video_processor.jobs import JobStore
from video_processor.status import ClaimDecision

JOB = "0b6f4a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in ls.FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3, dynamodb = ls.clients()
        ls.create_resources(s3, dynamodb, ls.make_config("videos", "jobs"))
        yield dynamodb


def record(db: Any) -> dict[str, Any] | None:
    return ls.get_record(db, "jobs", JOB)


def test_claim_creates_processing_record(db: Any) -> None:
    claim = JobStore(db, "jobs").claim(JOB, "req-1", "lambda")
    assert claim.decision is ClaimDecision.CLAIM and claim.previous_status is None
    rec = record(db)
    assert rec["status"] == "PROCESSING"
    assert rec["request_id"] == "req-1" and rec["processing_method"] == "lambda"
    assert rec["created_at"] == rec["updated_at"] == claim.updated_at


def test_claim_from_queued_keeps_created_at(db: Any) -> None:
    ls.put_record(db, "jobs", JOB, status="QUEUED", created_at="2026-01-01T00:00:00.000000Z")
    claim = JobStore(db, "jobs").claim(JOB, "req-1", "celery")
    assert claim.previous_status == "QUEUED"
    rec = record(db)
    assert rec["created_at"] == "2026-01-01T00:00:00.000000Z"
    assert rec["processing_method"] == "celery"


@pytest.mark.parametrize(("existing", "request_id"), [
    ({"status": "PROCESSING", "request_id": "other"}, "req-1"),
    ({"status": "COMPLETED", "request_id": "req-1"}, "req-1"),
    ({"status": "FAILED", "request_id": "req-1"}, "req-1"),
])
def test_duplicates_write_nothing(db: Any, existing: dict[str, str], request_id: str) -> None:
    ls.put_record(db, "jobs", JOB, updated_at="2026-01-01T00:00:00.000000Z", **existing)
    before = record(db)
    claim = JobStore(db, "jobs").claim(JOB, request_id, "lambda")
    assert claim.decision is ClaimDecision.DUPLICATE and claim.updated_at is None
    assert record(db) == before


def test_same_request_takes_over(db: Any) -> None:
    ls.put_record(db, "jobs", JOB, status="PROCESSING", request_id="req-1", updated_at="2026-01-01T00:00:00.000000Z")
    claim = JobStore(db, "jobs").claim(JOB, "req-1", "lambda")
    assert claim.decision is ClaimDecision.TAKEOVER
    assert record(db)["updated_at"] > "2026-01-01T00:00:00.000000Z"


def test_complete_then_nothing_overwrites_it(db: Any) -> None:
    store = JobStore(db, "jobs")
    claim = store.claim(JOB, "req-1", "lambda")
    done_at = store.complete(JOB, "req-1", after=claim.updated_at, output_keys=["processed/a", "processed/b"],
                             processing_duration_seconds=1.5)
    rec = record(db)
    assert rec["status"] == "COMPLETED" and rec["output_s3_urls"] == ["processed/a", "processed/b"]
    assert rec["segments_created"] == 2 and float(rec["processing_duration_seconds"]) == 1.5
    assert done_at > claim.updated_at
    # a repeated complete by the same request is idempotent, everything else is refused
    assert store.complete(JOB, "req-1", after=None, output_keys=["x"], processing_duration_seconds=0) == done_at
    with pytest.raises(TransitionRefused, match="COMPLETED -> COMPLETED"):
        store.complete(JOB, "req-2", after=None, output_keys=["x"], processing_duration_seconds=0)
    with pytest.raises(TransitionRefused, match="COMPLETED -> FAILED"):
        store.fail(JOB, "late failure", request_id="req-1")
    with pytest.raises(TransitionRefused):
        store.transition(JOB, "PROCESSING")
    assert record(db) == rec


def test_fail_requires_ownership(db: Any) -> None:
    store = JobStore(db, "jobs")
    store.claim(JOB, "req-1", "lambda")
    with pytest.raises(TransitionRefused):
        store.fail(JOB, "not mine", request_id="req-2")
    store.fail(JOB, "mine", request_id="req-1")
    assert record(db)["status"] == "FAILED" and record(db)["error_message"] == "mine"


def test_transition_chain_timestamps_strictly_increase(db: Any) -> None:
    store = JobStore(db, "jobs")
    stamps = []
    for target, previous in [("QUEUED", None), ("PROCESSING", "QUEUED"), ("FAILED", "PROCESSING")]:
        got_previous, stamp = store.transition(JOB, target, error_message="boom")
        assert got_previous == previous
        stamps.append(stamp)
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert record(db)["error_message"] == "boom"


def test_updated_at_moves_past_a_future_record(db: Any) -> None:
    ls.put_record(db, "jobs", JOB, status="QUEUED", updated_at="2999-01-01T00:00:00.000000Z")
    _, stamp = JobStore(db, "jobs").transition(JOB, "PROCESSING")
    assert stamp == "2999-01-01T00:00:00.000001Z"


def test_lost_race_rereads_and_decides_again(db: Any) -> None:
    """Another writer claims between our read and our conditional write: we end up DUPLICATE."""
    ls.put_record(db, "jobs", JOB, status="QUEUED", updated_at="2026-01-01T00:00:00.000000Z")

    class Racing:
        def __init__(self, inner: Any) -> None:
            self.inner, self.raced = inner, False

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def update_item(self, **kwargs: Any) -> Any:
            if not self.raced:
                self.raced = True
                JobStore(self.inner, "jobs").claim(JOB, "someone-else", "celery")
            return self.inner.update_item(**kwargs)

    claim = JobStore(Racing(db), "jobs").claim(JOB, "req-1", "lambda")
    assert claim.decision is ClaimDecision.DUPLICATE
    assert record(db)["request_id"] == "someone-else"
