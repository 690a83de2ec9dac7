"""The backend's consumer of the processor's on-failure destination (real moto SQS and DynamoDB)."""
from __future__ import annotations

import json
import uuid

import boto3
from backend_support import BUCKET, REGION, backend_env

from backend.aws import JobStore
from backend.failures import FailureConsumer, output_cleaner, reason_of


def record(job_id: str, error_type: str = "Runtime.OutOfMemory") -> dict:
    return {"version": "1.0", "timestamp": "2026-11-29T08:00:00.000Z",
            "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:us-east-1:1:function:p:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": {"job_id": job_id, "s3_key": "uploads/a.mp4"},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": error_type,
                                "errorMessage": "RequestId: r-1 Error: Runtime exited with error: signal: killed"}}


def test_reason_names_lambdas_error_type_and_the_condition() -> None:
    assert reason_of(record("j")) == ("Runtime.OutOfMemory: RequestId: r-1 Error: Runtime exited with error: "
                                      "signal: killed (RetriesExhausted after 3 attempts)")


def test_the_consumer_fails_queued_and_processing_jobs_and_never_touches_a_finished_one() -> None:
    with backend_env() as env:
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="failures")["QueueUrl"]
        store = JobStore(env.ddb, env.settings.DYNAMODB_TABLE_NAME)
        ids = {s: str(uuid.uuid4()) for s in ("QUEUED", "PROCESSING", "COMPLETED")}
        for status, jid in ids.items():
            env.put_job(jid, status=status, created_at="2025-01-01T00:00:00.000000Z",
                        updated_at="2025-01-01T00:00:01.000000Z", s3_key="uploads/a.mp4")
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record(jid)))
        sqs.send_message(QueueUrl=url, MessageBody="not json")
        consumer = FailureConsumer(sqs, url, store, wait_s=0)
        handled = 0
        for _ in range(10):
            handled += consumer.poll_once()
            if handled >= 4:
                break
        assert handled == 4
        assert env.job(ids["QUEUED"])["status"] == "FAILED"
        assert env.job(ids["PROCESSING"])["error_message"].startswith("Runtime.OutOfMemory: ")
        assert env.job(ids["COMPLETED"])["status"] == "COMPLETED"
        assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None


def test_a_job_failed_from_the_destination_loses_its_partial_outputs_and_a_completed_one_keeps_them() -> None:
    """A crash after segment_000 landed: the function could not clean up, so the consumer does (CONTRACT F3)."""
    with backend_env() as env:
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="failures-cleanup")["QueueUrl"]
        store = JobStore(env.ddb, env.settings.DYNAMODB_TABLE_NAME)
        crashed, done = str(uuid.uuid4()), str(uuid.uuid4())
        for jid, status in ((crashed, "PROCESSING"), (done, "COMPLETED")):
            env.put_job(jid, status=status, created_at="2025-01-01T00:00:00.000000Z",
                        updated_at="2025-01-01T00:00:01.000000Z", s3_key="uploads/a.mp4")
            env.s3.put_object(Bucket=BUCKET, Key=f"processed/{jid}/segment_000.mp4", Body=b"x")
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record(jid, "Runtime.ExitError")))
        env.s3.put_object(Bucket=BUCKET, Key=f"processed/{crashed}-other/segment_000.mp4", Body=b"y")
        consumer = FailureConsumer(sqs, url, store, wait_s=0, cleanup=output_cleaner(env.s3, BUCKET))
        handled = 0
        for _ in range(10):
            handled += consumer.poll_once()
            if handled >= 2:
                break
        keys = sorted(o["Key"] for o in env.s3.list_objects_v2(Bucket=BUCKET, Prefix="processed/").get("Contents", []))
        assert env.job(crashed)["status"] == "FAILED"
        assert keys == sorted([f"processed/{crashed}-other/segment_000.mp4", f"processed/{done}/segment_000.mp4"])


def test_an_event_that_never_ran_is_failed_with_its_condition_as_the_reason() -> None:
    rec = record("j")
    del rec["responseContext"], rec["responsePayload"]
    rec["requestContext"].update(condition="EventAgeExceeded", approximateInvokeCount=0)
    assert reason_of(rec) == ("Lambda.EventAgeExceeded: the function never ran this event "
                              "(EventAgeExceeded after 0 attempts)")
