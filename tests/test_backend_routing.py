"""POST /api/upload/complete: record first, route by flag, fall back to Celery."""

from __future__ import annotations

import json
import uuid

from backend_support import BUCKET, FakeLambdaClient, RecordingDispatcher, backend_env, client_error
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from backend.dispatch import DispatchError

KEY = "uploads/user-1/video.mp4"


def body(job_id: str | None = None, **extra):
    return {"s3_key": KEY, "job_id": job_id or str(uuid.uuid4()), **extra}


def test_flag_off_routes_to_celery_and_records_queued_job():
    with backend_env() as env:
        b = body(segment_duration=15)
        r = env.client.post("/api/upload/complete", json=b)
        assert r.status_code == 202, r.text
        assert r.json() == {
            "status": "processing_started",
            "job_id": b["job_id"],
            "processing_method": "celery",
            "check_status_url": f"/api/jobs/{b['job_id']}/status",
            "task_id": "task-1",
            "rollout_weight": 0,
            "routed_by": "kill-switch",
        }
        assert env.dispatcher.events == [
            {"job_id": b["job_id"], "s3_bucket": BUCKET, "s3_key": KEY, "segment_duration": 15}
        ]
        assert env.lam.calls == []
        job = env.job(b["job_id"])
        assert job["status"] == "QUEUED" and job["processing_method"] == "celery" and job["s3_key"] == KEY
        assert (job["rollout_weight"], job["routed_by"]) == (0, "kill-switch")
        assert job["created_at"] == job["updated_at"] and job["created_at"].endswith("Z")


def test_flag_on_routes_to_lambda_async_with_the_processor_contract():
    with backend_env(USE_LAMBDA_PROCESSING=True) as env:
        b = body()
        r = env.client.post("/api/upload/complete", json=b)
        assert r.status_code == 202, r.text
        assert r.json()["processing_method"] == "lambda"
        assert env.dispatcher.events == []
        (call,) = env.lam.calls
        assert call["FunctionName"] == "easy-video-share-video-processor"
        assert call["InvocationType"] == "Event"
        assert env.lam.payloads() == [{"job_id": b["job_id"], "s3_bucket": BUCKET, "s3_key": KEY, "segment_duration": 10}]
        assert env.job(b["job_id"])["processing_method"] == "lambda"


def test_record_exists_as_queued_before_the_invoke():
    seen = {}

    def check(kwargs):
        seen["job"] = env.job(json.loads(kwargs["Payload"])["job_id"])
        return {"StatusCode": 202}

    with backend_env(FakeLambdaClient(check), USE_LAMBDA_PROCESSING=True) as env:
        assert env.client.post("/api/upload/complete", json=body()).status_code == 202
    assert seen["job"]["status"] == "QUEUED"


def test_flag_is_read_per_request():
    with backend_env() as env:
        assert env.client.post("/api/upload/complete", json=body()).json()["processing_method"] == "celery"
        env.settings.USE_LAMBDA_PROCESSING = True
        assert env.client.post("/api/upload/complete", json=body()).json()["processing_method"] == "lambda"
        assert env.client.get("/api/health").json()["processing_method"] == "lambda"
        env.client.app.state.settings.USE_LAMBDA_PROCESSING = False
        assert env.client.post("/api/upload/complete", json=body()).json()["processing_method"] == "celery"
        assert len(env.dispatcher.events) == 2 and len(env.lam.calls) == 1


def _assert_fell_back(env, r, job_id, reason_part):
    assert r.status_code == 202, r.text
    data = r.json()
    assert data["processing_method"] == "celery"
    assert reason_part in data["fallback_reason"]
    assert [e["job_id"] for e in env.dispatcher.events] == [job_id]
    job = env.job(job_id)
    assert job["status"] == "QUEUED"
    assert job["processing_method"] == "celery"
    assert reason_part in job["fallback_reason"]
    assert "easy-video-share-video-processor" in job["fallback_reason"]


def test_fallback_to_celery_on_client_error():
    lam = FakeLambdaClient(client_error("ResourceNotFoundException", "Function not found"))
    with backend_env(lam, USE_LAMBDA_PROCESSING=True) as env:
        b = body()
        _assert_fell_back(env, env.client.post("/api/upload/complete", json=b), b["job_id"], "ResourceNotFoundException")


def test_fallback_to_celery_when_lambda_unreachable():
    lam = FakeLambdaClient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1/"))
    with backend_env(lam, USE_LAMBDA_PROCESSING=True) as env:
        b = body()
        _assert_fell_back(env, env.client.post("/api/upload/complete", json=b), b["job_id"], "could not reach the endpoint")


def test_fallback_to_celery_on_non_202():
    lam = FakeLambdaClient({"StatusCode": 200})
    with backend_env(lam, USE_LAMBDA_PROCESSING=True) as env:
        b = body()
        _assert_fell_back(env, env.client.post("/api/upload/complete", json=b), b["job_id"], "StatusCode 200")


def test_fallback_to_celery_on_any_exception():
    lam = FakeLambdaClient(RuntimeError("socket exploded"))
    with backend_env(lam, USE_LAMBDA_PROCESSING=True) as env:
        b = body()
        _assert_fell_back(env, env.client.post("/api/upload/complete", json=b), b["job_id"], "RuntimeError")


def test_no_fallback_when_the_function_claimed_the_job_despite_the_error():
    """A read timeout can hide a delivered event: if the job left QUEUED, don't run it twice."""

    def claimed_then_timeout(kwargs):
        job_id = json.loads(kwargs["Payload"])["job_id"]
        env.put_job(job_id, status="PROCESSING", processing_method="lambda", s3_key=KEY)
        return ReadTimeoutError(endpoint_url="http://lambda")

    with backend_env(FakeLambdaClient(claimed_then_timeout), USE_LAMBDA_PROCESSING=True) as env:
        b = body()
        r = env.client.post("/api/upload/complete", json=b)
        assert r.status_code == 202 and r.json()["processing_method"] == "lambda"
        assert env.dispatcher.events == []
        assert env.job(b["job_id"])["status"] == "PROCESSING"


def test_existing_job_id_is_409_and_nothing_is_dispatched_twice():
    with backend_env() as env:
        b = body()
        assert env.client.post("/api/upload/complete", json=b).status_code == 202
        r = env.client.post("/api/upload/complete", json={**b, "s3_key": "uploads/other.mp4"})
        assert r.status_code == 409
        assert b["job_id"] in r.json()["detail"]["message"]
        assert len(env.dispatcher.events) == 1
        assert env.job(b["job_id"])["s3_key"] == KEY


def test_broker_down_is_503_and_job_marked_failed():
    disp = RecordingDispatcher(fail_with=DispatchError("could not queue Celery task: OperationalError: refused"))
    with backend_env(dispatcher=disp) as env:
        b = body()
        r = env.client.post("/api/upload/complete", json=b)
        assert r.status_code == 503
        assert "Celery broker unavailable" in r.json()["detail"]["message"]
        job = env.job(b["job_id"])
        assert job["status"] == "FAILED" and "OperationalError" in job["error_message"]


def test_extra_fields_ignored_and_uuid_normalised():
    with backend_env() as env:
        jid = uuid.uuid4()
        r = env.client.post(
            "/api/upload/complete",
            json={"s3_key": KEY, "job_id": str(jid).upper(), "filename": "v.mp4", "size": 12},
        )
        assert r.status_code == 202, r.text
        assert r.json()["job_id"] == str(jid)
        assert env.job(str(jid)) is not None


def test_admin_processing_method_drill():
    with backend_env(ENABLE_TEST_ENDPOINTS=True) as env:
        r = env.client.post("/api/admin/processing-method", json={"use_lambda": True})
        assert r.status_code == 200 and r.json()["processing_method"] == "lambda"
        assert env.client.post("/api/upload/complete", json=body()).json()["processing_method"] == "lambda"
        r = env.client.post("/api/admin/processing-method", json={"use_lambda": False})
        assert r.json()["previous_processing_method"] == "lambda"
        assert env.client.post("/api/upload/complete", json=body()).json()["processing_method"] == "celery"
        assert env.client.post("/api/admin/processing-method", json={"use_lambda": "yes"}).status_code == 422


def test_health():
    with backend_env() as env:
        assert env.client.get("/api/health").json() == {"status": "ok", "processing_method": "celery", "test_endpoints": False}
    with backend_env(USE_LAMBDA_PROCESSING=True, ENABLE_TEST_ENDPOINTS=True) as env:
        assert env.client.get("/api/health").json() == {"status": "ok", "processing_method": "lambda", "test_endpoints": True}
