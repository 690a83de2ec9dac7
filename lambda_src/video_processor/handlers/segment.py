"""Step: cut and upload segments only (no DynamoDB), to validate ffmpeg + S3 in isolation."""

from __future__ import annotations

from typing import Any

from ..aws import client
from ..config import Config
from ..cutter import cut_and_upload
from ..deadline import Deadline
from ..events import parse_job_event
from ..keys import job_output_prefix
from ..logs import configure_logging, stage
from ..s3io import delete_prefix


def segment(event: Any, *, s3: Any, config: Config, remaining_ms: Any = None) -> dict:
    """Cut to processed/<job_id>/; on any failure remove what was uploaded, then re-raise."""
    request = parse_job_event(event, config)
    deadline = Deadline.start(remaining_ms, config.timeout_margin_ms)
    try:
        with stage(request.job_id, "cut", segment_duration=request.segment_duration) as info:
            segments = cut_and_upload(
                s3=s3, bucket=config.bucket, source_key=request.key, job_id=request.job_id,
                segment_duration=request.segment_duration, ffmpeg_path=config.ffmpeg_path, deadline=deadline,
            )
            info["segments"] = len(segments)
    except Exception:
        # Raising keeps the step's errorType meaningful; outputs must not outlive the failure.
        try:
            with stage(request.job_id, "cleanup_outputs"):
                delete_prefix(s3, config.bucket, job_output_prefix(request.job_id))
        except Exception:
            pass  # logged by stage(); the original error is the one to report
        raise
    return {
        "job_id": request.job_id,
        "segments": [{"key": s.key, "duration": s.duration} for s in segments],
        "segments_created": len(segments),
    }


def handler(event: Any, context: Any) -> dict:
    config = Config.from_env()
    configure_logging(config.log_level)
    return segment(event, s3=client("s3"), config=config,
                   remaining_ms=getattr(context, "get_remaining_time_in_millis", None))
