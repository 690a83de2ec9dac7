"""Shared helpers for tests/test_backend_*.py (deliberately not a conftest.py).

Puts the repo root and lambda_src/ on sys.path (the launcher normally sets
PYTHONPATH=lambda_src; the backend itself never touches sys.path), and gives
moto-backed AWS resources, a recording Celery dispatcher and a scriptable
fake Lambda client.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, REPO / "lambda_src"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

# moto needs a region and fake keys; never let a test reach real AWS.
for _k, _v in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_k, _v)

from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from moto import mock_aws

from backend.app import create_app
from backend.aws import AwsClients, make_client
from backend.settings import Settings

BUCKET = "evs-test-bucket"
TABLE = "evs-test-jobs"
REGION = "us-east-1"


def make_settings(**overrides: Any) -> Settings:
    """Settings isolated from the developer's env file; explicit values win over env."""
    base: dict[str, Any] = {
        "AWS_BUCKET_NAME": BUCKET,
        "DYNAMODB_TABLE_NAME": TABLE,
        "USE_LAMBDA_PROCESSING": False,
        "ENABLE_TEST_ENDPOINTS": False,
        "PROJECT_NAME": "easy-video-share",
        "LAMBDA_FUNCTION_NAME": "",
        "LAMBDA_TEST_FUNCTION_NAME": "",
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)


def create_aws_resources(region: str = REGION, endpoint_url: str | None = None) -> tuple[Any, Any]:
    """Bucket + jobs table (hash key video_id), as Terraform makes them."""
    kw: dict[str, Any] = {"region_name": region}
    if endpoint_url:
        kw["endpoint_url"] = endpoint_url
    s3 = make_client("s3", **kw)
    ddb = make_client("dynamodb", **kw)
    s3.create_bucket(Bucket=BUCKET)
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "video_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "video_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return s3, ddb


class RecordingDispatcher:
    """Stands in for process_video_task.delay: records events, returns fake task ids."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail_with = fail_with

    def __call__(self, event: dict[str, Any]) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.events.append(event)
        return f"task-{len(self.events)}"


Outcome = dict[str, Any] | BaseException | Callable[[dict[str, Any]], Any]


class FakeLambdaClient:
    """Scriptable boto3-like Lambda client: each invoke pops the next outcome.

    An outcome is a response dict (Payload may be given as a JSON-able object),
    an exception to raise, or a callable(kwargs) returning either.
    """

    def __init__(self, *outcomes: Outcome, default: Outcome | None = None) -> None:
        self.outcomes = list(outcomes)
        self.default = default
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        outcome = self.outcomes.pop(0) if self.outcomes else self.default
        if outcome is None:
            outcome = {"StatusCode": 202 if kwargs.get("InvocationType") == "Event" else 200, "Payload": {}}
        if callable(outcome) and not isinstance(outcome, BaseException):
            outcome = outcome(kwargs)
        if isinstance(outcome, BaseException):
            raise outcome
        resp = dict(outcome)
        payload = resp.get("Payload", b"")
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode()
        resp["Payload"] = io.BytesIO(payload)
        resp.setdefault("ResponseMetadata", {"RequestId": "req-123", "HTTPStatusCode": resp.get("StatusCode", 200)})
        return resp

    def payloads(self) -> list[Any]:
        return [json.loads(c["Payload"]) for c in self.calls]


def client_error(code: str, message: str = "boom", operation: str = "Invoke", http: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": http}}, operation)


class Env:
    """One app under test: TestClient plus the fakes and moto clients behind it."""

    def __init__(self, client: TestClient, settings: Settings, s3: Any, ddb: Any, lam: FakeLambdaClient, dispatcher: RecordingDispatcher) -> None:
        self.client = client
        self.settings = settings
        self.s3 = s3
        self.ddb = ddb
        self.lam = lam
        self.dispatcher = dispatcher

    def job(self, job_id: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=TABLE, Key={"video_id": {"S": job_id}}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        from boto3.dynamodb.types import TypeDeserializer

        d = TypeDeserializer()
        return {k: d.deserialize(v) for k, v in item.items()}

    def put_job(self, job_id: str, **attrs: Any) -> None:
        from boto3.dynamodb.types import TypeSerializer

        s = TypeSerializer()
        item = {"video_id": job_id, **attrs}
        self.ddb.put_item(TableName=TABLE, Item={k: s.serialize(v) for k, v in item.items()})


@contextmanager
def backend_env(
    lam: FakeLambdaClient | None = None,
    dispatcher: RecordingDispatcher | None = None,
    **settings_overrides: Any,
) -> Iterator[Env]:
    """moto (in-process) DynamoDB + S3, fake Lambda, recording dispatcher, TestClient."""
    with mock_aws():
        s3, ddb = create_aws_resources()
        settings = make_settings(**settings_overrides)
        lam = lam if lam is not None else FakeLambdaClient()
        dispatcher = dispatcher if dispatcher is not None else RecordingDispatcher()
        app = create_app(settings, dispatcher=dispatcher, aws=AwsClients(s3=s3, dynamodb=ddb, lambda_client=lam))
        with TestClient(app, raise_server_exceptions=True) as client:
            yield Env(client, settings, s3, ddb, lam, dispatcher)
