"""The embedded AWS gateway: the function role's policy applied to its requests, and fault injection."""
from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from harness.local.faults import FaultRule
from harness.local.gateway import Gateway
from harness.local.iam import FUNCTION_ACCESS_KEY
from harness.local.net import free_port
from harness.stack.terraform import Statement

BUCKET = "videos"
POLICY = [
    Statement("ReadUploads", "Allow", ("s3:GetObject",), (f"arn:aws:s3:::{BUCKET}/uploads/*",), ()),
    Statement("WriteOutputs", "Allow", ("s3:PutObject", "s3:DeleteObject"),
              (f"arn:aws:s3:::{BUCKET}/processed/*", f"arn:aws:s3:::{BUCKET}/test_output/*"), ()),
    Statement("Jobs", "Allow", ("dynamodb:GetItem",), ("arn:aws:dynamodb:us-east-1:123456789012:table/jobs",), ()),
]


@pytest.fixture(scope="module")
def gateway():
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    gw = Gateway(port, policy=POLICY)
    admin = boto3.client("s3", endpoint_url=gw.url, region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing")
    admin.create_bucket(Bucket=BUCKET)
    admin.put_object(Bucket=BUCKET, Key="uploads/a.mp4", Body=b"video")
    admin.put_object(Bucket=BUCKET, Key="private/secret.txt", Body=b"secret")
    ddb = boto3.client("dynamodb", endpoint_url=gw.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    ddb.create_table(TableName="jobs", KeySchema=[{"AttributeName": "video_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "video_id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    yield gw
    gw.close()
    moto.stop()


def client(gw: Gateway, service: str, key: str = FUNCTION_ACCESS_KEY, retries: int = 1):
    return boto3.client(service, endpoint_url=gw.url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key="x", config=Config(retries={"total_max_attempts": retries}))


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_function_may_read_uploads_and_write_outputs(gateway) -> None:
    s3 = client(gateway, "s3")
    assert s3.get_object(Bucket=BUCKET, Key="uploads/a.mp4")["Body"].read() == b"video"
    s3.put_object(Bucket=BUCKET, Key="processed/j/segment_000.mp4", Body=b"x")
    s3.delete_object(Bucket=BUCKET, Key="processed/j/segment_000.mp4")


@pytest.mark.parametrize("call", ["read_private", "write_uploads", "write_root", "delete_upload"])
def test_function_cannot_leave_its_prefixes(gateway, call) -> None:
    s3 = client(gateway, "s3")
    actions = {
        "read_private": lambda: s3.get_object(Bucket=BUCKET, Key="private/secret.txt"),
        "write_uploads": lambda: s3.put_object(Bucket=BUCKET, Key="uploads/evil.mp4", Body=b"x"),
        "write_root": lambda: s3.put_object(Bucket=BUCKET, Key="evil.mp4", Body=b"x"),
        "delete_upload": lambda: s3.delete_object(Bucket=BUCKET, Key="uploads/a.mp4"),
    }
    with pytest.raises(ClientError) as exc:
        actions[call]()
    assert code(exc) in ("AccessDenied", "403")
    assert any("may not" in d for d in gateway.denied)


def test_batch_delete_is_checked_per_key(gateway) -> None:
    s3 = client(gateway, "s3")
    with pytest.raises(ClientError) as exc:
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "processed/x"}, {"Key": "uploads/a.mp4"}]})
    assert code(exc) in ("AccessDenied", "403")


def test_other_principals_are_not_restricted(gateway) -> None:
    s3 = client(gateway, "s3", key="testing")
    assert s3.get_object(Bucket=BUCKET, Key="private/secret.txt")["Body"].read() == b"secret"


def test_dynamodb_actions_are_checked_against_the_table(gateway) -> None:
    ddb = client(gateway, "dynamodb")
    ddb.get_item(TableName="jobs", Key={"video_id": {"S": "x"}})
    with pytest.raises(ClientError) as exc:
        ddb.put_item(TableName="jobs", Item={"video_id": {"S": "x"}})
    assert code(exc) == "AccessDenied"


def test_fault_skips_then_fails_a_counted_number_of_times(gateway) -> None:
    s3 = client(gateway, "s3")
    rule = gateway.faults.add(FaultRule(service="s3", operation="PutObject", match="processed/f/", error="SlowDown",
                                        skip=1, times=2))
    try:
        s3.put_object(Bucket=BUCKET, Key="processed/f/0", Body=b"1")            # skipped
        for _ in range(2):
            with pytest.raises(ClientError) as exc:
                s3.put_object(Bucket=BUCKET, Key="processed/f/1", Body=b"1")
            assert code(exc) == "SlowDown"
        s3.put_object(Bucket=BUCKET, Key="processed/f/1", Body=b"1")            # healed
        assert (rule.seen, rule.hits) == (4, 2)
    finally:
        gateway.faults.remove(rule)


def test_dynamodb_throttling_has_the_aws_error_shape(gateway) -> None:
    ddb = client(gateway, "dynamodb")
    rule = gateway.faults.add(FaultRule(service="dynamodb", operation="GetItem",
                                        error="ProvisionedThroughputExceededException"))
    try:
        with pytest.raises(ClientError) as exc:
            ddb.get_item(TableName="jobs", Key={"video_id": {"S": "x"}})
        assert code(exc) == "ProvisionedThroughputExceededException"
        # the harness's own requests are not faulted
        client(gateway, "dynamodb", key="testing").get_item(TableName="jobs", Key={"video_id": {"S": "x"}})
    finally:
        gateway.faults.remove(rule)


def test_large_objects_stream_through_intact(gateway) -> None:
    s3 = client(gateway, "s3", key="testing")
    blob = bytes(range(256)) * 40000  # ~10 MB
    s3.put_object(Bucket=BUCKET, Key="uploads/big.bin", Body=blob)
    assert client(gateway, "s3").get_object(Bucket=BUCKET, Key="uploads/big.bin")["Body"].read() == blob
    part = client(gateway, "s3").get_object(Bucket=BUCKET, Key="uploads/big.bin", Range="bytes=100-199")
    assert part["Body"].read() == blob[100:200]


# -- every signature is seen (SigV4 header, SigV4 query, SigV2 query, SigV2 header) ------------

def _presigned(gw: Gateway, key: str, version: str | None) -> str:
    cfg = Config(signature_version=version) if version else Config()
    s3 = boto3.client("s3", endpoint_url=gw.url, region_name="us-east-1", aws_access_key_id=FUNCTION_ACCESS_KEY,
                      aws_secret_access_key="x", config=cfg)
    return s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=60)


def test_boto3_presigns_s3_with_sigv2_by_default() -> None:
    """Why the gateway must read SigV2: it is what a default-configured S3 client presigns."""
    s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                      aws_access_key_id=FUNCTION_ACCESS_KEY, aws_secret_access_key="x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "uploads/a.mp4"}, ExpiresIn=60)
    assert "AWSAccessKeyId=" in url and "Signature=" in url and "X-Amz-Credential" not in url


@pytest.mark.parametrize("version", [None, "s3v4"], ids=["sigv2-query", "sigv4-query"])
def test_a_presigned_get_outside_the_role_prefixes_is_denied(gateway, version) -> None:
    import requests

    assert requests.get(_presigned(gateway, "uploads/a.mp4", version), timeout=10).content == b"video"
    denied = requests.get(_presigned(gateway, "private/secret.txt", version), timeout=10)
    assert denied.status_code == 403 and b"AccessDenied" in denied.content


def test_a_sigv2_presigned_get_is_delayed_by_a_matching_fault_rule(gateway) -> None:
    import time

    import requests

    rule = gateway.faults.add(FaultRule(service="s3", operation="GetObject", match="uploads/a.mp4", delay_s=1.0))
    try:
        t0 = time.monotonic()
        assert requests.get(_presigned(gateway, "uploads/a.mp4", None), timeout=10).content == b"video"
        elapsed = time.monotonic() - t0
    finally:
        gateway.faults.remove(rule)
    assert rule.hits == 1 and elapsed >= 1.0, (rule.hits, elapsed)


def test_sigv2_use_by_the_function_is_recorded_for_the_report(gateway) -> None:
    import requests

    before = len(gateway.sigv2)
    requests.get(_presigned(gateway, "uploads/a.mp4", None), timeout=10)
    requests.get(_presigned(gateway, "uploads/a.mp4", "s3v4"), timeout=10)
    assert gateway.sigv2[before:] == [f"GetObject s3://{BUCKET}/uploads/a.mp4 (v2-query)"]


def test_copy_object_needs_read_on_its_source(gateway) -> None:
    s3 = client(gateway, "s3")
    s3.copy_object(Bucket=BUCKET, Key="processed/j/copy.mp4", CopySource={"Bucket": BUCKET, "Key": "uploads/a.mp4"})
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=BUCKET, Key="processed/j/leak.txt",
                       CopySource={"Bucket": BUCKET, "Key": "private/secret.txt"})
    assert code(exc) == "AccessDenied"
    assert "s3:GetObject on arn:aws:s3:::videos/private/secret.txt" in gateway.denied[-1]


@pytest.mark.parametrize("service,call", [
    ("sqs", lambda c: c.list_queues()),
    ("lambda", lambda c: c.invoke(FunctionName="anything", Payload=b"{}")),
    ("dynamodb", lambda c: c.delete_table(TableName="jobs")),
])
def test_services_and_actions_the_role_does_not_grant_are_denied(gateway, service, call) -> None:
    with pytest.raises(ClientError) as exc:
        call(client(gateway, service))
    assert "AccessDenied" in code(exc) or exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_get_caller_identity_needs_no_permission(gateway) -> None:
    """AWS documents that sts:GetCallerIdentity needs no permission; the gateway must not deny it."""
    identity = client(gateway, "sts").get_caller_identity()
    assert identity["Account"]
    assert not any("sts:GetCallerIdentity" in d for d in gateway.denied)
