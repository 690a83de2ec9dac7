"""Shared helpers for the Lambda package tests (kept out of conftest.py on purpose).

Importing this module puts ``lambda_src/`` on sys.path, exactly as the Lambda
runtime sees the zip root.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LAMBDA_SRC = Path(__file__).resolve().parents[1] / "lambda_src"
if str(LAMBDA_SRC) not in sys.path:
    sys.path.insert(0, str(LAMBDA_SRC))

import boto3
import imageio_ffmpeg
from botocore.config import Config as BotoConfig
from video_processor.config import Config

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def make_video(path: Path, *, seconds: int = 12, keyframe_every: int = 2, audio: bool = True) -> Path:
    """A small real H.264 (+AAC) MP4 from lavfi testsrc2 with a keyframe every ``keyframe_every`` s."""
    rate = 10
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", f"testsrc2=duration={seconds}:size=160x120:rate={rate}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-g", str(rate * keyframe_every), "-keyint_min", str(rate * keyframe_every), "-sc_threshold", "0"]
    if audio:
        cmd += ["-c:a", "aac", "-shortest"]
    cmd += ["-movflags", "+faststart", str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return path


def make_config(bucket: str = "videos", table: str = "jobs", **overrides: Any) -> Config:
    values: dict[str, Any] = {"bucket": bucket, "table": table, "ffmpeg_path": ffmpeg_exe()}
    values.update(overrides)
    return Config(**values)


def new_job_id() -> str:
    return str(uuid.uuid4())


def clients(endpoint_url: str | None = None) -> tuple[Any, Any]:
    """(s3, dynamodb) low-level clients; with ``endpoint_url`` they talk to a moto server."""
    kwargs: dict[str, Any] = {
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "config": BotoConfig(retries={"max_attempts": 2, "mode": "standard"}, signature_version="s3v4"),
    }
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return boto3.client("s3", **kwargs), boto3.client("dynamodb", **kwargs)


def create_resources(s3: Any, dynamodb: Any, config: Config) -> None:
    s3.create_bucket(Bucket=config.bucket)
    dynamodb.create_table(
        TableName=config.table,
        KeySchema=[{"AttributeName": "video_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "video_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def unique_names() -> tuple[str, str]:
    """Bucket/table names unique per test: the moto server's state is process-wide."""
    suffix = uuid.uuid4().hex[:12]
    return f"videos-{suffix}", f"jobs-{suffix}"


def all_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [obj["Key"] for obj in page.get("Contents", [])]
    return sorted(keys)


def get_record(dynamodb: Any, table: str, job_id: str) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    item = dynamodb.get_item(TableName=table, Key={"video_id": {"S": job_id}}, ConsistentRead=True).get("Item")
    if not item:
        return None
    return {k: TypeDeserializer().deserialize(v) for k, v in item.items()}


def put_record(dynamodb: Any, table: str, job_id: str, **attributes: str) -> None:
    item = {"video_id": {"S": job_id}}
    item.update({k: {"S": v} for k, v in attributes.items()})
    dynamodb.put_item(TableName=table, Item=item)


@contextmanager
def moto_server() -> Iterator[str]:
    """A real HTTP moto server on a free port (ffmpeg can read its presigned URLs)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class FailingClient:
    """Wraps a real client; the Nth call of ``method`` raises ``error`` instead."""

    def __init__(self, inner: Any, method: str, fail_on_call: int, error: BaseException) -> None:
        self._inner = inner
        self._method = method
        self._fail_on = fail_on_call
        self._error = error
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self._fail_on:
                raise self._error
            return attr(*args, **kwargs)

        return wrapped


class FakeContext:
    """Minimal Lambda context: request id plus a controllable remaining-time clock."""

    def __init__(self, request_id: str = "req-1", remaining_ms: int = 300_000) -> None:
        self.aws_request_id = request_id
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining


def tmp_video_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"vp-test-videos-{os.getpid()}"
    path.mkdir(exist_ok=True)
    return path
