"""The Lambda Invoke HTTP wire format, as boto3/botocore parse it.

Pure functions so an HTTP front end (moto-side or our own) can answer Invoke
exactly like AWS: botocore's restJson parser takes the error code from the
``x-amzn-ErrorType`` header and the message from ``message``/``Message``.
"""
from __future__ import annotations

import json

from .spec import InvokeResult

ACCOUNT_ID = "123456789012"


def invoke_response(result: InvokeResult) -> tuple[int, dict[str, str], bytes]:
    """Map an InvokeResult to (status, headers, body) of the Invoke API."""
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": result.request_id}
    if result.status_code == 200:
        headers["X-Amz-Executed-Version"] = "$LATEST"
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    if result.log_tail is not None:
        headers["X-Amz-Log-Result"] = result.log_tail
    return result.status_code, headers, bytes(result.payload)


def _error(status: int, error_type: str, body: dict[str, object], request_id: str | None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error_type}
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    return status, headers, json.dumps(body).encode()


def throttle_response(name: str, *, request_id: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """429 for reserved concurrency exhausted; boto3 raises TooManyRequestsException."""
    return _error(429, "TooManyRequestsException", {
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "Type": "User",
        "message": "Rate Exceeded.",
        "__type": "TooManyRequestsException",
    }, request_id)


def not_found_response(name: str, *, region: str = "us-east-1", account_id: str = ACCOUNT_ID,
                       request_id: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """404 for an unknown function; boto3 raises ResourceNotFoundException."""
    arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return _error(404, "ResourceNotFoundException", {
        "Type": "User",
        "Message": f"Function not found: {arn}",
        "__type": "ResourceNotFoundException",
    }, request_id)


# Invoke payload limits: 6 MB for a synchronous request (and its response, harness.runtime.instance),
# 1 MB for an asynchronous event (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
MAX_SYNC_REQUEST = 6 * 1024 * 1024
MAX_ASYNC_EVENT = 1024 * 1024


def payload_problem(body: bytes, invocation_type: str) -> tuple[int, dict[str, str], bytes] | None:
    """AWS's answer to an Invoke whose payload it refuses (too large, or not JSON); None when it is fine."""
    import json

    limit = MAX_ASYNC_EVENT if invocation_type == "Event" else MAX_SYNC_REQUEST
    if len(body or b"") > limit:
        return _error(413, "RequestTooLargeException", {
            "Type": "User", "__type": "RequestTooLargeException",
            "message": f"Request must be smaller than {limit} bytes for the InvokeFunction operation"}, None)
    if body and body.strip():
        try:
            json.loads(body)
        except ValueError as e:
            return _error(400, "InvalidRequestContentException", {
                "Type": "User", "__type": "InvalidRequestContentException",
                "message": f"Could not parse request body into json: {e}"}, None)
    return None
