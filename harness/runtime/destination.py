"""The record Lambda sends to an async invocation's on-failure destination (pure).

Shape: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
"""
from __future__ import annotations

import json
from datetime import UTC, datetime


def destination_record(function_arn: str, request_id: str, request: bytes, response: bytes | None, condition: str,
                       count: int) -> bytes:
    """The JSON Lambda sends to an on-failure destination (pure). response None: the function never ran
    (throttled until the event was too old, or reserved concurrency 0), so there is no response part."""
    def as_json(raw: bytes) -> object:
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    record = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {"requestId": request_id, "functionArn": f"{function_arn}:$LATEST",
                           "condition": condition, "approximateInvokeCount": count},
        "requestPayload": as_json(request),
    }
    if response is not None:
        record["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
        record["responsePayload"] = as_json(response)
    return json.dumps(record).encode()
