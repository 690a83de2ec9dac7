"""Pure parsing of an AWS HTTP request: which service, which operation, which resource."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

_CRED = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class AwsRequest:
    service: str
    access_key: str
    region: str
    operation: str
    bucket: str | None = None
    key: str | None = None
    table: str | None = None


def parse(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> AwsRequest:
    lower = {k.lower(): v for k, v in headers.items()}
    params = parse_qs(query, keep_blank_values=True)
    access, region, service = "", "", ""
    m = _CRED.search(lower.get("authorization", ""))
    if m:
        access, region, service = m.groups()
    elif "X-Amz-Credential" in params:
        parts = unquote(params["X-Amz-Credential"][0]).split("/")
        if len(parts) >= 5:
            access, region, service = parts[0], parts[2], parts[3]
    if service == "s3":
        return _s3(method, path, params, access, region)
    if service == "dynamodb":
        target = lower.get("x-amz-target", "")
        op = target.rsplit(".", 1)[-1]
        table = None
        m2 = re.search(rb'"TableName"\s*:\s*"([^"]+)"', body or b"")
        if m2:
            table = m2.group(1).decode()
        return AwsRequest("dynamodb", access, region, op, table=table)
    return AwsRequest(service or "unknown", access, region, method)


def _s3(method: str, path: str, params: dict, access: str, region: str) -> AwsRequest:
    parts = unquote(path).lstrip("/").split("/", 1)
    bucket = parts[0] or None
    key = parts[1] if len(parts) > 1 and parts[1] else None
    if key is None:
        op = {"GET": "ListObjects" if bucket else "ListBuckets", "PUT": "CreateBucket", "HEAD": "HeadBucket",
              "DELETE": "DeleteBucket", "POST": "DeleteObjects" if "delete" in params else "PostBucket"}.get(method, method)
        return AwsRequest("s3", access, region, op, bucket=bucket)
    if method == "PUT":
        op = "UploadPart" if "partNumber" in params else ("CopyObject" if False else "PutObject")
    elif method == "POST":
        op = "CreateMultipartUpload" if "uploads" in params else "CompleteMultipartUpload"
    else:
        op = {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)
    return AwsRequest("s3", access, region, op, bucket=bucket, key=key)
