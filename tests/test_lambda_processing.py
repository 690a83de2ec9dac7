"""run_job end to end against a real moto HTTP server and the real ffmpeg."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lambda_support as ls
import pytest
from botocore.exceptions import ClientError
from video_processor import keys
from video_processor.config import Config
from video_processor.errors import InvalidEvent, TransientError
from video_processor.processing import run_job

VIDEO_SECONDS = 12  # keyframes every 2 s -> 10 s segments: 0-10, 10-12
SOURCE_KEY = "uploads/clip one.mp4"


@pytest.fixture(scope="module")
def server_url() -> Any:
    with ls.moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ls.make_video(tmp_path_factory.mktemp("video") / "clip.mp4", seconds=VIDEO_SECONDS, keyframe_every=2)


@pytest.fixture
def world(server_url: str, video: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name, value in ls.FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket, table = ls.unique_names()
    config = ls.make_config(bucket, table)
    s3, dynamodb = ls.clients(server_url)
    ls.create_resources(s3, dynamodb, config)
    s3.upload_file(str(video), bucket, SOURCE_KEY)
    return {"s3": s3, "dynamodb": dynamodb, "config": config}


def job_event(config: Config, job_id: str, **extra: Any) -> dict[str, Any]:
    event = {"job_id": job_id, "s3_bucket": config.bucket, "s3_key": SOURCE_KEY, "segment_duration": 10}
    event.update(extra)
    return event


def run(world: dict[str, Any], event: dict[str, Any], request_id: str = "req-1", **kwargs: Any) -> dict:
    return run_job(event, s3=kwargs.pop("s3", world["s3"]), dynamodb=kwargs.pop("dynamodb", world["dynamodb"]),
                   config=kwargs.pop("config", world["config"]), request_id=request_id, **kwargs)


def test_completed_with_expected_segments(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    job_id = ls.new_job_id()
    result = run(world, job_event(world["config"], job_id, segment_duration=4), remaining_ms=lambda: 300_000)

    expected = [keys.segment_key(job_id, i) for i in range(3)]  # 0-4, 4-8, 8-12
    assert result == {"job_id": job_id, "status": "COMPLETED", "segments_created": 3, "output_s3_urls": expected}
    assert ls.all_keys(world["s3"], world["config"].bucket, "processed/") == expected
    record = ls.get_record(world["dynamodb"], world["config"].table, job_id)
    assert record["status"] == "COMPLETED"
    assert record["output_s3_urls"] == expected
    assert record["segments_created"] == 3
    assert record["request_id"] == "req-1"
    assert record["processing_method"] == "lambda"
    assert float(record["processing_duration_seconds"]) > 0
    assert record["created_at"] < record["updated_at"]
    # segments are real, playable MP4s
    body = world["s3"].get_object(Bucket=world["config"].bucket, Key=expected[0])["Body"].read()
    assert body[4:8] == b"ftyp"
    # one JSON line per stage on stdout
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    stages = {line["stage"] for line in lines if line.get("job_id") == job_id}
    assert {"claim", "head_source", "cut", "verify", "complete"} <= stages
    assert all("duration_ms" in line and "level" in line for line in lines if line["stage"] == "cut")


def test_default_duration_gives_two_segments(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    event = job_event(world["config"], job_id)
    del event["segment_duration"]
    result = run(world, event)
    assert result["status"] == "COMPLETED"
    assert result["segments_created"] == 2


def test_queued_record_is_claimed_and_created_at_kept(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    ls.put_record(world["dynamodb"], world["config"].table, job_id, status="QUEUED",
                  created_at="2026-01-01T00:00:00.000000Z", updated_at="2026-01-01T00:00:00.000000Z")
    result = run(world, job_event(world["config"], job_id), processing_method="celery")
    assert result["status"] == "COMPLETED"
    record = ls.get_record(world["dynamodb"], world["config"].table, job_id)
    assert record["created_at"] == "2026-01-01T00:00:00.000000Z"
    assert record["processing_method"] == "celery"


def test_duplicate_delivery_of_completed_job_writes_nothing(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    event = job_event(world["config"], job_id)
    assert run(world, event)["status"] == "COMPLETED"
    before_keys = {
        obj["Key"]: obj["LastModified"]
        for obj in world["s3"].list_objects_v2(Bucket=world["config"].bucket)["Contents"]
    }
    before_record = ls.get_record(world["dynamodb"], world["config"].table, job_id)

    for request_id in ("req-1", "req-2"):  # same or other request id: COMPLETED is never redone
        result = run(world, event, request_id=request_id)
        assert result["status"] == "SKIPPED"
        assert result["reason"] == "duplicate"
        assert result["segments_created"] == 0

    after_keys = {
        obj["Key"]: obj["LastModified"]
        for obj in world["s3"].list_objects_v2(Bucket=world["config"].bucket)["Contents"]
    }
    assert after_keys == before_keys
    assert ls.get_record(world["dynamodb"], world["config"].table, job_id) == before_record


def test_duplicate_while_processing_by_other_request_is_skipped(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    ls.put_record(world["dynamodb"], world["config"].table, job_id, status="PROCESSING", request_id="other",
                  updated_at="2026-01-01T00:00:00.000000Z")
    result = run(world, job_event(world["config"], job_id), request_id="mine")
    assert result["status"] == "SKIPPED" and result["reason"] == "duplicate"
    assert ls.all_keys(world["s3"], world["config"].bucket, "processed/") == []
    assert ls.get_record(world["dynamodb"], world["config"].table, job_id)["updated_at"] == "2026-01-01T00:00:00.000000Z"


def test_same_request_redelivery_takes_over_and_removes_partial_outputs(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    bucket = world["config"].bucket
    ls.put_record(world["dynamodb"], world["config"].table, job_id, status="PROCESSING", request_id="req-1",
                  updated_at="2026-01-01T00:00:00.000000Z")
    stale = keys.job_output_prefix(job_id) + "segment_007.mp4"
    world["s3"].put_object(Bucket=bucket, Key=stale, Body=b"partial")
    result = run(world, job_event(world["config"], job_id), request_id="req-1")
    assert result["status"] == "COMPLETED"
    assert stale not in ls.all_keys(world["s3"], bucket)
    assert ls.all_keys(world["s3"], bucket, "processed/") == result["output_s3_urls"]


def test_failure_at_second_segment_upload_leaves_nothing(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject")
    s3 = ls.FailingClient(world["s3"], "upload_file", fail_on_call=2, error=denied)
    result = run(world, job_event(world["config"], job_id, segment_duration=4), s3=s3)

    assert s3.calls == 2  # the first segment was uploaded, the second failed
    assert result["status"] == "FAILED"
    assert "AccessDenied" in result["error_message"]
    assert ls.all_keys(world["s3"], world["config"].bucket, "processed/") == []
    record = ls.get_record(world["dynamodb"], world["config"].table, job_id)
    assert record["status"] == "FAILED"
    assert "\n" not in record["error_message"]


def test_transient_upload_errors_are_retried(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    slow = ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"},
                        "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject")
    s3 = ls.FailingClient(world["s3"], "upload_file", fail_on_call=2, error=slow)
    result = run(world, job_event(world["config"], job_id, segment_duration=4), s3=s3)
    assert result["status"] == "COMPLETED"
    assert result["segments_created"] == 3


def test_missing_source_marks_failed(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    result = run(world, job_event(world["config"], job_id, s3_key="uploads/missing.mp4"))
    assert result["status"] == "FAILED"
    assert "SourceNotFound" in result["error_message"] and "uploads/missing.mp4" in result["error_message"]
    assert ls.get_record(world["dynamodb"], world["config"].table, job_id)["status"] == "FAILED"


def test_not_a_video_marks_failed_invalid_media(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    world["s3"].put_object(Bucket=world["config"].bucket, Key="uploads/notes.mp4", Body=b"this is not a video" * 50)
    result = run(world, job_event(world["config"], job_id, s3_key="uploads/notes.mp4"))
    assert result["status"] == "FAILED"
    assert result["error_message"].startswith("InvalidMedia: ffmpeg exited with code")
    assert ls.all_keys(world["s3"], world["config"].bucket, "processed/") == []


def test_timeout_guard_kills_ffmpeg_and_marks_failed(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    clock = iter([600_000, 600_000, 600_000] + [1_000] * 10_000)  # start, head check, ... then nearly out
    result = run(world, job_event(world["config"], job_id, segment_duration=4), remaining_ms=lambda: next(clock))
    assert result["status"] == "FAILED"
    assert result["error_message"].startswith("TimeoutGuard: timed out")
    assert ls.all_keys(world["s3"], world["config"].bucket, "processed/") == []
    record = ls.get_record(world["dynamodb"], world["config"].table, job_id)
    assert record["status"] == "FAILED" and record["error_message"].startswith("TimeoutGuard: timed out")


def test_missing_ffmpeg_marks_failed(world: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    config = ls.make_config(world["config"].bucket, world["config"].table, ffmpeg_path="/nonexistent/ffmpeg")
    result = run(world, job_event(config, job_id), config=config)
    assert result["status"] == "FAILED"
    assert result["error_message"].startswith("FfmpegUnavailable")


@pytest.mark.parametrize(
    "change",
    [
        {"s3_bucket": "someone-elses-bucket"},
        {"s3_key": "processed/x.mp4"},
        {"s3_key": "uploads/../secret.mp4"},
        {"job_id": "not-a-uuid"},
        {"segment_duration": 0},
        {"segment_duration": True},
    ],
)
def test_invalid_events_write_nothing(world: dict[str, Any], change: dict[str, Any]) -> None:
    job_id = ls.new_job_id()
    before = ls.all_keys(world["s3"], world["config"].bucket)
    event = job_event(world["config"], job_id)
    event.update(change)
    with pytest.raises(InvalidEvent):
        run(world, event)
    assert ls.all_keys(world["s3"], world["config"].bucket) == before
    assert world["dynamodb"].scan(TableName=world["config"].table)["Count"] == 0


def test_transient_error_before_claim_propagates_and_writes_nothing(world: dict[str, Any]) -> None:
    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"},
                             "ResponseMetadata": {"HTTPStatusCode": 400}}, "GetItem")

    class AlwaysThrottled(ls.FailingClient):
        def __getattr__(self, name: str) -> Any:
            if name == "get_item":
                def fail(*args: Any, **kwargs: Any) -> Any:
                    raise throttled
                return fail
            return getattr(self._inner, name)

    db = AlwaysThrottled(world["dynamodb"], "get_item", 0, throttled)
    with pytest.raises(TransientError):
        run(world, job_event(world["config"], ls.new_job_id()), dynamodb=db)
    assert ls.all_keys(world["s3"], world["config"].bucket, "processed/") == []
    assert world["dynamodb"].scan(TableName=world["config"].table)["Count"] == 0
