"""Step 2B: the function reads an upload and writes a byte-identical copy; a missing key writes nothing."""
from __future__ import annotations

from pathlib import PurePosixPath

ROUNDTRIP = "s3_roundtrip"
SMALL = "tier_10mb"


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


def test_missing_key_is_a_clear_error_and_writes_nothing(target, evidence) -> None:
    key = target.upload_key("does-not-exist.mp4")
    before = target.list_keys("test_output/")
    result = target.invoke(ROUNDTRIP, {"s3_bucket": target.bucket, "s3_key": key})
    assert result.function_error, f"a missing key did not fail: {result.payload}"
    assert result.payload.get("errorType") == "SourceNotFound", result.payload
    assert key in result.payload.get("errorMessage", ""), f"message does not name the key: {result.payload}"
    assert target.list_keys("test_output/") == before, "a failed round trip wrote to test_output/"
    evidence.add("reliable", "a missing key fails with SourceNotFound naming the key, and writes nothing")
