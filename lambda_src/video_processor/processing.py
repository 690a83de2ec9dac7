"""The whole job, shared by the Lambda handler and the Celery worker.

No Lambda context here: the caller injects boto3 clients, the config, a
request id and (on Lambda) the remaining-time callable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .config import Config
from .cutter import UploadedSegment, cut_and_upload
from .deadline import Deadline
from .errors import EmptyFile, OutputVerificationFailed, TransientError, VideoProcessorError
from .events import JobRequest, parse_job_event
from .jobs import Claim, JobStore
from .keys import job_output_prefix
from .logs import configure_logging, log_event, stage
from .retry import classify
from .s3io import delete_prefix, head_source, list_prefix
from .status import COMPLETED, FAILED, ClaimDecision

SKIPPED = "SKIPPED"
MAX_REASON_CHARS = 500


def run_job(
    event: dict,
    *,
    s3: Any,
    dynamodb: Any,
    config: Config,
    request_id: str,
    remaining_ms: Callable[[], int] | None = None,
    processing_method: str = "lambda",
) -> dict:
    """Cut one uploaded video into segments and record the outcome on the job.

    Error policy:
    - invalid event: raise InvalidEvent before any write (retrying cannot fix the input);
    - transient error before/while claiming: raise TransientError so Lambda's async
      retry redelivers (nothing was claimed, so a redelivery starts clean);
    - other errors before the claim: propagate unchanged (nothing was written);
    - any error after the claim: delete processed/<job_id>/, mark FAILED, return
      normally (a retry would only be seen as a duplicate of a finished job).
    """
    started = time.monotonic()
    configure_logging(config.log_level)
    request = parse_job_event(event, config)
    job_id = request.job_id
    deadline = Deadline.start(remaining_ms, config.timeout_margin_ms)
    store = JobStore(dynamodb, config.table)

    with stage(job_id, "claim", request_id=request_id, processing_method=processing_method) as info:
        try:
            claim = store.claim(job_id, request_id, processing_method)
        except VideoProcessorError:
            raise
        except Exception as exc:
            if classify(exc) == "transient":
                raise TransientError(f"job {job_id}: claim failed: {one_line(exc)}") from exc
            raise
        info["decision"] = claim.decision.value
        info["previous_status"] = claim.previous_status

    if claim.decision is ClaimDecision.DUPLICATE:
        # Nothing written: another delivery owns the job or it is finished.
        return {
            "job_id": job_id,
            "status": SKIPPED,
            "segments_created": 0,
            "output_s3_urls": [],
            "reason": "duplicate",
            "existing_status": claim.previous_status,
        }

    try:
        return _process(request, claim, s3=s3, store=store, config=config, request_id=request_id,
                        deadline=deadline, started=started)
    except Exception as exc:  # after the claim every failure ends as FAILED, never as a raise
        return _fail(job_id, exc, s3=s3, store=store, config=config, request_id=request_id, after=claim.updated_at)


def _process(
    request: JobRequest,
    claim: Claim,
    *,
    s3: Any,
    store: JobStore,
    config: Config,
    request_id: str,
    deadline: Deadline,
    started: float,
) -> dict:
    job_id = request.job_id
    prefix = job_output_prefix(job_id)
    if claim.decision is ClaimDecision.TAKEOVER:
        with stage(job_id, "cleanup_partial") as info:
            info["deleted"] = delete_prefix(s3, config.bucket, prefix)

    deadline.check("head_source")
    with stage(job_id, "head_source", key=request.key) as info:
        info["size"] = head_source(s3, config.bucket, request.key)
    if info["size"] == 0:
        raise EmptyFile(f"source object is empty (0 bytes): s3://{config.bucket}/{request.key}")

    def logged(segment: UploadedSegment) -> None:
        log_event(job_id, "segment_uploaded", duration_ms=segment.upload_ms, key=segment.key, size=segment.size,
                  segment_duration=segment.duration)

    with stage(job_id, "cut", segment_duration=request.segment_duration) as info:
        segments = cut_and_upload(
            s3=s3, bucket=config.bucket, source_key=request.key, job_id=job_id,
            segment_duration=request.segment_duration, ffmpeg_path=config.ffmpeg_path,
            deadline=deadline, on_upload=logged,
        )
        info["segments"] = len(segments)

    deadline.check("verify")
    with stage(job_id, "verify"):
        verify_outputs(s3, config.bucket, prefix, segments)

    keys = [segment.key for segment in segments]
    with stage(job_id, "complete"):
        store.complete(job_id, request_id, after=claim.updated_at, output_keys=keys,
                       processing_duration_seconds=time.monotonic() - started)
    return {"job_id": job_id, "status": COMPLETED, "segments_created": len(keys), "output_s3_urls": keys}


def verify_outputs(s3: Any, bucket: str, prefix: str, segments: list[UploadedSegment]) -> None:
    """COMPLETED is only written when S3 lists exactly the segments uploaded, at their sizes."""
    expected = {segment.key: segment.size for segment in segments}
    listed = list_prefix(s3, bucket, prefix)
    if listed != expected:
        missing = sorted(set(expected) - set(listed))
        extra = sorted(set(listed) - set(expected))
        wrong = sorted(k for k in set(expected) & set(listed) if expected[k] != listed[k])
        raise OutputVerificationFailed(
            f"outputs under {prefix} differ: missing={missing[:3]} unexpected={extra[:3]} size_mismatch={wrong[:3]}"
        )


def _fail(
    job_id: str, exc: Exception, *, s3: Any, store: JobStore, config: Config, request_id: str, after: str | None
) -> dict:
    reason = failure_reason(exc)
    log_event(job_id, "failure", logging.ERROR, error_type=type(exc).__name__, error=reason,
              classification=classify(exc))
    # Cleanup and the FAILED write are best effort: their own errors are logged, not raised.
    try:
        with stage(job_id, "cleanup_outputs") as info:
            info["deleted"] = delete_prefix(s3, config.bucket, job_output_prefix(job_id))
    except Exception:
        pass
    try:
        with stage(job_id, "mark_failed"):
            store.fail(job_id, reason, after=after, request_id=request_id)
    except Exception:
        pass
    return {"job_id": job_id, "status": FAILED, "segments_created": 0, "output_s3_urls": [], "error_message": reason}


def failure_reason(exc: BaseException) -> str:
    """One line for the job record: "<ReasonClass>: <cause>" (CONTRACT.md F1)."""
    return f"{type(exc).__name__}: {one_line(exc)}"[:MAX_REASON_CHARS]


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
