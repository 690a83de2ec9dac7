"""Request bodies. Invalid input is a 422 whose ``loc`` names the field."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

UPLOAD_PREFIX = "uploads/"
MAX_KEY_LEN = 1024

# strict: no "10" -> 10 or true -> 1 coercion; ints are fine for a float.
SegmentDuration = Annotated[float, Field(ge=1, le=600, strict=True, allow_inf_nan=False)]


def validate_s3_key(value: str) -> str:
    """Only keys the upload flow produces: under uploads/, no traversal, sane length."""
    if not value.startswith(UPLOAD_PREFIX) or len(value) == len(UPLOAD_PREFIX):
        raise ValueError(f"s3_key must be an object key under '{UPLOAD_PREFIX}'")
    if ".." in value:
        raise ValueError("s3_key must not contain '..'")
    if len(value) > MAX_KEY_LEN:
        raise ValueError(f"s3_key must be at most {MAX_KEY_LEN} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("s3_key must not contain control characters")
    return value


class _KeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    s3_key: Annotated[str, Field(strict=True, min_length=1, max_length=MAX_KEY_LEN)]
    segment_duration: SegmentDuration | None = None

    @field_validator("s3_key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        return validate_s3_key(value)


class LambdaProcessingRequest(_KeyBody):
    """POST /api/test/lambda-processing."""


class UploadCompleteRequest(_KeyBody):
    """POST /api/upload/complete; extra fields from the uploader are ignored."""

    job_id: uuid.UUID


class LambdaTestRequest(BaseModel):
    """Optional body of POST /api/test/lambda: the payload sent to the test function."""

    model_config = ConfigDict(extra="ignore")

    payload: dict[str, Any] | None = None


class ProcessingMethodRequest(BaseModel):
    """POST /api/admin/processing-method (rollback drill aid)."""

    use_lambda: StrictBool | None     # null: unset, the rollout weight decides


def segment_value(value: float | None, default: int) -> int | float:
    """Events carry an int when the duration is whole (the processor's contract uses 10)."""
    v = default if value is None else value
    return int(v) if float(v).is_integer() else float(v)
