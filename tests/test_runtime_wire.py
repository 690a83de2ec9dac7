"""Contract tests: the Invoke wire format is what boto3 expects from AWS."""
from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from harness.runtime import InvokeResult, LambdaRuntime, TooManyRequests
from harness.runtime.testing import make_spec, write_package
from harness.runtime.wire import (
    MAX_ASYNC_EVENT,
    MAX_SYNC_REQUEST,
    invoke_response,
    not_found_response,
    payload_problem,
    throttle_response,
)

APP = """
def handler(event, context):
    print("from the function")
    return {"echo": event}

def fail(event, context):
    raise KeyError("nope")
"""


def test_invoke_response_mapping() -> None:
    ok = invoke_response(InvokeResult(200, b'{"a": 1}', None, None, "rid"))
    assert ok == (200, {"Content-Type": "application/json", "x-amzn-RequestId": "rid",
                        "X-Amz-Executed-Version": "$LATEST"}, b'{"a": 1}')
    status, headers, body = invoke_response(InvokeResult(200, b"{}", "Unhandled", "dGFpbA==", "r2"))
    assert headers["X-Amz-Function-Error"] == "Unhandled" and headers["X-Amz-Log-Result"] == "dGFpbA=="
    status, headers, body = invoke_response(InvokeResult(202, b"", None, None, "r3"))
    assert status == 202 and body == b"" and "X-Amz-Function-Error" not in headers


def test_error_bodies() -> None:
    status, headers, body = throttle_response("f")
    assert status == 429 and headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert json.loads(body)["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    status, headers, body = not_found_response("f", region="eu-west-1")
    assert status == 404 and headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert json.loads(body)["Message"] == "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:f"


@pytest.fixture()
def endpoint(tmp_path: Path) -> Iterator[str]:
    """A minimal Lambda Invoke endpoint: the real runtime behind the wire module."""
    code = tmp_path / "code"
    write_package(code, {"app.py": APP})
    specs = {"echo": make_spec(code, name="echo"), "fail": make_spec(code, "app.fail", name="fail"),
             "busy": make_spec(code, name="busy", reserved_concurrency=0)}
    runtime = LambdaRuntime(tmp_path / "rt")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            name = self.path.split("/functions/")[1].split("/")[0]
            payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            spec = specs.get(name)
            refused = payload_problem(payload, self.headers.get("X-Amz-Invocation-Type", "RequestResponse"))
            if spec is None:
                status, headers, body = not_found_response(name)
            elif refused is not None:         # as harness.local.lambda_service answers
                status, headers, body = refused
            else:
                try:
                    result = runtime.invoke(spec, payload,
                                            invocation_type=self.headers.get("X-Amz-Invocation-Type", "RequestResponse"),
                                            log_type=self.headers.get("X-Amz-Log-Type", "None"))
                    status, headers, body = invoke_response(result)
                except TooManyRequests:
                    status, headers, body = throttle_response(name)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    runtime.close()


def _client(endpoint: str):
    return boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"total_max_attempts": 1}))


def test_boto3_reads_results_and_errors(endpoint: str) -> None:
    lam = _client(endpoint)
    ok = lam.invoke(FunctionName="echo", Payload=b'{"x": 1}', LogType="Tail")
    assert ok["StatusCode"] == 200 and "FunctionError" not in ok
    assert json.loads(ok["Payload"].read()) == {"echo": {"x": 1}}
    assert ok["ExecutedVersion"] == "$LATEST"
    assert "from the function" in base64.b64decode(ok["LogResult"]).decode()

    bad = lam.invoke(FunctionName="fail", Payload=b"{}")
    assert bad["FunctionError"] == "Unhandled"
    assert json.loads(bad["Payload"].read())["errorType"] == "KeyError"

    ev = lam.invoke(FunctionName="echo", Payload=b"{}", InvocationType="Event")
    assert ev["StatusCode"] == 202

    with pytest.raises(lam.exceptions.TooManyRequestsException) as exc:
        lam.invoke(FunctionName="busy", Payload=b"{}")
    assert exc.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert exc.value.response["Error"]["Code"] == "TooManyRequestsException"

    with pytest.raises(lam.exceptions.ResourceNotFoundException) as nf:
        lam.invoke(FunctionName="ghost", Payload=b"{}")
    assert "Function not found" in nf.value.response["Error"]["Message"]


def test_payloads_past_lambdas_limits_are_refused_as_aws_refuses_them(endpoint: str) -> None:
    """6 MB for a synchronous request, 1 MB for an asynchronous event, and a JSON body."""
    lam = _client(endpoint)
    big_event = b'{"x": "' + b"a" * (MAX_ASYNC_EVENT + 100 * 1024) + b'"}'       # 1.1 MB
    with pytest.raises(lam.exceptions.RequestTooLargeException) as exc:
        lam.invoke(FunctionName="echo", Payload=big_event, InvocationType="Event")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert json.loads(lam.invoke(FunctionName="echo", Payload=big_event)["Payload"].read())["echo"]["x"][:3] == "aaa"
    too_big = b'{"x": "' + b"a" * MAX_SYNC_REQUEST + b'"}'
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(FunctionName="echo", Payload=too_big)
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="echo", Payload=b"not json")
    assert payload_problem(b"", "Event") is None and payload_problem(b'{"a": 1}', "RequestResponse") is None
