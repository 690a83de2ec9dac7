"""Error shapes and handlers: every failure is JSON with a message, never a bare 500.

Body: ``{"detail": {"message": str, ...context}}`` (validation 422s keep
FastAPI's default list, which names the failing field).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.aws import AwsCallError, JobExistsError, LambdaFunctionError, LambdaInvokeError
from backend.dispatch import DispatchError

log = logging.getLogger("backend.errors")

THROTTLE_CODES = {
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
}
UNAVAILABLE_CODES = {"ServiceUnavailable", "ServiceUnavailableException", "InternalServerError", "ServiceException"}


class ApiError(Exception):
    """An expected failure with a status code and a human message."""

    def __init__(self, status_code: int, message: str, **context: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.context = context


def error_body(message: str, **context: Any) -> dict[str, Any]:
    return {"detail": {"message": message, **{k: v for k, v in context.items() if v is not None}}}


def describe_client_error(exc: ClientError) -> tuple[int, str, dict[str, Any]]:
    """Map a ClientError to (status, message, context); names the AWS operation."""
    err = exc.response.get("Error", {})
    code = str(err.get("Code", "Unknown"))
    msg = str(err.get("Message", "")) or str(exc)
    op = exc.operation_name
    ctx = {"aws_operation": op, "aws_error_code": code}
    if code in THROTTLE_CODES:
        return 429, f"AWS {op} was throttled ({code}): {msg}; retry later", ctx
    http = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in UNAVAILABLE_CODES or http in (500, 503):
        return 503, f"AWS {op} is unavailable ({code}): {msg}", ctx
    return 502, f"AWS {op} failed ({code}): {msg}", ctx


def describe_botocore_error(exc: AwsCallError) -> tuple[int, str, dict[str, Any]]:
    cause = exc.cause
    ctx = {"aws_operation": exc.operation, "aws_service": exc.service, "aws_error": type(cause).__name__}
    if isinstance(cause, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)):
        return 503, f"AWS {exc.service} {exc.operation} could not reach the endpoint: {cause}", ctx
    if isinstance(cause, (NoCredentialsError, PartialCredentialsError, NoRegionError)):
        return 503, f"AWS {exc.service} {exc.operation} is not configured: {cause}", ctx
    return 502, f"AWS {exc.service} {exc.operation} failed: {cause}", ctx


def describe_exception(exc: BaseException) -> tuple[int, str, dict[str, Any]]:
    """One place that turns any exception into (status, message, context)."""
    if isinstance(exc, ApiError):
        return exc.status_code, exc.message, exc.context
    if isinstance(exc, JobExistsError):
        return 409, f"Job {exc.job_id} already exists", {"job_id": exc.job_id}
    if isinstance(exc, LambdaFunctionError):
        return 502, f"Lambda function error: {exc.error_type}: {exc.error_message}", {
            "function_name": exc.function_name,
            "function_error": exc.function_error,
            "lambda_response": exc.payload,
            "lambda_request_id": exc.request_id,
        }
    if isinstance(exc, LambdaInvokeError):
        return 502, str(exc), {"function_name": exc.function_name}
    if isinstance(exc, ClientError):
        return describe_client_error(exc)
    if isinstance(exc, AwsCallError):
        return describe_botocore_error(exc)
    if isinstance(exc, BotoCoreError):
        return 502, f"AWS call failed: {type(exc).__name__}: {exc}", {}
    if isinstance(exc, DispatchError):
        return 503, f"Celery broker unavailable: {exc}", {}
    return 500, f"Internal error: {type(exc).__name__}", {}


def _response(request: Request | None, exc: BaseException) -> JSONResponse:
    status, message, ctx = describe_exception(exc)
    path = request.url.path if request is not None else "?"
    if status >= 500:
        log.error("%s -> %s: %s", path, status, message, exc_info=exc if status == 500 else None)
    else:
        log.warning("%s -> %s: %s", path, status, message)
    headers = {"Retry-After": "5"} if status in (429, 503) else None
    return JSONResponse(status_code=status, content=error_body(message, **_jsonable(ctx)), headers=headers)


def _jsonable(ctx: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in ctx.items():
        try:
            json.dumps(v)
            out[k] = v
        except (TypeError, ValueError):
            out[k] = repr(v)
    return out


class CatchAllMiddleware:
    """Last line: unhandled exceptions become a logged JSON 500 (no re-raise, no HTML)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                log.exception("error after response started on %s", scope.get("path"))
                raise
            request = Request(scope)
            await _response(request, exc)(scope, receive, send)


def json_safe(value: Any) -> Any:
    """Inf/NaN (which json.loads accepts as Infinity/NaN) become strings, so echoing
    the bad input in a 422 cannot itself fail to serialise."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's default 422 body (loc names the field), made JSON-safe."""
    return JSONResponse(status_code=422, content={"detail": json_safe(jsonable_encoder(exc.errors()))})


def install_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return _response(request, exc)

    app.add_exception_handler(RequestValidationError, validation_error_handler)

    for exc_type in (ApiError, JobExistsError, LambdaFunctionError, LambdaInvokeError, ClientError, AwsCallError, BotoCoreError, DispatchError):
        app.add_exception_handler(exc_type, handle)
    app.add_middleware(CatchAllMiddleware)
