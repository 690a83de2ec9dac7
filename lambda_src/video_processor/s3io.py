"""S3 operations the jobs need, through an injected low-level client.

Each call is wrapped in ``retry_transient``; missing sources become
SourceNotFound so callers see one clear error naming the key.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .errors import SourceNotFound
from .retry import retry_transient

CHUNK = 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


def head_source(s3: Any, bucket: str, key: str) -> int:
    """Size of the source; SourceNotFound (naming the key) when absent."""
    try:
        response = retry_transient(lambda: s3.head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if _is_missing(exc):
            raise SourceNotFound(f"source object not found: s3://{bucket}/{key}") from None
        raise
    return int(response.get("ContentLength", 0))


def presigned_get_url(s3: Any, bucket: str, key: str, expires_in: int) -> str:
    """URL ffmpeg reads over HTTP(S), so the source never lands on /tmp."""
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires_in)
    )


def upload_file(s3: Any, path: str, bucket: str, key: str, content_type: str = "video/mp4") -> int:
    """Upload a local file (multipart when large); returns its size."""
    size = os.path.getsize(path)
    retry_transient(lambda: s3.upload_file(path, bucket, key, ExtraArgs={"ContentType": content_type}))
    return size


def list_prefix(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    """Every key under ``prefix`` with its size."""
    found: dict[str, int] = {}
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = retry_transient(lambda: s3.list_objects_v2(**kwargs))  # noqa: B023 (called at once)
        for obj in page.get("Contents", []):
            found[obj["Key"]] = int(obj.get("Size", 0))
        if not page.get("IsTruncated"):
            return found
        token = page.get("NextContinuationToken")


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete everything under ``prefix`` (batches of 1000); returns how many keys."""
    if not prefix or not prefix.endswith("/"):
        raise ValueError(f"refusing to delete a non-folder prefix: {prefix!r}")
    keys = sorted(list_prefix(s3, bucket, prefix))
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        response = retry_transient(
            lambda: s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # noqa: B023
        )
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise ClientError(
                {"Error": {"Code": first.get("Code", "DeleteFailed"), "Message": first.get("Message", "")}},
                "DeleteObjects",
            )
    return len(keys)


@dataclass(frozen=True)
class Download:
    """A streamed download: where it went, how big, and its digest."""

    path: str
    size: int
    sha256: str


def download_streamed(s3: Any, bucket: str, key: str) -> Download:
    """Stream an object to a temp file under tempfile.gettempdir(), hashing on the way."""
    try:
        response = retry_transient(lambda: s3.get_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if _is_missing(exc):
            raise SourceNotFound(f"source object not found: s3://{bucket}/{key}") from None
        raise
    digest = hashlib.sha256()
    size = 0
    fd, path = tempfile.mkstemp(prefix="vp-roundtrip-", dir=tempfile.gettempdir())
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response["Body"].iter_chunks(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    except BaseException:
        os.unlink(path)
        raise
    return Download(path=path, size=size, sha256=digest.hexdigest())


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
