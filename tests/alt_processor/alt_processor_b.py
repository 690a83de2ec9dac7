"""A third video processor, written from CONTRACT.md (version 1.2) alone, making every other legal choice.

Where lambda_src/ and alt_processor.py make one choice, this one makes the other: it claims its job
with a read and a conditional PutItem of the whole record (S2/S3 allow any DynamoDB call), writes
its final status the same way, uploads every segment by multipart upload, reads the whole source
into /tmp when EphemeralStorage leaves room for it and streams it through a presigned URL otherwise
(L1), fails before its claim by raising and after it by returning (F2). It shares no code with
either. tests/test_contract_alt_processor.py requires a GO for it on the full local validation.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

FFMPEG = "/opt/bin/ffmpeg"                                   # V1
BUCKET = os.environ["VIDEO_BUCKET"]
TABLE = os.environ["JOBS_TABLE"]
GUARD_S = int(os.environ.get("TIMEOUT_MARGIN_MS", "2500")) / 1000
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PART = 8 * 1024 * 1024
_config = Config(retries={"max_attempts": 10, "mode": "adaptive"})      # R4
s3 = boto3.client("s3", config=_config)
dynamodb = boto3.client("dynamodb", config=_config)


class InvalidEvent(ValueError):
    """E6: the event is not a processing event; raised before the claim, so the invocation fails."""


class JobFailed(Exception):
    def __init__(self, reason: str, cause: str) -> None:
        super().__init__(f"{reason}: {' '.join(cause.split())}"[:1000])    # F1


def stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")     # J2


def validate(event) -> tuple[str, str, float]:
    if not isinstance(event, dict):
        raise InvalidEvent(f"event must be an object, got {type(event).__name__}")
    job_id = event.get("job_id")
    if not (isinstance(job_id, str) and JOB_ID.match(job_id)):
        raise InvalidEvent(f"job_id {str(job_id)[:60]!r} is not a lower-case UUID")            # E1
    if event.get("s3_bucket") != BUCKET:
        raise InvalidEvent(f"s3_bucket {str(event.get('s3_bucket'))[:60]!r} is not {BUCKET}")  # E2
    key = event.get("s3_key")
    parts = key.split("/") if isinstance(key, str) else []
    if (len(parts) < 2 or parts[0] != "uploads" or not parts[-1] or ".." in parts
            or len(key.encode("utf-8", "surrogatepass")) > 1024
            or any(ch < " " or ch == "\x7f" for ch in key)):
        raise InvalidEvent(f"s3_key {str(key)[:60]!r} is not an object under uploads/")        # E3
    seconds = event.get("segment_duration", 10)
    if seconds is None:
        seconds = 10
    if type(seconds) not in (int, float) or not 1 <= seconds <= 600:
        raise InvalidEvent(f"segment_duration {seconds!r} is not a number of seconds from 1 to 600")  # E4
    return job_id, key, float(seconds)


# -- the record: read, then a conditional PutItem of the whole item ----------------------------------

def read(job_id: str) -> dict | None:
    return dynamodb.get_item(TableName=TABLE, Key={"video_id": {"S": job_id}}, ConsistentRead=True).get("Item")


def put(item: dict, condition: str, values: dict) -> bool:
    try:
        dynamodb.put_item(TableName=TABLE, Item=item, ConditionExpression=condition,
                          ExpressionAttributeNames={"#st": "status"}, ExpressionAttributeValues=values)
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def take(job_id: str, me: str) -> dict | None:
    """The claimed item, or None when the job is not this delivery's to do (R1, R2)."""
    item = read(job_id)
    if item is None:
        return None
    status, owner = item.get("status", {}).get("S"), item.get("claimed_by", {}).get("S")
    if status == "QUEUED":
        cond = ("#st = :seen AND updated_at = :when" if "updated_at" in item              # S2
                else "#st = :seen AND attribute_not_exists(updated_at)")
    elif status == "PROCESSING" and owner == me:
        cond = "#st = :seen AND claimed_by = :me"                                        # R3: our own retry
    else:
        return None
    values = {":seen": {"S": status}, ":me": {"S": me}, ":when": item.get("updated_at", {"S": ""})}
    values = {k: v for k, v in values.items() if k in cond}
    claimed = {**item, "status": {"S": "PROCESSING"}, "updated_at": {"S": stamp()}, "claimed_by": {"S": me}}
    return claimed if put(claimed, cond, values) else None


def settle(item: dict, me: str, status: str, extra: dict) -> None:
    final = {**item, **extra, "status": {"S": status}, "updated_at": {"S": stamp()}}
    put(final, "#st = :p AND claimed_by = :me", {":p": {"S": "PROCESSING"}, ":me": {"S": me}})


# -- the handler -------------------------------------------------------------------------------------

def handler(event, context):
    job_id, key, seconds = validate(event)                          # raises before the claim (F2)
    me = context.aws_request_id
    item = take(job_id, me)
    if item is None:
        return {"job_id": job_id, "claimed": False}
    t0 = time.monotonic()
    try:
        remove_outputs(job_id)                                      # R3: start clean
        keys = segment(job_id, key, seconds, context)
    except Exception as exc:
        message = str(exc) if isinstance(exc, JobFailed) else str(JobFailed(
            "TransientError" if isinstance(exc, ClientError) else "InvalidMedia", f"{type(exc).__name__}: {exc}"))
        try:
            remove_outputs(job_id)                                  # F3
        finally:
            settle(item, me, "FAILED", {"error_message": {"S": message}})
        return {"job_id": job_id, "status": "FAILED"}               # F2: returns after the claim
    settle(item, me, "COMPLETED", {"output_s3_urls": {"L": [{"S": k} for k in keys]},
                                   "segments_created": {"N": str(len(keys))},
                                   "processing_duration_seconds": {"N": f"{time.monotonic() - t0:.3f}"}})
    return {"job_id": job_id, "status": "COMPLETED", "segments_created": len(keys)}


def remove_outputs(job_id: str) -> None:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"processed/{job_id}/")
    while True:
        for obj in listing.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
        if not listing.get("IsTruncated"):
            return
        listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"processed/{job_id}/",
                                     ContinuationToken=listing["NextContinuationToken"])


def check_time(context) -> None:
    left = context.get_remaining_time_in_millis() / 1000
    if left < GUARD_S:                                              # L3
        raise JobFailed("TimeoutGuard", f"{left:.1f} s left of the function's time")


# -- cutting -----------------------------------------------------------------------------------------

def segment(job_id: str, key: str, seconds: float, context) -> list[str]:
    try:
        size = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    except ClientError as err:
        if err.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            raise JobFailed("SourceNotFound", f"s3://{BUCKET}/{key} does not exist") from None
        raise
    if not size:
        raise JobFailed("EmptyFile", f"s3://{BUCKET}/{key} is empty")
    scratch = tempfile.mkdtemp(prefix="job-")
    try:
        free = shutil.disk_usage(scratch).free
        if size * 2 + (16 << 20) < free:                            # room for the source and its segments
            source = os.path.join(scratch, "source")
            fetch(key, source, context)
        else:                                                       # L1: stream it
            source = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key},
                                               ExpiresIn=3600)
        return cut_and_upload(job_id, source, seconds, scratch, context)
    except OSError as err:
        if err.errno == 28:
            raise JobFailed("StorageExhausted", "no space left in /tmp") from None
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def fetch(key: str, path: str, context) -> None:
    """Download the source while watching the clock: a slow read must not outlive the guard."""
    box: dict = {}

    def run() -> None:
        try:
            s3.download_file(BUCKET, key, path)
        except BaseException as exc:                                # handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    while worker.is_alive():
        check_time(context)
        worker.join(0.05)
    if "error" in box:
        raise box["error"]


def cut_and_upload(job_id: str, source: str, seconds: float, scratch: str, context) -> list[str]:
    listing = os.path.join(scratch, "segments.csv")
    argv = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-xerror", "-i", source,
            "-map", "0", "-c", "copy", "-f", "segment", "-segment_time", str(seconds), "-reset_timestamps", "1",
            "-segment_format", "mp4", "-segment_list", listing, "-segment_list_type", "csv",
            os.path.join(scratch, "segment_%03d.mp4")]
    try:
        ffmpeg = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as err:
        raise JobFailed("FfmpegUnavailable", f"{FFMPEG}: {err.strerror}") from None
    uploaded: list[str] = []
    try:
        while True:
            alive = ffmpeg.poll() is None
            ready = finished_segments(listing)[len(uploaded):]
            if ready and alive:
                ffmpeg.send_signal(signal.SIGSTOP)                  # L1: /tmp holds what is being uploaded
            for name in ready:
                check_time(context)
                uploaded.append(multipart(job_id, os.path.join(scratch, name), name))
            if ready and alive:
                ffmpeg.send_signal(signal.SIGCONT)
            if not alive and not finished_segments(listing)[len(uploaded):]:
                break
            check_time(context)
            time.sleep(0.05)
    finally:
        if ffmpeg.poll() is None:
            ffmpeg.send_signal(signal.SIGCONT)
            ffmpeg.kill()
        errors = ffmpeg.stderr.read().decode("utf-8", "replace") if ffmpeg.stderr else ""
        ffmpeg.wait()
    if "No space left on device" in errors:
        raise JobFailed("StorageExhausted", "no space left in /tmp")
    if ffmpeg.returncode != 0 or not uploaded:
        raise JobFailed("InvalidMedia", f"ffmpeg exited {ffmpeg.returncode}: "
                                        f"{(errors.strip().splitlines() or ['no segments'])[-1]}")
    return uploaded


def finished_segments(listing: str) -> list[str]:
    if not os.path.exists(listing):
        return []
    with open(listing, newline="") as fh:
        return [row[0] for row in csv.reader(fh) if row]


def multipart(job_id: str, path: str, name: str) -> str:
    """Every segment by multipart upload, 8 MiB parts (O1: processed/<job_id>/<name>)."""
    key = f"processed/{job_id}/{name}"
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ContentType="video/mp4")["UploadId"]
    parts = []
    with open(path, "rb") as fh:
        number = 1
        while True:
            chunk = fh.read(PART)
            if not chunk and parts:
                break
            tag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=chunk)["ETag"]
            parts.append({"ETag": tag, "PartNumber": number})
            number += 1
            if len(chunk) < PART:
                break
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    os.unlink(path)
    return key
