"""Where a job goes: Lambda (async invoke) or Celery, with fallback to Celery.

Kept out of the route functions so the decision and its bookkeeping read in
one place. Duplicate delivery is safe: run_job claims QUEUED->PROCESSING with
a conditional write, so at most one processor works on a job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from video_processor.core import QUEUED

from backend import rollout
from backend.aws import AwsCallError, JobStore, LambdaInvoker
from backend.deps import require
from backend.dispatch import Dispatcher, DispatchError
from backend.errors import ApiError, describe_exception
from backend.settings import Settings

log = logging.getLogger("backend.routing")


def status_url(job_id: str) -> str:
    return f"/api/jobs/{job_id}/status"


def make_event(settings: Settings, job_id: str, s3_key: str, segment_duration: float) -> dict[str, Any]:
    """The processor's event contract, identical for Lambda and Celery."""
    return {
        "job_id": job_id,
        "s3_bucket": require(settings, "AWS_BUCKET_NAME"),
        "s3_key": s3_key,
        "segment_duration": segment_duration,
    }


def invoke_failure_message(exc: BaseException) -> str:
    return describe_exception(exc)[1]


def dispatch_to_celery(store: JobStore, dispatcher: Dispatcher, event: dict[str, Any]) -> str:
    """Queue on Celery; if the broker is down the job is marked FAILED (it would never run)."""
    try:
        return dispatcher(event)
    except DispatchError as exc:
        try:
            store.mark_failed(event["job_id"], str(exc))
        except Exception:  # the 503 for the broker is the error worth returning
            log.exception("could not mark job %s FAILED after dispatch error", event["job_id"])
        raise


def start_job(
    *,
    settings: Settings,
    store: JobStore,
    invoker: LambdaInvoker,
    dispatcher: Dispatcher,
    job_id: str,
    s3_key: str,
    segment_duration: float,
    weights: Callable[[], tuple[object, str]] | None = None,
) -> dict[str, Any]:
    """Create the QUEUED record, then route: USE_LAMBDA_PROCESSING (read now, per request) above the rollout
    weight (weights() -> (raw weight, salt), cached from SSM)."""
    event = make_event(settings, job_id, s3_key, segment_duration)
    flag = settings.USE_LAMBDA_PROCESSING
    raw, salt = weights() if flag is None and weights is not None else (None, "")
    route = rollout.decide(job_id, flag, raw, salt)
    use_lambda = route.method == "lambda"
    store.create(job_id, s3_key=s3_key, processing_method=route.method, rollout_weight=route.weight,
                 routed_by=route.by)
    response: dict[str, Any] = {"status": "processing_started", "job_id": job_id, "check_status_url": status_url(job_id),
                                "rollout_weight": route.weight, "routed_by": route.by}

    if use_lambda:
        try:
            request_id = invoker.invoke_async(settings.LAMBDA_FUNCTION_NAME, event)
            return {**response, "processing_method": "lambda", "lambda_request_id": request_id}
        except Exception as exc:  # any invoke failure -> Celery, recorded on the job
            reason = f"Lambda invoke of {settings.LAMBDA_FUNCTION_NAME} failed: {invoke_failure_message(exc)}"
            log.warning("job %s: %s; falling back to Celery", job_id, reason)
            try:
                still_queued = store.update(
                    job_id, {"processing_method": "celery", "fallback_reason": reason}, only_if_status=QUEUED
                )
            except Exception:
                log.exception("job %s: could not record the fallback; dispatching anyway", job_id)
                still_queued = True
            if not still_queued:
                # The invoke errored client-side but the function got the event and claimed the job.
                return {**response, "processing_method": "lambda"}
            response["fallback_reason"] = reason

    task_id = dispatch_to_celery(store, dispatcher, event)
    return {**response, "processing_method": "celery", "task_id": task_id}


def start_lambda_job(
    *, settings: Settings, store: JobStore, invoker: LambdaInvoker, job_id: str, s3_key: str, segment_duration: float
) -> dict[str, Any]:
    """Test path: always Lambda, no fallback; a failed invoke marks the job FAILED and is a 502."""
    event = make_event(settings, job_id, s3_key, segment_duration)
    store.create(job_id, s3_key=s3_key, processing_method="lambda")
    try:
        request_id = invoker.invoke_async(settings.LAMBDA_FUNCTION_NAME, event)
    except Exception as exc:
        _status, message, ctx = describe_exception(exc)
        reason = f"Lambda invoke of {settings.LAMBDA_FUNCTION_NAME} failed: {message}"
        try:
            store.mark_failed(job_id, reason)
        except Exception:
            log.exception("could not mark job %s FAILED", job_id)
        raise ApiError(502, reason, job_id=job_id, function_name=settings.LAMBDA_FUNCTION_NAME, **ctx) from exc
    return {
        "status": "processing_started",
        "job_id": job_id,
        "processing_method": "lambda",
        "lambda_request_id": request_id,
        "check_status_url": status_url(job_id),
    }


def explain_sync_invoke_error(function_name: str, exc: ClientError | AwsCallError) -> ApiError:
    """Sync test invoke: same mapping as everywhere, but always naming the function."""
    status, message, ctx = describe_exception(exc)
    if isinstance(exc, ClientError) and ctx.get("aws_error_code") == "ResourceNotFoundException":
        return ApiError(502, f"Lambda function '{function_name}' not found: {message}", function_name=function_name, **ctx)
    return ApiError(status, f"Invoking Lambda function '{function_name}': {message}", function_name=function_name, **ctx)
