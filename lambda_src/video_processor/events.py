"""Validation of invocation events (pure: no I/O, no clock).

Everything is checked before any side effect, so a rejected event leaves S3 and
DynamoDB untouched. Each rejection raises InvalidEvent naming the field and the
(truncated) offending value. Unknown extra keys are ignored on purpose: the
same event may carry fields meant for other consumers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import Config
from .errors import InvalidEvent
from .keys import UPLOADS_PREFIX
from .status import ALL_STATUSES

DEFAULT_SEGMENT_DURATION = 10
MIN_SEGMENT_DURATION = 1
MAX_SEGMENT_DURATION = 600
MAX_KEY_BYTES = 1024
MAX_ERROR_MESSAGE_CHARS = 1000
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class JobRequest:
    """A validated cutting request."""

    job_id: str
    bucket: str
    key: str
    segment_duration: float


@dataclass(frozen=True)
class StatusRequest:
    """A validated status-transition request."""

    job_id: str
    status: str
    error_message: str | None


def parse_job_event(event: Any, config: Config) -> JobRequest:
    """Validate ``{job_id, s3_bucket, s3_key, segment_duration?}``."""
    event = _require_mapping(event)
    job_id = validate_job_id(event.get("job_id"))
    bucket, key = parse_source(event, config)
    duration = validate_segment_duration(event.get("segment_duration"))
    return JobRequest(job_id=job_id, bucket=bucket, key=key, segment_duration=duration)


def parse_source(event: Any, config: Config) -> tuple[str, str]:
    """Validate ``{s3_bucket, s3_key}`` (the S3 round-trip step uses only this)."""
    event = _require_mapping(event)
    return validate_bucket(event.get("s3_bucket"), config), validate_source_key(event.get("s3_key"))


def parse_status_event(event: Any) -> StatusRequest:
    """Validate ``{job_id, status, error_message?}``."""
    event = _require_mapping(event)
    job_id = validate_job_id(event.get("job_id"))
    status = event.get("status")
    if not isinstance(status, str) or status not in ALL_STATUSES:
        raise InvalidEvent("status", status, f"must be one of {', '.join(ALL_STATUSES)}")
    message = event.get("error_message")
    if message is not None and not isinstance(message, str):
        raise InvalidEvent("error_message", message, "must be a string")
    if message is not None and len(message) > MAX_ERROR_MESSAGE_CHARS:
        raise InvalidEvent("error_message", message, f"must be at most {MAX_ERROR_MESSAGE_CHARS} characters")
    return StatusRequest(job_id=job_id, status=status, error_message=message)


def validate_job_id(value: Any) -> str:
    """A canonical (lower-case, hyphenated) UUID string; it becomes part of S3 keys."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise InvalidEvent("job_id", value, "must be a canonical lower-case UUID string")
    return value


def validate_bucket(value: Any, config: Config) -> str:
    """Only the configured bucket may be touched, whatever the event says."""
    if not isinstance(value, str) or value != config.bucket:
        raise InvalidEvent("s3_bucket", value, f"must be the configured bucket {config.bucket!r}")
    return value


def validate_source_key(value: Any) -> str:
    """A key under uploads/ that cannot escape it or smuggle control characters."""
    if not isinstance(value, str):
        raise InvalidEvent("s3_key", value, "must be a string")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidEvent("s3_key", value, "must be valid UTF-8") from None
    if size > MAX_KEY_BYTES:
        raise InvalidEvent("s3_key", value, f"must be at most {MAX_KEY_BYTES} bytes, got {size}")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidEvent("s3_key", value, "must not contain NUL or control characters")
    if value.startswith("/"):
        raise InvalidEvent("s3_key", value, "must not be absolute")
    if not value.startswith(UPLOADS_PREFIX):
        raise InvalidEvent("s3_key", value, f"must start with {UPLOADS_PREFIX!r}")
    if ".." in value.split("/"):
        raise InvalidEvent("s3_key", value, "must not contain a '..' path segment")
    if value.endswith("/"):
        raise InvalidEvent("s3_key", value, "must name an object, not a folder")
    return value


def validate_segment_duration(value: Any) -> float:
    """Seconds per segment; absent or null means the default of 10."""
    if value is None:
        return DEFAULT_SEGMENT_DURATION
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEvent("segment_duration", value, "must be a number of seconds")
    if not math.isfinite(value) or not MIN_SEGMENT_DURATION <= value <= MAX_SEGMENT_DURATION:
        raise InvalidEvent(
            "segment_duration", value, f"must be between {MIN_SEGMENT_DURATION} and {MAX_SEGMENT_DURATION}"
        )
    return value


def _require_mapping(event: Any) -> Mapping[str, Any]:
    if not isinstance(event, Mapping):
        raise InvalidEvent("event", event, "must be a JSON object")
    return event
