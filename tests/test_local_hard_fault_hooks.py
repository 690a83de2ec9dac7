"""The embedded AWS's hooks for the hard-fault drills of step 4B: a fault that crashes the caller, and
async invocation settings that a drill can change for its duration (as AWS's Put/Update calls do)."""
from __future__ import annotations

import io
import signal
import uuid
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from harness.local.faults import FaultRule
from harness.local.gateway import Gateway
from harness.local.iam import FUNCTION_ACCESS_KEY
from harness.local.net import free_port

CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


class _Runtime:
    """Stands in for LambdaRuntime.signal_client: records whom the gateway asked to crash."""

    def __init__(self, found: bool) -> None:
        self.found = found
        self.calls: list[tuple] = []

    def signal_client(self, peer, server_port, signum):
        self.calls.append((peer, server_port, signum))
        return {"function": "fn", "instance": "i-1", "pid": 4242, "runtime_pid": 4242, "signal": signum} \
            if self.found else None


class _Service:
    def __init__(self, runtime: _Runtime) -> None:
        self.runtime = runtime


@pytest.fixture(scope="module")
def moto_port():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", **CREDS)
    s3.create_bucket(Bucket="videos")
    yield port
    server.stop()


@pytest.mark.parametrize("found", [True, False])
def test_a_crash_fault_signals_the_caller_and_the_request_never_lands(moto_port: int, found: bool) -> None:
    runtime = _Runtime(found)
    gw = Gateway(moto_port, lambda_service=_Service(runtime))
    try:
        job = uuid.uuid4().hex      # its own prefix: the module's moto server is shared with the other tests
        rule = gw.faults.add(FaultRule(service="s3", operation="PutObject", match=f"processed/{job}/segment_001",
                                       crash="segv"))
        fn = boto3.client("s3", endpoint_url=gw.url, aws_access_key_id=FUNCTION_ACCESS_KEY,
                          aws_secret_access_key="x", region_name="us-east-1",
                          config=Config(retries={"total_max_attempts": 1}))
        fn.put_object(Bucket="videos", Key=f"processed/{job}/segment_000.mp4", Body=b"a")     # not matched
        with pytest.raises(ClientError):
            fn.put_object(Bucket="videos", Key=f"processed/{job}/segment_001.mp4", Body=b"b")
        assert rule.crash == "SIGSEGV" and rule.hits == 1
        [(peer, port, signum)] = runtime.calls
        assert peer[0] == "127.0.0.1" and port == gw.port and signum == signal.SIGSEGV
        assert rule.crashed == ([{"function": "fn", "instance": "i-1", "pid": 4242, "runtime_pid": 4242,
                                  "signal": signal.SIGSEGV}] if found else [])
        admin = boto3.client("s3", endpoint_url=gw.url, **CREDS)
        keys = [o["Key"] for o in admin.list_objects_v2(Bucket="videos", Prefix=f"processed/{job}/").get("Contents", [])]
        assert keys == [f"processed/{job}/segment_000.mp4"]          # the crashed upload never reached S3
        admin.delete_object(Bucket="videos", Key=f"processed/{job}/segment_000.mp4")
    finally:
        gw.close()


def test_a_crash_fault_must_name_a_signal() -> None:
    with pytest.raises(ValueError, match="not a signal name"):
        FaultRule(service="s3", crash="SIGNOPE")


def test_event_invoke_config_put_overwrites_and_update_merges(tmp_path, moto_port: int) -> None:
    """moto keeps the first configuration it was given; AWS's Put replaces it and Update changes the
    fields it names. The Lambda service gives the AWS behaviour, which a drill relies on to shorten an
    event's maximum age for its duration, and tells the runtime about every change."""
    from harness.local.lambda_service import LambdaService

    class Changes:
        def __init__(self) -> None:
            self.names: list[str] = []

        def configuration_changed(self, name: str) -> None:
            self.names.append(name)

    changes = Changes()
    gw = Gateway(moto_port)
    gw.lambda_service = LambdaService(moto_port, tmp_path, runtime=changes, region="us-east-1",
                                      credentials={k: v for k, v in CREDS.items() if k != "region_name"})
    try:
        iam = boto3.client("iam", endpoint_url=gw.url, **CREDS)
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", "def handler(e, c):\n    return 1\n")
        lam = boto3.client("lambda", endpoint_url=gw.url, **CREDS)
        lam.create_function(FunctionName="cfg", Runtime="python3.11", Role=role, Handler="app.handler",
                            Code={"ZipFile": buf.getvalue()})
        dest = {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}}

        def current() -> dict:
            got = lam.get_function_event_invoke_config(FunctionName="cfg")
            return {k: got.get(k) for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")}

        lam.put_function_event_invoke_config(FunctionName="cfg", MaximumRetryAttempts=2,
                                             MaximumEventAgeInSeconds=3600, DestinationConfig=dest)
        lam.put_function_event_invoke_config(FunctionName="cfg", MaximumRetryAttempts=1,
                                             MaximumEventAgeInSeconds=120, DestinationConfig=dest)
        assert current() == {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 120, "DestinationConfig": dest}
        lam.update_function_event_invoke_config(FunctionName="cfg", MaximumEventAgeInSeconds=60)
        assert current() == {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60, "DestinationConfig": dest}
        lam.put_function_event_invoke_config(FunctionName="cfg", MaximumEventAgeInSeconds=90)
        assert current() == {"MaximumRetryAttempts": None, "MaximumEventAgeInSeconds": 90, "DestinationConfig": None}
        # each change wakes the function's throttled async events (LambdaRuntime.configuration_changed)
        assert changes.names == ["cfg"] * 4
        lam.put_function_concurrency(FunctionName="cfg", ReservedConcurrentExecutions=1)
        assert changes.names == ["cfg"] * 5
    finally:
        gw.close()
