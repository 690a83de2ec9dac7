"""A second video processor, written from CONTRACT.md (version 1.0) alone.

It shares no code with lambda_src/ and makes other choices on purpose: it claims its job
with one conditional UpdateItem (no read first), lets ffmpeg read the source through a
presigned URL signed however boto3 signs by default, and keeps everything in one module.
tests/test_contract_alt_processor.py deploys it as the `video_processor` function and
requires a GO on the full local validation: the harness must hold a processor to the
contract, not to our implementation.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

FFMPEG = "/opt/bin/ffmpeg"                                   # V1: the layer's binary
BUCKET = os.environ["VIDEO_BUCKET"]
TABLE = os.environ["JOBS_TABLE"]
MARGIN_S = int(os.environ.get("TIMEOUT_MARGIN_MS", "2500")) / 1000
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CFG = Config(retries={"max_attempts": 8, "mode": "standard"})   # R4
s3 = boto3.client("s3", config=_CFG)
ddb = boto3.client("dynamodb", config=_CFG)


class InvalidEvent(Exception):
    """E6: the event breaks E1..E4."""


class Failure(Exception):
    """F1: a job failure with its reason class."""

    def __init__(self, reason_class: str, cause: str) -> None:
        super().__init__(cause)
        self.reason_class = reason_class


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bad(field: str, value: object, why: str) -> InvalidEvent:
    return InvalidEvent(f"invalid {field}: {str(value)[:80]!r} ({why})")


def parse(event: object) -> tuple[str, str, float]:
    if not isinstance(event, dict):
        raise _bad("event", event, "must be a JSON object")
    job_id, bucket, key = event.get("job_id"), event.get("s3_bucket"), event.get("s3_key")
    if not isinstance(job_id, str) or not UUID.fullmatch(job_id):
        raise _bad("job_id", job_id, "must be a lower-case UUID")                        # E1
    if bucket != BUCKET:
        raise _bad("s3_bucket", bucket, "must be the configured bucket")                 # E2
    if (not isinstance(key, str) or not key.startswith("uploads/") or key.endswith("/")
            or ".." in key.split("/") or len(key.encode("utf-8", "replace")) > 1024
            or any(ord(c) < 32 or ord(c) == 127 for c in key)):
        raise _bad("s3_key", key, "must be an object under uploads/")                    # E3
    d = event.get("segment_duration")
    if d is None:
        d = 10
    if isinstance(d, bool) or not isinstance(d, (int, float)) or not (1 <= d <= 600):
        raise _bad("segment_duration", d, "must be a number from 1 to 600")              # E4
    return job_id, key, float(d)


def _update(job_id: str, expr: str, cond: str, values: dict) -> None:
    ddb.update_item(TableName=TABLE, Key={"video_id": {"S": job_id}}, UpdateExpression=expr,
                    ConditionExpression=cond, ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues=values)


def claim(job_id: str, request_id: str) -> bool:
    """S3/R1/R3: QUEUED -> PROCESSING, or our own earlier attempt's PROCESSING. False: not ours."""
    try:
        _update(job_id, "SET #s = :p, updated_at = :now, claimed_by = :rid",
                "#s = :q OR (#s = :p AND claimed_by = :rid)",
                {":p": {"S": "PROCESSING"}, ":q": {"S": "QUEUED"}, ":now": {"S": _now()}, ":rid": {"S": request_id}})
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def finish(job_id: str, request_id: str, status: str, **fields) -> None:
    expr = "SET #s = :st, updated_at = :now" + "".join(f", {k} = :{k}" for k in fields)
    values = {":st": {"S": status}, ":now": {"S": _now()}, ":p": {"S": "PROCESSING"}, ":rid": {"S": request_id},
              **{f":{k}": v for k, v in fields.items()}}
    _update(job_id, expr, "#s = :p AND claimed_by = :rid", values)      # S2


def clear_outputs(job_id: str) -> None:
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"processed/{job_id}/")
            for o in page.get("Contents", [])]
    for i in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})


def handler(event, context):
    job_id, key, duration = parse(event)
    request_id = context.aws_request_id
    if not claim(job_id, request_id):
        return {"job_id": job_id, "note": "not claimed: another delivery owns it or it is finished"}   # R1/R2
    started = time.monotonic()
    try:
        clear_outputs(job_id)                                           # R3: a retry starts clean
        keys = cut(job_id, key, duration, context)
        finish(job_id, request_id, "COMPLETED", output_s3_urls={"L": [{"S": k} for k in keys]},
               segments_created={"N": str(len(keys))},
               processing_duration_seconds={"N": f"{time.monotonic() - started:.3f}"})
        return {"job_id": job_id, "status": "COMPLETED", "segments": keys}
    except Exception as exc:                                            # F2: report on the record
        reason = exc.reason_class if isinstance(exc, Failure) else (
            "TransientError" if isinstance(exc, ClientError) else type(exc).__name__)
        message = f"{reason}: {' '.join(str(exc).split())}"[:1000]
        try:
            clear_outputs(job_id)                                       # F3
        finally:
            finish(job_id, request_id, "FAILED", error_message={"S": message})
        return {"job_id": job_id, "status": "FAILED", "error_message": message}


def cut(job_id: str, key: str, duration: float, context) -> list[str]:
    """Stream the source into ffmpeg's segment muxer; upload each segment as it closes (L1)."""
    try:
        size = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    except ClientError as e:
        if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            raise Failure("SourceNotFound", f"no object s3://{BUCKET}/{key}") from None
        raise
    if size == 0:
        raise Failure("EmptyFile", f"s3://{BUCKET}/{key} has 0 bytes")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=3600)
    work = tempfile.mkdtemp()
    listing = os.path.join(work, "list.csv")
    cmd = [FFMPEG, "-nostdin", "-v", "error", "-xerror", "-i", url, "-map", "0", "-c", "copy", "-f", "segment",
           "-segment_time", f"{duration:g}", "-reset_timestamps", "1", "-segment_list", listing,
           "-segment_list_type", "csv", os.path.join(work, "segment_%03d.mp4")]
    done: list[str] = []
    try:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as e:
            raise Failure("FfmpegUnavailable", f"cannot run {FFMPEG}: {e.strerror}") from None
        try:
            while True:
                running = proc.poll() is None
                closed = _closed(listing)[len(done):]
                if running and closed:
                    proc.send_signal(signal.SIGSTOP)                    # L1: never write while uploading
                for name in closed:
                    _guard(context)
                    done.append(_upload(job_id, work, name))
                if running:
                    proc.send_signal(signal.SIGCONT)
                    _guard(context)
                    time.sleep(0.05)
                elif not _closed(listing)[len(done):]:
                    break
        finally:
            if proc.poll() is None:
                proc.kill()
            err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
            proc.wait()
        if "No space left" in err:
            raise Failure("StorageExhausted", "/tmp is full")
        if proc.returncode != 0 or not done:
            last = (err.strip().splitlines() or ["no output"])[-1]
            raise Failure("InvalidMedia", f"ffmpeg exit {proc.returncode}: {last}")
        return done
    except OSError as e:
        if e.errno == 28:
            raise Failure("StorageExhausted", "/tmp is full") from None
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _closed(listing: str) -> list[str]:
    try:
        with open(listing, newline="") as f:
            return [row[0] for row in csv.reader(f) if row]
    except FileNotFoundError:
        return []


def _upload(job_id: str, work: str, name: str) -> str:
    key = f"processed/{job_id}/{name}"                                  # O1
    path = os.path.join(work, name)
    s3.upload_file(path, BUCKET, key)
    os.unlink(path)
    return key


def _guard(context) -> None:
    if context.get_remaining_time_in_millis() / 1000 < MARGIN_S:        # L3
        raise Failure("TimeoutGuard", f"stopped with {context.get_remaining_time_in_millis()} ms left")
