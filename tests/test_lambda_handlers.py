"""Handlers as Lambda calls them: configuration from env vars, endpoints via AWS_ENDPOINT_URL."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import lambda_support as ls
import pytest
from moto import mock_aws
from video_processor import aws
from video_processor.errors import ConfigError, InvalidEvent, SourceNotFound, TransitionRefused
from video_processor.handlers import ffmpeg_check, hello, job_status, processor, s3_roundtrip, segment

JOB = "0b6f4a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture(autouse=True)
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in ls.FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VIDEO_BUCKET", "videos")
    monkeypatch.setenv("JOBS_TABLE", "jobs")
    monkeypatch.setenv("FFMPEG_PATH", ls.ffmpeg_exe())
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.client.cache_clear()
    yield
    aws.client.cache_clear()


@pytest.fixture
def mocked() -> Any:
    with mock_aws():
        s3, dynamodb = ls.clients()
        ls.create_resources(s3, dynamodb, ls.make_config("videos", "jobs"))
        yield s3, dynamodb


def test_hello() -> None:
    assert hello.handler({}, ls.FakeContext()) == {"statusCode": 200, "body": "Hello from Lambda"}


# -- ffmpeg check -----------------------------------------------------------------

def test_ffmpeg_check_with_real_binary() -> None:
    result = ffmpeg_check.handler({}, ls.FakeContext())
    exe = ls.ffmpeg_exe()
    assert result["available"] is True and result["error"] is None
    assert result["version"].startswith("ffmpeg version")
    assert result["path"] == exe
    assert result["sha256"] == hashlib.sha256(Path(exe).read_bytes()).hexdigest()


def test_ffmpeg_check_missing_binary_is_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFMPEG_PATH", "/opt/bin/definitely-missing-ffmpeg")
    result = ffmpeg_check.handler({}, ls.FakeContext())
    assert result == {"available": False, "version": None, "path": "/opt/bin/definitely-missing-ffmpeg",
                      "sha256": None, "error": "ffmpeg binary not found at /opt/bin/definitely-missing-ffmpeg"}


def test_ffmpeg_check_default_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FFMPEG_PATH")
    monkeypatch.delenv("VIDEO_BUCKET")  # the check needs no bucket or table
    result = ffmpeg_check.handler({}, ls.FakeContext())
    assert result["path"] == "/opt/bin/ffmpeg"


def test_ffmpeg_check_not_executable_and_failing(tmp_path: Path) -> None:
    plain = tmp_path / "ffmpeg"
    plain.write_bytes(b"not a program")
    result = ffmpeg_check.check_ffmpeg(str(plain))
    assert result["available"] is False and "cannot execute" in result["error"]
    assert result["sha256"] == hashlib.sha256(b"not a program").hexdigest()

    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\necho 'broken build' >&2\nexit 3\n")
    failing.chmod(failing.stat().st_mode | stat.S_IXUSR)
    result = ffmpeg_check.check_ffmpeg(str(failing))
    assert result["available"] is False and "exited with code 3: broken build" in result["error"]

    hanging = tmp_path / "hanging"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")
    hanging.chmod(hanging.stat().st_mode | stat.S_IXUSR)
    result = ffmpeg_check.check_ffmpeg(str(hanging), timeout_s=0.5)
    assert result["available"] is False and "did not finish" in result["error"]


# -- S3 round trip ------------------------------------------------------------------

def test_roundtrip_copies_byte_identical(mocked: Any) -> None:
    s3, _ = mocked
    payload = os.urandom(3 * 1024 * 1024 + 17)
    s3.put_object(Bucket="videos", Key="uploads/dir/clip.mp4", Body=payload)
    result = s3_roundtrip.handler({"s3_bucket": "videos", "s3_key": "uploads/dir/clip.mp4"}, ls.FakeContext())
    assert result == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
                      "output_key": "test_output/clip.mp4", "s3_bucket": "videos"}
    assert s3.get_object(Bucket="videos", Key="test_output/clip.mp4")["Body"].read() == payload


def test_roundtrip_missing_key_names_it_and_writes_nothing(mocked: Any) -> None:
    s3, _ = mocked
    with pytest.raises(SourceNotFound, match="uploads/nope.mp4"):
        s3_roundtrip.handler({"s3_bucket": "videos", "s3_key": "uploads/nope.mp4"}, ls.FakeContext())
    assert ls.all_keys(s3, "videos") == []


@pytest.mark.parametrize("event", [
    {"s3_bucket": "other", "s3_key": "uploads/a.mp4"},
    {"s3_bucket": "videos", "s3_key": "processed/a.mp4"},
    {"s3_bucket": "videos", "s3_key": "uploads/../a.mp4"},
])
def test_roundtrip_rejects_bad_events(mocked: Any, event: dict[str, str]) -> None:
    s3, _ = mocked
    s3.put_object(Bucket="videos", Key="uploads/a.mp4", Body=b"x")
    with pytest.raises(InvalidEvent):
        s3_roundtrip.handler(event, ls.FakeContext())
    assert ls.all_keys(s3, "videos") == ["uploads/a.mp4"]


def test_missing_config_is_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBS_TABLE")
    with pytest.raises(ConfigError, match="JOBS_TABLE"):
        s3_roundtrip.handler({"s3_bucket": "videos", "s3_key": "uploads/a.mp4"}, ls.FakeContext())


# -- job status ------------------------------------------------------------------------

def test_job_status_transitions(mocked: Any) -> None:
    _, dynamodb = mocked
    first = job_status.handler({"job_id": JOB, "status": "QUEUED"}, ls.FakeContext())
    assert first["previous_status"] is None and first["status"] == "QUEUED"
    second = job_status.handler({"job_id": JOB, "status": "PROCESSING"}, ls.FakeContext("req-9"))
    assert second["previous_status"] == "QUEUED" and second["updated_at"] > first["updated_at"]
    assert ls.get_record(dynamodb, "jobs", JOB)["request_id"] == "req-9"
    third = job_status.handler({"job_id": JOB, "status": "COMPLETED"}, ls.FakeContext())
    assert set(third) == {"job_id", "previous_status", "status", "updated_at"}
    with pytest.raises(TransitionRefused, match="COMPLETED -> FAILED"):
        job_status.handler({"job_id": JOB, "status": "FAILED", "error_message": "x"}, ls.FakeContext())
    assert ls.get_record(dynamodb, "jobs", JOB)["status"] == "COMPLETED"


def test_job_status_refuses_skipping_creation(mocked: Any) -> None:
    with pytest.raises(TransitionRefused, match="NONE -> COMPLETED"):
        job_status.handler({"job_id": JOB, "status": "COMPLETED"}, ls.FakeContext())


# -- segment and processor handlers through AWS_ENDPOINT_URL ------------------------

@pytest.fixture(scope="module")
def server_url() -> Any:
    with ls.moto_server() as url:
        yield url


@pytest.fixture
def served(server_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    bucket, table = ls.unique_names()
    monkeypatch.setenv("VIDEO_BUCKET", bucket)
    monkeypatch.setenv("JOBS_TABLE", table)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server_url)  # the only thing that points the code at moto
    s3, dynamodb = ls.clients(server_url)
    ls.create_resources(s3, dynamodb, ls.make_config(bucket, table))
    s3.upload_file(str(ls.make_video(tmp_path / "v.mp4", seconds=10)), bucket, "uploads/v.mp4")
    return s3, dynamodb, bucket, table


def test_segment_handler_uploads_without_dynamodb(served: Any) -> None:
    s3, dynamodb, bucket, table = served
    event = {"job_id": JOB, "s3_bucket": bucket, "s3_key": "uploads/v.mp4", "segment_duration": 4}
    result = segment.handler(event, ls.FakeContext())
    assert result["job_id"] == JOB and result["segments_created"] == 3
    assert [s["key"] for s in result["segments"]] == [f"processed/{JOB}/segment_{i:03d}.mp4" for i in range(3)]
    assert [round(s["duration"]) for s in result["segments"]] == [4, 4, 2]
    assert ls.all_keys(s3, bucket, "processed/") == [s["key"] for s in result["segments"]]
    assert dynamodb.scan(TableName=table)["Count"] == 0


def test_processor_handler_end_to_end(served: Any) -> None:
    _s3, dynamodb, bucket, table = served
    event = {"job_id": JOB, "s3_bucket": bucket, "s3_key": "uploads/v.mp4", "segment_duration": 5}
    result = processor.handler(event, ls.FakeContext("req-abc"))
    assert result["status"] == "COMPLETED" and result["segments_created"] == 2
    rec = ls.get_record(dynamodb, table, JOB)
    assert rec["status"] == "COMPLETED" and rec["request_id"] == "req-abc"
    again = processor.handler(event, ls.FakeContext("req-other"))
    assert again["status"] == "SKIPPED" and again["reason"] == "duplicate"
