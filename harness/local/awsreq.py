"""Pure parsing of an AWS HTTP request: who signed it and how, which service, operation and resource.

Every way a client signs is recognised, so IAM and fault injection see every request:
SigV4 in the Authorization header, SigV4 in the query (presigned), and the deprecated
SigV2 in the query (`AWSAccessKeyId=...&Signature=...`, what boto3 presigns for S3 unless
told `s3v4`) or in the header (`Authorization: AWS <key>:<sig>`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, unquote

# Every write a function can make, by service: faults aim at these (a drill faults the boundary, not one
# processor's choice of call), and the wire log attributes each of them, deletes included.
S3_WRITES = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject",
             "UploadPartCopy")
S3_DELETES = ("DeleteObject", "DeleteObjects")
DYNAMODB_WRITES = ("PutItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem")
DYNAMODB_DELETES = ("DeleteItem",)

_CRED = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_V2_HEADER = re.compile(r"^AWS ([^:\s]+):")
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


@dataclass(frozen=True)
class AwsRequest:
    service: str
    access_key: str
    region: str
    operation: str
    bucket: str | None = None
    key: str | None = None
    table: str | None = None
    signature: str = "none"          # v4-header | v4-query | v2-query | v2-header | none
    copy_source: str | None = None   # "bucket/key" of a CopyObject
    function: str | None = None      # Lambda function name of an Invoke
    queue: str | None = None         # SQS queue name (from QueueUrl)
    session_token: str | None = None  # X-Amz-Security-Token (header or query): which execution environment

    @property
    def sigv2(self) -> bool:
        return self.signature.startswith("v2")


def parse(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> AwsRequest:
    lower = {k.lower(): v for k, v in headers.items()}
    params = parse_qs(query, keep_blank_values=True)
    access, region, service, signature = "", "", "", "none"
    auth = lower.get("authorization", "")
    m = _CRED.search(auth)
    if m:
        (access, region, service), signature = m.groups(), "v4-header"
    elif "X-Amz-Credential" in params:
        parts = unquote(params["X-Amz-Credential"][0]).split("/")
        if len(parts) >= 5:
            access, region, service, signature = parts[0], parts[2], parts[3], "v4-query"
    elif "AWSAccessKeyId" in params and "Signature" in params:
        access, service, signature = params["AWSAccessKeyId"][0], "s3", "v2-query"   # SigV2 exists for S3 here
    elif _V2_HEADER.match(auth):
        access, service, signature = _V2_HEADER.match(auth).group(1), "s3", "v2-header"
    if service == "s3":
        req = _s3(method, path, params, access, region, lower)
    elif service == "dynamodb":
        op = lower.get("x-amz-target", "").rsplit(".", 1)[-1]
        m2 = re.search(rb'"TableName"\s*:\s*"([^"]+)"', body or b"")
        req = AwsRequest("dynamodb", access, region, op, table=m2.group(1).decode() if m2 else None)
    elif service == "lambda":
        m3 = _LAMBDA_INVOKE.match(unquote(path))
        req = AwsRequest("lambda", access, region, "Invoke" if m3 and method == "POST" else method,
                         function=m3.group(1) if m3 else None)
    elif service == "sqs":
        m4 = re.search(rb'QueueUrl"?\s*[:=]\s*"?([^"&\s]+)', body or b"") or re.search(
            r"QueueUrl=([^&]+)", query or "")
        url = unquote(m4.group(1).decode() if isinstance(m4.group(1), bytes) else m4.group(1)) if m4 else ""
        req = AwsRequest("sqs", access, region, _operation(method, lower, params, body),
                         queue=url.rstrip("/").rsplit("/", 1)[-1] or None)
    else:
        req = AwsRequest(service or "unknown", access, region, _operation(method, lower, params, body))
    token = lower.get("x-amz-security-token") or (params.get("X-Amz-Security-Token") or [None])[0]
    return replace(req, signature=signature, session_token=token)


def _operation(method: str, lower: dict, params: dict, body: bytes) -> str:
    """JSON protocol: X-Amz-Target; query protocol: Action in the query or the form body."""
    if lower.get("x-amz-target"):
        return lower["x-amz-target"].rsplit(".", 1)[-1]
    if "Action" in params:
        return params["Action"][0]
    if b"Action=" in (body or b""):
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
    return method


def _s3(method: str, path: str, params: dict, access: str, region: str, lower: dict) -> AwsRequest:
    parts = unquote(path).lstrip("/").split("/", 1)
    bucket = parts[0] or None
    key = parts[1] if len(parts) > 1 and parts[1] else None
    if key is None:
        op = {"GET": "ListObjects" if bucket else "ListBuckets", "PUT": "CreateBucket", "HEAD": "HeadBucket",
              "DELETE": "DeleteBucket", "POST": "DeleteObjects" if "delete" in params else "PostBucket"}.get(method, method)
        return AwsRequest("s3", access, region, op, bucket=bucket)
    if method == "PUT" and lower.get("x-amz-copy-source"):
        source = unquote(lower["x-amz-copy-source"].split("?", 1)[0]).lstrip("/")
        op = "UploadPartCopy" if "partNumber" in params else "CopyObject"
        return AwsRequest("s3", access, region, op, bucket=bucket, key=key, copy_source=source)
    if method == "PUT":
        op = "UploadPart" if "partNumber" in params else "PutObject"
    elif method == "POST":
        op = "CreateMultipartUpload" if "uploads" in params else "CompleteMultipartUpload"
    else:
        op = {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)
    return AwsRequest("s3", access, region, op, bucket=bucket, key=key)
