"""Test and drill endpoints, registered only when ENABLE_TEST_ENDPOINTS is true."""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError
from fastapi import APIRouter, Body, Depends, Request

from backend.aws import AwsCallError
from backend.deps import get_lambda, get_settings, get_store
from backend.errors import ApiError
from backend.routing import explain_sync_invoke_error, start_lambda_job
from backend.schemas import LambdaProcessingRequest, LambdaTestRequest, ProcessingMethodRequest, segment_value
from backend.settings import Settings

router = APIRouter(prefix="/api")

DEFAULT_TEST_PAYLOAD: dict[str, Any] = {"source": "backend", "action": "test"}


@router.post("/test/lambda")
def test_lambda(request: Request, body: LambdaTestRequest | None = Body(default=None)) -> dict[str, Any]:
    """Synchronous invoke of the test function; any failure is a non-2xx with the reason."""
    name = get_settings(request).LAMBDA_TEST_FUNCTION_NAME
    payload = body.payload if body is not None and body.payload is not None else DEFAULT_TEST_PAYLOAD
    try:
        result = get_lambda(request).invoke_sync(name, payload)
    except (ClientError, AwsCallError) as exc:
        raise explain_sync_invoke_error(name, exc) from exc
    reported = result.payload.get("statusCode") if isinstance(result.payload, dict) else None
    if isinstance(reported, int) and not isinstance(reported, bool) and reported >= 400:
        raise ApiError(
            502,
            f"Lambda function '{name}' reported statusCode {reported}",
            function_name=name,
            lambda_response=result.payload,
        )
    return {
        "status": "success",
        "function_name": name,
        "lambda_response": result.payload,
        "status_code": result.status_code,
    }


@router.post("/test/lambda-processing", status_code=202)
def test_lambda_processing(body: LambdaProcessingRequest, request: Request) -> dict[str, Any]:
    """Always-Lambda processing of an uploaded key, bypassing the flag (no Celery fallback)."""
    settings = get_settings(request)
    return start_lambda_job(
        settings=settings,
        store=get_store(request),
        invoker=get_lambda(request),
        job_id=str(uuid.uuid4()),
        s3_key=body.s3_key,
        segment_duration=segment_value(body.segment_duration, settings.SEGMENT_DURATION),
    )


@router.post("/admin/processing-method")
def set_processing_method(body: ProcessingMethodRequest, settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    """Rollback-drill aid: flip USE_LAMBDA_PROCESSING at runtime.

    Affects only this process and is lost on restart; the durable switch is the
    USE_LAMBDA_PROCESSING env var plus a restart.
    """
    previous = settings.processing_method
    settings.USE_LAMBDA_PROCESSING = body.use_lambda
    return {
        "use_lambda": settings.USE_LAMBDA_PROCESSING,
        "processing_method": settings.processing_method,
        "previous_processing_method": previous,
        "scope": "this process only, until restart",
    }
