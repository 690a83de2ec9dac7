"""Event validation: every rejection names the field and value; nothing else is accepted."""

from __future__ import annotations

import re
from typing import Any

import lambda_support as ls
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from video_processor.errors import InvalidEvent
from video_processor.events import (
    DEFAULT_SEGMENT_DURATION,
    parse_job_event,
    parse_source,
    parse_status_event,
    validate_source_key,
)

CONFIG = ls.make_config("videos", "jobs")
JOB_ID = "0b6f4a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"job_id": JOB_ID, "s3_bucket": "videos", "s3_key": "uploads/a.mp4", "segment_duration": 10}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def test_valid_event_and_defaults() -> None:
    request = parse_job_event(event(segment_duration=_DROP, extra="ignored"), CONFIG)
    assert (request.job_id, request.bucket, request.key) == (JOB_ID, "videos", "uploads/a.mp4")
    assert request.segment_duration == DEFAULT_SEGMENT_DURATION == 10
    assert parse_job_event(event(segment_duration=None), CONFIG).segment_duration == 10
    assert parse_job_event(event(segment_duration=2.5), CONFIG).segment_duration == 2.5
    assert parse_job_event(event(segment_duration=1), CONFIG).segment_duration == 1
    assert parse_job_event(event(segment_duration=600), CONFIG).segment_duration == 600
    assert parse_job_event(event(s3_key="uploads/dir/sub/ünïcode name.mov"), CONFIG).key.endswith(".mov")


REJECTIONS = [
    ("event", None),
    ("event", ["not", "a", "dict"]),
    ("job_id", event(job_id=_DROP)),
    ("job_id", event(job_id=123)),
    ("job_id", event(job_id="not-a-uuid")),
    ("job_id", event(job_id=JOB_ID.upper())),
    ("job_id", event(job_id=JOB_ID.replace("-", ""))),
    ("job_id", event(job_id="{" + JOB_ID + "}")),
    ("job_id", event(job_id=JOB_ID + "\n")),
    ("s3_bucket", event(s3_bucket=_DROP)),
    ("s3_bucket", event(s3_bucket="other-bucket")),
    ("s3_bucket", event(s3_bucket=None)),
    ("s3_bucket", event(s3_bucket=["videos"])),
    ("s3_key", event(s3_key=_DROP)),
    ("s3_key", event(s3_key=7)),
    ("s3_key", event(s3_key="processed/a.mp4")),
    ("s3_key", event(s3_key="test_output/a.mp4")),
    ("s3_key", event(s3_key="Uploads/a.mp4")),
    ("s3_key", event(s3_key="/uploads/a.mp4")),
    ("s3_key", event(s3_key="uploads/../processed/a.mp4")),
    ("s3_key", event(s3_key="uploads/x/../../a.mp4")),
    ("s3_key", event(s3_key="uploads/..")),
    ("s3_key", event(s3_key="uploads/a\x00.mp4")),
    ("s3_key", event(s3_key="uploads/a\n.mp4")),
    ("s3_key", event(s3_key="uploads/a\x7f.mp4")),
    ("s3_key", event(s3_key="uploads/" + "a" * 1017)),
    ("s3_key", event(s3_key="uploads/" + "é" * 509)),
    ("s3_key", event(s3_key="uploads/\ud800.mp4")),
    ("s3_key", event(s3_key="uploads/")),
    ("s3_key", event(s3_key="uploads/folder/")),
    ("segment_duration", event(segment_duration=0)),
    ("segment_duration", event(segment_duration=0.5)),
    ("segment_duration", event(segment_duration=601)),
    ("segment_duration", event(segment_duration=-5)),
    ("segment_duration", event(segment_duration=True)),
    ("segment_duration", event(segment_duration="10")),
    ("segment_duration", event(segment_duration=float("nan"))),
    ("segment_duration", event(segment_duration=float("inf"))),
    ("segment_duration", event(segment_duration=[10])),
]


@pytest.mark.parametrize(("field", "bad"), REJECTIONS)
def test_each_rejection_names_field_and_value(field: str, bad: Any) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_job_event(bad, CONFIG)
    assert info.value.field == field
    assert field in str(info.value)
    assert info.value.permanent is True
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 300  # long values are truncated


def test_key_length_limit_is_in_bytes() -> None:
    assert validate_source_key("uploads/" + "a" * 1016) == "uploads/" + "a" * 1016  # exactly 1024 bytes
    with pytest.raises(InvalidEvent):
        validate_source_key("uploads/" + "a" * 1017)


def test_offending_value_is_quoted_in_message() -> None:
    with pytest.raises(InvalidEvent, match=r"invalid s3_key: 'processed/a\.mp4'"):
        parse_job_event(event(s3_key="processed/a.mp4"), CONFIG)
    with pytest.raises(InvalidEvent, match=r"invalid segment_duration: 601"):
        parse_job_event(event(segment_duration=601), CONFIG)


def test_parse_source_only_needs_bucket_and_key() -> None:
    assert parse_source({"s3_bucket": "videos", "s3_key": "uploads/x.mp4"}, CONFIG) == ("videos", "uploads/x.mp4")
    with pytest.raises(InvalidEvent):
        parse_source({"s3_bucket": "videos", "s3_key": "uploads/../x.mp4"}, CONFIG)


def test_status_event() -> None:
    request = parse_status_event({"job_id": JOB_ID, "status": "FAILED", "error_message": "boom"})
    assert (request.status, request.error_message) == ("FAILED", "boom")
    for bad, field in [
        ({"job_id": JOB_ID, "status": "DONE"}, "status"),
        ({"job_id": JOB_ID, "status": "queued"}, "status"),
        ({"job_id": JOB_ID}, "status"),
        ({"job_id": "x", "status": "QUEUED"}, "job_id"),
        ({"job_id": JOB_ID, "status": "FAILED", "error_message": 5}, "error_message"),
        ({"job_id": JOB_ID, "status": "FAILED", "error_message": "x" * 1001}, "error_message"),
    ]:
        with pytest.raises(InvalidEvent) as info:
            parse_status_event(bad)
        assert info.value.field == field


# -- property-based -----------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_job_id_accepted_iff_canonical_uuid(value: str) -> None:
    try:
        parse_job_event(event(job_id=value), CONFIG)
    except InvalidEvent as exc:
        assert exc.field == "job_id"
        assert not UUID_RE.fullmatch(value)
    else:
        assert UUID_RE.fullmatch(value)


@settings(max_examples=100, deadline=None)
@given(st.uuids())
def test_any_canonical_uuid_is_accepted(value: Any) -> None:
    assert parse_job_event(event(job_id=str(value)), CONFIG).job_id == str(value)


def _key_is_safe(key: str) -> bool:
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    return (
        key.startswith("uploads/")
        and size <= 1024
        and ".." not in key.split("/")
        and not any(ord(c) < 32 or ord(c) == 127 for c in key)
        and not key.endswith("/")
    )


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=60), st.text(max_size=60).map(lambda s: "uploads/" + s),
                 st.lists(st.sampled_from(["uploads", "..", ".", "a", "b.mp4", "", "\x00"]), max_size=6).map("/".join)))
def test_key_accepted_iff_safe(key: str) -> None:
    try:
        accepted = validate_source_key(key) == key
    except InvalidEvent as exc:
        assert exc.field == "s3_key"
        accepted = False
    assert accepted == _key_is_safe(key)
    if accepted:
        assert key.startswith("uploads/") and ".." not in key.split("/")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                 st.text(max_size=5), st.none()))
def test_segment_duration_bounds(value: Any) -> None:
    try:
        duration = parse_job_event(event(segment_duration=value), CONFIG).segment_duration
    except InvalidEvent as exc:
        assert exc.field == "segment_duration"
        assert value is not None
        assert isinstance(value, (bool, str)) or not (1 <= value <= 600)
    else:
        assert 1 <= duration <= 600
        assert not isinstance(duration, bool)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), st.one_of(st.none(), st.integers(), st.text(max_size=10)), max_size=5))
def test_arbitrary_dicts_never_crash_with_other_errors(extra: dict[str, Any]) -> None:
    candidate = {**extra}
    try:
        parse_job_event(candidate, CONFIG)
    except InvalidEvent:
        pass
    # unknown keys never matter when the known ones are valid
    merged = {**extra, **event()}
    assert parse_job_event(merged, CONFIG).job_id == JOB_ID
