"""Test endpoints: absent by default; sync test invoke and Lambda-only processing."""

from __future__ import annotations

import json
import socket
import uuid

import boto3
import pytest
from backend_support import FakeLambdaClient, backend_env, client_error, make_settings
from botocore.config import Config as BotoConfig
from botocore.exceptions import EndpointConnectionError
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.aws import AwsClients

TEST_PATHS = ["/api/test/lambda", "/api/test/lambda-processing", "/api/admin/processing-method"]


@pytest.mark.parametrize("path", TEST_PATHS)
def test_test_endpoints_are_404_by_default(path):
    with backend_env() as env:
        assert env.client.post(path, json={"s3_key": "uploads/a.mp4", "use_lambda": True}).status_code == 404
    assert env.lam.calls == []


def test_default_settings_disable_test_endpoints(monkeypatch):
    monkeypatch.delenv("ENABLE_TEST_ENDPOINTS", raising=False)
    client = TestClient(create_app(make_settings(ENABLE_TEST_ENDPOINTS=False)))
    assert client.post("/api/test/lambda").status_code == 404


def test_sync_invoke_success():
    lam = FakeLambdaClient({"StatusCode": 200, "Payload": {"ok": True, "ffmpeg": "7.0.2"}, "ExecutedVersion": "$LATEST"})
    with backend_env(lam, ENABLE_TEST_ENDPOINTS=True) as env:
        r = env.client.post("/api/test/lambda")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "status": "success",
            "function_name": "easy-video-share-video-processor-test",
            "lambda_response": {"ok": True, "ffmpeg": "7.0.2"},
            "status_code": 200,
        }
        (call,) = lam.calls
        assert call["InvocationType"] == "RequestResponse"
        assert call["FunctionName"] == "easy-video-share-video-processor-test"


def test_sync_invoke_sends_given_payload():
    with backend_env(ENABLE_TEST_ENDPOINTS=True, LAMBDA_TEST_FUNCTION_NAME="custom-test-fn") as env:
        env.lam.default = {"StatusCode": 200, "Payload": {"echo": 1}}
        r = env.client.post("/api/test/lambda", json={"payload": {"mode": "ffmpeg_version"}})
        assert r.status_code == 200
        assert env.lam.payloads() == [{"mode": "ffmpeg_version"}]
        assert env.lam.calls[0]["FunctionName"] == "custom-test-fn"


def test_function_error_is_502_with_type_and_message():
    lam = FakeLambdaClient(
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": {"errorType": "KeyError", "errorMessage": "'job_id'", "stackTrace": []},
        }
    )
    with backend_env(lam, ENABLE_TEST_ENDPOINTS=True) as env:
        r = env.client.post("/api/test/lambda")
        assert r.status_code == 502
        detail = r.json()["detail"]
        assert detail["message"] == "Lambda function error: KeyError: 'job_id'"
        assert detail["function_error"] == "Unhandled"
        assert detail["lambda_response"]["errorType"] == "KeyError"


def test_reported_error_status_code_is_not_a_200():
    lam = FakeLambdaClient({"StatusCode": 200, "Payload": {"statusCode": 500, "body": "ffmpeg missing"}})
    with backend_env(lam, ENABLE_TEST_ENDPOINTS=True) as env:
        r = env.client.post("/api/test/lambda")
        assert r.status_code == 502 and "statusCode 500" in r.json()["detail"]["message"]


def test_function_not_found_names_the_function():
    lam = FakeLambdaClient(client_error("ResourceNotFoundException", "Function not found: arn:aws:lambda:...", http=404))
    with backend_env(lam, ENABLE_TEST_ENDPOINTS=True) as env:
        r = env.client.post("/api/test/lambda")
        assert r.status_code == 502
        assert "'easy-video-share-video-processor-test' not found" in r.json()["detail"]["message"]


def test_throttled_is_429():
    lam = FakeLambdaClient(client_error("TooManyRequestsException", "Rate exceeded", http=429))
    with backend_env(lam, ENABLE_TEST_ENDPOINTS=True) as env:
        r = env.client.post("/api/test/lambda")
        assert r.status_code == 429 and "throttled" in r.json()["detail"]["message"]
        assert r.headers.get("Retry-After")


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_lambda_endpoint_is_503_with_a_real_client():
    real = boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{_closed_port()}",
        config=BotoConfig(connect_timeout=1, retries={"max_attempts": 1}),
    )
    settings = make_settings(ENABLE_TEST_ENDPOINTS=True)
    client = TestClient(create_app(settings, dispatcher=lambda e: "x", aws=AwsClients(lambda_client=real)))
    r = client.post("/api/test/lambda")
    assert r.status_code == 503
    detail = r.json()["detail"]
    assert "could not reach the endpoint" in detail["message"] and detail["aws_operation"] == "Invoke"
    assert detail["function_name"] == "easy-video-share-video-processor-test"


def test_lambda_processing_records_queued_then_invokes_async():
    seen = {}

    def check(kwargs):
        seen["job"] = env.job(json.loads(kwargs["Payload"])["job_id"])
        return {"StatusCode": 202}

    with backend_env(FakeLambdaClient(check), ENABLE_TEST_ENDPOINTS=True) as env:
        r = env.client.post("/api/test/lambda-processing", json={"s3_key": "uploads/x.mp4", "segment_duration": 2.5})
        assert r.status_code == 202, r.text
        data = r.json()
        job_id = data["job_id"]
        uuid.UUID(job_id)
        assert data["status"] == "processing_started"
        assert data["check_status_url"] == f"/api/jobs/{job_id}/status"
        assert seen["job"]["status"] == "QUEUED" and seen["job"]["processing_method"] == "lambda"
        (call,) = env.lam.calls
        assert call["InvocationType"] == "Event" and call["FunctionName"] == "easy-video-share-video-processor"
        assert json.loads(call["Payload"])["segment_duration"] == 2.5
        assert env.dispatcher.events == []


def test_lambda_processing_ignores_flag_and_never_falls_back():
    lam = FakeLambdaClient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    with backend_env(lam, ENABLE_TEST_ENDPOINTS=True, USE_LAMBDA_PROCESSING=False) as env:
        r = env.client.post("/api/test/lambda-processing", json={"s3_key": "uploads/x.mp4"})
        assert r.status_code == 502
        detail = r.json()["detail"]
        assert "easy-video-share-video-processor" in detail["message"]
        job = env.job(detail["job_id"])
        assert job["status"] == "FAILED" and "could not reach the endpoint" in job["error_message"]
        assert env.dispatcher.events == []
        status = env.client.get(f"/api/jobs/{detail['job_id']}/status").json()
        assert status["status"] == "FAILED" and status["error_message"] == job["error_message"]
