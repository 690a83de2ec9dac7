"""Step 2B: the function reads an upload and writes a byte-identical copy; a missing key writes nothing."""
from __future__ import annotations

from pathlib import PurePosixPath

import pytest

ROUNDTRIP = "s3_roundtrip"
SMALL = "tier_10mb"


@pytest.mark.contract("T3")
def test_roundtrip_copy_is_byte_identical(target, manifest, evidence) -> None:
    fixture = manifest[SMALL]
    key = target.upload_file(fixture.path)
    result = target.invoke(ROUNDTRIP, {"s3_bucket": target.bucket, "s3_key": key})
    assert result.ok, f"round trip failed: {result.payload}"
    body = result.payload
    out_key = body["output_key"]
    target.created_keys.add(out_key)
    assert body["size"] == fixture.size, f"function read {body['size']} bytes, the fixture has {fixture.size}"
    assert out_key == f"test_output/{PurePosixPath(key).name}", out_key
    size, sha = target.sha256_of(out_key)
    assert (size, sha) == (fixture.size, fixture.sha256), f"copy differs: {size} bytes sha256 {sha[:12]}"
    evidence.add("works", f"{fixture.name}: {fixture.size} bytes copied to test_output/ byte-identical (sha256)")


@pytest.mark.contract("T3")
def test_missing_key_is_a_clear_error_and_writes_nothing(target, evidence) -> None:
    key = target.upload_key("does-not-exist.mp4")
    before = target.list_keys("test_output/")
    result = target.invoke(ROUNDTRIP, {"s3_bucket": target.bucket, "s3_key": key})
    assert result.function_error, f"a missing key did not fail: {result.payload}"
    assert result.payload.get("errorType") == "SourceNotFound", result.payload
    assert key in result.payload.get("errorMessage", ""), f"message does not name the key: {result.payload}"
    assert target.list_keys("test_output/") == before, "a failed round trip wrote to test_output/"
    evidence.add("reliable", "a missing key fails with SourceNotFound naming the key, and writes nothing")


@pytest.mark.local_only
@pytest.mark.parametrize("action,key", [("get", "private/secret.txt"), ("get", "reports/x.json"),
                                        ("put", "uploads/overwrite.mp4"), ("put", "evil.mp4"),
                                        ("delete", "uploads/{run}/keep.mp4")])
@pytest.mark.contract("V3")
def test_function_role_cannot_leave_its_prefixes(target, evidence, action, key) -> None:
    """Proven on local by the gateway applying the role policy parsed from terraform to requests
    signed with the function's own key (not by a policy simulation)."""
    from botocore.config import Config
    from botocore.exceptions import ClientError

    from harness.local.iam import FUNCTION_ACCESS_KEY
    from harness.local.stack import FUNCTION_SECRET  # signed as the role signs: the gateway verifies it

    key = key.format(run=target.run_id)
    target.s3.put_object(Bucket=target.bucket, Key=key, Body=b"owned by someone else")
    target.created_keys.add(key)
    as_function = target.session.client("s3", endpoint_url=target.endpoint_url, aws_access_key_id=FUNCTION_ACCESS_KEY,
                                        aws_secret_access_key=FUNCTION_SECRET, config=Config(retries={"total_max_attempts": 1}))
    call = {"get": lambda: as_function.get_object(Bucket=target.bucket, Key=key),
            "put": lambda: as_function.put_object(Bucket=target.bucket, Key=key, Body=b"tampered"),
            "delete": lambda: as_function.delete_object(Bucket=target.bucket, Key=key)}[action]
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["Error"]["Code"] == "AccessDenied", exc.value.response["Error"]
    assert target.s3.get_object(Bucket=target.bucket, Key=key)["Body"].read() == b"owned by someone else"
    evidence.add("reliable", f"function role: {action} on {key.split('/')[0]}/... denied by the terraform policy")
