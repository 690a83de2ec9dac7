"""Always-on endpoints: upload completion, job status, health.

Adapters are built inside the route body (not as Depends) so request
validation always answers first: a bad body is a 422 even when AWS is down.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from video_processor.core import TIMESTAMP_FORMAT

from backend.aws import presign_get, split_output_ref
from backend.deps import get_clients, get_dispatcher, get_lambda, get_settings, get_store, get_weights
from backend.errors import ApiError
from backend.routing import start_job
from backend.schemas import UploadCompleteRequest, segment_value
from backend.settings import Settings
from backend.version import code_sha256

router = APIRouter(prefix="/api")


@router.get("/health")
def health(settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    """Cheap (no AWS calls): tells a drill which path new uploads take right now."""
    return {
        "status": "ok",
        "processing_method": settings.processing_method,
        "test_endpoints": bool(settings.ENABLE_TEST_ENDPOINTS),
    }


@router.get("/version")
def version() -> dict[str, Any]:
    """The sha256 of this backend's own source (CONTRACT B6): a run compares the deployed code, not its checkout."""
    return {"backend_sha256": code_sha256()}


@router.post("/upload/complete", status_code=202)
def upload_complete(body: UploadCompleteRequest, request: Request) -> dict[str, Any]:
    """Record the job (QUEUED) and hand it to Lambda or Celery; 409 if the id exists."""
    settings = get_settings(request)
    return start_job(
        settings=settings,
        store=get_store(request),
        invoker=get_lambda(request),
        dispatcher=get_dispatcher(request),
        job_id=str(body.job_id),
        s3_key=body.s3_key,
        segment_duration=segment_value(body.segment_duration, settings.SEGMENT_DURATION),
        weights=get_weights(request),
    )


def _age_s(stamp: object) -> float | None:
    try:
        then = datetime.strptime(str(stamp), TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return (datetime.now(UTC) - then).total_seconds()


@router.get("/jobs/{job_id}/status")
def job_status(job_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """Job record plus presigned download URLs once COMPLETED; 404 for unknown ids."""
    settings = get_settings(request)
    jid = str(job_id)
    store = get_store(request)
    job = store.get(jid)
    if job is None:
        raise ApiError(404, f"Job {jid} not found", job_id=jid)
    age = _age_s(job.get("updated_at"))
    limit = settings.PROCESSING_STALE_AFTER_SECONDS
    if job.get("status") == "PROCESSING" and age is not None and age > limit:
        reason = (f"Stale: PROCESSING for {age:.0f} s without an update, longer than the processor's "
                  f"timeout plus margin ({limit} s); the function was killed or crashed")
        store.mark_stale(jid, job["updated_at"], reason)
        job = store.get(jid) or job      # FAILED now, or whatever the processor wrote meanwhile
    segments = [str(k) for k in (job.get("output_s3_urls") or [])]
    status = job.get("status")
    download_urls: list[str] = []
    if status == "COMPLETED" and segments:
        s3 = get_clients(request).s3
        expires = settings.PRESIGNED_URL_EXPIRES_SECONDS
        download_urls = [presign_get(s3, *split_output_ref(ref, settings.AWS_BUCKET_NAME), expires) for ref in segments]
    out = {
        "job_id": jid,
        "status": status,
        "segments": segments,
        "download_urls": download_urls,
        "segments_created": job.get("segments_created", len(segments) if status == "COMPLETED" else 0),
        "error_message": job.get("error_message"),
        "created_at": job.get("created_at"),
        "updated_at": job.get("updated_at"),
        "processing_method": job.get("processing_method"),
        "processing_duration_seconds": job.get("processing_duration_seconds"),
        "s3_key": job.get("s3_key"),
    }
    if job.get("fallback_reason"):
        out["fallback_reason"] = job["fallback_reason"]
    return out
