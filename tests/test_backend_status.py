"""GET /api/jobs/{id}/status: 404 unknown, 422 malformed, presigned URLs once COMPLETED."""

from __future__ import annotations

import uuid
from datetime import UTC
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

from backend_support import BUCKET, backend_env


def test_unknown_job_is_404_naming_the_id():
    with backend_env() as env:
        jid = str(uuid.uuid4())
        r = env.client.get(f"/api/jobs/{jid}/status")
        assert r.status_code == 404
        assert jid in r.json()["detail"]["message"]


def test_malformed_id_is_422_naming_the_field():
    with backend_env() as env:
        r = env.client.get("/api/jobs/not-a-uuid/status")
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["path", "job_id"]


def test_queued_job_from_upload_has_no_urls():
    with backend_env() as env:
        jid = str(uuid.uuid4())
        env.client.post("/api/upload/complete", json={"s3_key": "uploads/a.mp4", "job_id": jid})
        data = env.client.get(f"/api/jobs/{jid}/status").json()
        assert data["status"] == "QUEUED"
        assert data["segments"] == [] and data["download_urls"] == [] and data["segments_created"] == 0
        assert data["processing_method"] == "celery"
        assert data["error_message"] is None and data["processing_duration_seconds"] is None


def test_completed_job_has_presigned_get_urls():
    with backend_env() as env:
        jid = str(uuid.uuid4())
        keys = [f"processed/{jid}/segment_{i:03d}.mp4" for i in range(3)]
        env.put_job(
            jid,
            status="COMPLETED",
            created_at="2025-01-01T00:00:00.000000Z",
            updated_at="2025-01-01T00:00:09.500000Z",
            s3_key="uploads/a.mp4",
            output_s3_urls=keys,
            segments_created=3,
            processing_duration_seconds=Decimal("9.5"),
            processing_method="lambda",
        )
        r = env.client.get(f"/api/jobs/{jid}/status")
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["status"] == "COMPLETED"
        assert data["segments"] == keys and data["segments_created"] == 3
        assert data["processing_duration_seconds"] == 9.5
        assert data["processing_method"] == "lambda"
        assert len(data["download_urls"]) == 3
        for key, url in zip(keys, data["download_urls"]):
            parsed = urlparse(url)
            assert key in parsed.path and (BUCKET in parsed.netloc or BUCKET in parsed.path)
            assert "X-Amz-Signature" in parse_qs(parsed.query)


def test_failed_job_shows_error_and_no_urls():
    with backend_env() as env:
        jid = str(uuid.uuid4())
        env.put_job(jid, status="FAILED", error_message="ffmpeg exited 1", output_s3_urls=[f"processed/{jid}/segment_000.mp4"])
        data = env.client.get(f"/api/jobs/{jid}/status").json()
        assert data["status"] == "FAILED" and data["error_message"] == "ffmpeg exited 1"
        assert data["download_urls"] == []


def test_missing_table_is_a_clear_502_naming_the_operation():
    with backend_env(DYNAMODB_TABLE_NAME="no-such-table") as env:
        r = env.client.get(f"/api/jobs/{uuid.uuid4()}/status")
        assert r.status_code == 502
        detail = r.json()["detail"]
        assert detail["aws_operation"] == "GetItem" and "ResourceNotFoundException" in detail["message"]


def test_unconfigured_table_is_503_naming_the_setting():
    with backend_env(DYNAMODB_TABLE_NAME="") as env:
        r = env.client.get(f"/api/jobs/{uuid.uuid4()}/status")
        assert r.status_code == 503 and "DYNAMODB_TABLE_NAME" in r.json()["detail"]["message"]


def test_a_job_processing_past_the_timeout_is_reported_failed_as_stale():
    with backend_env(PROCESSING_STALE_AFTER_SECONDS=60) as env:
        jid = str(uuid.uuid4())
        env.put_job(jid, status="PROCESSING", created_at="2025-01-01T00:00:00.000000Z",
                    updated_at="2025-01-01T00:00:01.000000Z", s3_key="uploads/a.mp4")
        data = env.client.get(f"/api/jobs/{jid}/status").json()
        assert data["status"] == "FAILED"
        assert data["error_message"].startswith("Stale: PROCESSING for ")
        assert data["updated_at"] > "2025-01-01T00:00:01.000000Z"


def test_a_recent_processing_job_and_a_completed_one_are_left_alone():
    from datetime import datetime

    with backend_env(PROCESSING_STALE_AFTER_SECONDS=60) as env:
        fresh, done = str(uuid.uuid4()), str(uuid.uuid4())
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        env.put_job(fresh, status="PROCESSING", created_at=now, updated_at=now, s3_key="uploads/a.mp4")
        env.put_job(done, status="COMPLETED", created_at="2025-01-01T00:00:00.000000Z",
                    updated_at="2025-01-01T00:00:01.000000Z", s3_key="uploads/a.mp4",
                    output_s3_urls=[f"processed/{done}/segment_000.mp4"], segments_created=1)
        assert env.client.get(f"/api/jobs/{fresh}/status").json()["status"] == "PROCESSING"
        assert env.client.get(f"/api/jobs/{done}/status").json()["status"] == "COMPLETED"


def test_a_stale_write_never_clobbers_a_completed_that_landed_meanwhile():
    """The conditional write names the record it judged: a COMPLETED written between read and write wins."""
    with backend_env(PROCESSING_STALE_AFTER_SECONDS=60) as env:
        from backend.aws import JobStore

        jid = str(uuid.uuid4())
        env.put_job(jid, status="PROCESSING", created_at="2025-01-01T00:00:00.000000Z",
                    updated_at="2025-01-01T00:00:01.000000Z", s3_key="uploads/a.mp4")
        env.put_job(jid, status="COMPLETED", created_at="2025-01-01T00:00:00.000000Z",
                    updated_at="2025-01-01T00:00:09.000000Z", s3_key="uploads/a.mp4",
                    output_s3_urls=[f"processed/{jid}/segment_000.mp4"], segments_created=1)
        store = JobStore(env.ddb, env.settings.DYNAMODB_TABLE_NAME)
        assert store.mark_stale(jid, "2025-01-01T00:00:01.000000Z", "Stale: test") is False
        assert env.client.get(f"/api/jobs/{jid}/status").json()["status"] == "COMPLETED"


def test_version_endpoint_reports_the_hash_the_harness_computes_of_the_same_source() -> None:
    """CONTRACT B6: the backend's own digest is the harness's tree hash of backend/*.py, so they compare."""
    from pathlib import Path

    from backend.version import code_sha256
    from harness.tell.ledger import tree_sha256

    root = Path(__file__).resolve().parents[1] / "backend"
    assert code_sha256() == tree_sha256(root, ("*.py",))
