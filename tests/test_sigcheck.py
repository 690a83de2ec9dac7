"""The gateway verifies what the function role's key signs, as AWS does: signature, region, clock, expiry."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from harness.local import sigcheck

KEY, SECRET, REGION = "AKIALOCALFUNCTIONROLE", "local-function-role-secret", "us-east-1"
CREDS = Credentials(KEY, SECRET, "local-session-abc")


def _signed(service: str, method: str, url: str, body: bytes, *, region: str = REGION, secret: str = SECRET,
            headers: dict | None = None) -> tuple[str, str, dict, bytes]:
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if service == "s3":
        import hashlib

        req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    (S3SigV4Auth if service == "s3" else SigV4Auth)(Credentials(KEY, secret, "tok"), service, region).add_auth(req)
    split = urlsplit(req.url)
    hdrs = dict(req.headers.items())
    hdrs["Host"] = split.netloc
    return split.path, split.query, hdrs, body


def _check(path, query, headers, body, method="PUT", sig="v4-header", now=None):
    return sigcheck.verify(method, path, query, headers, body, signature=sig, secret=SECRET, region=REGION, now=now)


def test_a_correctly_signed_s3_put_and_dynamodb_call_pass() -> None:
    assert _check(*_signed("s3", "PUT", "http://127.0.0.1:9/bucket/processed/j/seg%20000.mp4?x-id=PutObject",
                           b"segment")) is None
    path, query, headers, body = _signed("dynamodb", "POST", "http://127.0.0.1:9/", b'{"TableName": "t"}',
                                         headers={"X-Amz-Target": "DynamoDB_20120810.PutItem"})
    assert _check(path, query, headers, body, method="POST") is None


def test_the_wrong_secret_is_signature_does_not_match_per_service() -> None:
    bad = _check(*_signed("s3", "PUT", "http://127.0.0.1:9/b/k", b"x", secret="not-the-secret"))
    assert (bad.status, bad.code) == (403, "SignatureDoesNotMatch")
    path, query, headers, body = _signed("dynamodb", "POST", "http://127.0.0.1:9/", b"{}", secret="nope")
    assert _check(path, query, headers, body, method="POST").code == "InvalidSignatureException"


def test_a_request_signed_for_another_region_names_both_regions() -> None:
    bad = _check(*_signed("s3", "PUT", "http://127.0.0.1:9/b/k", b"x", region="eu-west-1"))
    assert bad.code == "AuthorizationHeaderMalformed" and "'eu-west-1' is wrong; expecting 'us-east-1'" in bad.message


def test_a_clock_16_minutes_off_is_refused() -> None:
    signed = _signed("s3", "PUT", "http://127.0.0.1:9/b/k", b"x")
    assert _check(*signed, now=time.time() + 16 * 60).code == "RequestTimeTooSkewed"
    assert _check(*signed, now=time.time() + 14 * 60) is None


def _presigned(expires: int, *, v2: bool = False) -> str:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url="http://127.0.0.1:9", aws_access_key_id=KEY,
                      aws_secret_access_key=SECRET, aws_session_token="local-session-abc",
                      config=Config(signature_version="s3" if v2 else "s3v4"))
    return s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "uploads/a b.mp4"},
                                     ExpiresIn=expires)


@pytest.mark.parametrize("v2", [False, True], ids=["sigv4", "sigv2"])
def test_a_presigned_url_works_until_it_expires(v2: bool) -> None:
    split = urlsplit(_presigned(60, v2=v2))
    sig = "v2-query" if v2 else "v4-query"
    headers = {"Host": split.netloc, "User-Agent": "Lavf/61.1.100"}
    assert _check(split.path, split.query, headers, b"", method="GET", sig=sig) is None
    late = _check(split.path, split.query, headers, b"", method="GET", sig=sig, now=time.time() + 61)
    assert (late.status, late.code, late.message) == (403, "AccessDenied", "Request has expired")
    forged = split.query.replace("a%20b", "other")
    assert _check(split.path.replace("a%20b", "other"), forged, headers, b"", method="GET", sig=sig).code \
        == "SignatureDoesNotMatch"


def test_through_the_gateway_an_expired_presigned_url_is_403_and_a_fresh_one_reads(tmp_path) -> None:
    from moto.server import ThreadedMotoServer

    from harness.local.gateway import Gateway
    from harness.local.net import free_port

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    gw = Gateway(port, region=REGION, function_secret=SECRET)
    try:
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=gw.url, aws_access_key_id=KEY,
                          aws_secret_access_key=SECRET, aws_session_token="local-session-abc",
                          config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket="sig-bucket")
        s3.put_object(Bucket="sig-bucket", Key="k", Body=b"video bytes")
        fresh = s3.generate_presigned_url("get_object", Params={"Bucket": "sig-bucket", "Key": "k"}, ExpiresIn=1)
        assert requests.get(fresh, timeout=10).content == b"video bytes"
        time.sleep(2.1)
        late = requests.get(fresh, timeout=10)
        assert late.status_code == 403 and b"Request has expired" in late.content
        wrong = boto3.client("s3", region_name="eu-west-1", endpoint_url=gw.url, aws_access_key_id=KEY,
                             aws_secret_access_key=SECRET, config=Config(signature_version="s3v4"))
        with pytest.raises(Exception, match="AuthorizationHeaderMalformed"):
            wrong.get_object(Bucket="sig-bucket", Key="k")
        assert gw.signatures_checked >= 4 and len(gw.rejected) == 2, gw.rejected
    finally:
        gw.close()
        moto.stop()
