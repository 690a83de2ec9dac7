"""Settings from env, and the never-a-bare-500 guarantee."""

from __future__ import annotations

import uuid

from backend_support import RecordingDispatcher, backend_env, make_settings
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.aws import AwsClients
from backend.settings import Settings, default_ffmpeg_path


def test_defaults(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    s = Settings(_env_file=None)
    assert s.PROJECT_NAME == "easy-video-share"
    assert s.USE_LAMBDA_PROCESSING is None and s.ENABLE_TEST_ENDPOINTS is False   # unset: the weight (0) decides
    assert s.LAMBDA_FUNCTION_NAME == "easy-video-share-video-processor"
    assert s.LAMBDA_TEST_FUNCTION_NAME == "easy-video-share-video-processor-test"
    assert s.REDIS_URL == "redis://127.0.0.1:6379/0"
    assert s.SEGMENT_DURATION == 10
    assert s.FFMPEG_PATH == default_ffmpeg_path()
    assert s.processing_method == "weighted"


def test_from_env(monkeypatch):
    monkeypatch.setenv("PROJECT_NAME", "demo")
    monkeypatch.setenv("USE_LAMBDA_PROCESSING", "true")
    monkeypatch.setenv("ENABLE_TEST_ENDPOINTS", "1")
    monkeypatch.setenv("AWS_BUCKET_NAME", "b")
    monkeypatch.setenv("DYNAMODB_TABLE_NAME", "t")
    monkeypatch.setenv("SEGMENT_DURATION", "30")
    monkeypatch.delenv("LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.setenv("LAMBDA_TEST_FUNCTION_NAME", "explicit-test")
    s = Settings(_env_file=None)
    assert s.USE_LAMBDA_PROCESSING is True and s.ENABLE_TEST_ENDPOINTS is True
    assert s.LAMBDA_FUNCTION_NAME == "demo-video-processor"
    assert s.LAMBDA_TEST_FUNCTION_NAME == "explicit-test"
    assert (s.AWS_BUCKET_NAME, s.DYNAMODB_TABLE_NAME, s.SEGMENT_DURATION) == ("b", "t", 30)
    assert s.processing_method == "lambda"


def test_ffmpeg_default_is_pinned_imageio_binary_when_available():
    import imageio_ffmpeg

    assert default_ffmpeg_path() == imageio_ffmpeg.get_ffmpeg_exe()


def test_module_app_imports_without_aws_config():
    import backend.app

    assert backend.app.app.state.settings is not None


def test_unexpected_exception_is_json_500():
    disp = RecordingDispatcher(fail_with=RuntimeError("kaboom"))
    with backend_env(dispatcher=disp) as env:
        r = env.client.post("/api/upload/complete", json={"s3_key": "uploads/a.mp4", "job_id": str(uuid.uuid4())})
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("application/json")
        assert r.json() == {"detail": {"message": "Internal error: RuntimeError"}}


def test_no_region_is_503_naming_the_operation(monkeypatch):
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    client = TestClient(create_app(make_settings(), dispatcher=RecordingDispatcher(), aws=AwsClients()))
    r = client.get(f"/api/jobs/{uuid.uuid4()}/status")
    assert r.status_code == 503
    assert "dynamodb" in r.json()["detail"]["message"] and "region" in r.json()["detail"]["message"]
    # validation still answers first
    assert client.get("/api/jobs/nope/status").status_code == 422


def test_missing_table_on_upload_is_502_naming_putitem():
    with backend_env(DYNAMODB_TABLE_NAME="missing") as env:
        r = env.client.post("/api/upload/complete", json={"s3_key": "uploads/a.mp4", "job_id": str(uuid.uuid4())})
        assert r.status_code == 502
        assert r.json()["detail"]["aws_operation"] == "PutItem"
        assert env.dispatcher.events == []


def test_unconfigured_bucket_is_503_before_any_write():
    with backend_env(AWS_BUCKET_NAME="") as env:
        jid = str(uuid.uuid4())
        r = env.client.post("/api/upload/complete", json={"s3_key": "uploads/a.mp4", "job_id": jid})
        assert r.status_code == 503 and "AWS_BUCKET_NAME" in r.json()["detail"]["message"]
        assert env.job(jid) is None and env.dispatcher.events == []
