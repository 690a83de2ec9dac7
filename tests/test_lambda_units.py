"""Pure pieces: ffmpeg command, segment list, keys, status rules, classification, retry, clock, config."""

from __future__ import annotations

import ast
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import lambda_support as ls
import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from hypothesis import given
from hypothesis import strategies as st
from video_processor import clock, errors, keys, status
from video_processor.config import Config, read_ffmpeg_path
from video_processor.cutter import url_ttl_seconds
from video_processor.deadline import Deadline, effective_margin_ms
from video_processor.errors import ConfigError, InvalidMedia, TimeoutGuard, TransitionRefused
from video_processor.ffmpeg_cmd import (
    SegmentEntry,
    build_segment_command,
    format_seconds,
    last_line,
    parse_segment_list,
)
from video_processor.retry import backoff_delays, classify, retry_transient

JOB = "0b6f4a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


def client_error(code: str, http: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": http}}, "Op")


# -- ffmpeg command -----------------------------------------------------------

def test_segment_command_is_one_stream_copy_pass() -> None:
    cmd = build_segment_command("/opt/bin/ffmpeg", "http://h/b/k?sig", "/tmp/job", 10)
    assert cmd[0] == "/opt/bin/ffmpeg"
    assert cmd[cmd.index("-i") + 1] == "http://h/b/k?sig"
    assert cmd.count("-i") == 1
    joined = " ".join(cmd)
    for fragment in ("-map 0:v? -map 0:a?", "-c copy", "-f segment", "-segment_time 10", "-reset_timestamps 1",
                     "-segment_format mp4", "-segment_list /tmp/job/segments.csv", "-segment_list_type csv",
                     "-nostdin"):
        assert fragment in joined
    assert cmd[-1] == "/tmp/job/segment_%03d.mp4"
    assert "-c:v" not in cmd and "libx264" not in joined  # never re-encodes


@pytest.mark.parametrize(("value", "text"), [(10, "10"), (2.5, "2.5"), (600, "600"), (1.0, "1"), (0.1 + 0.2, "0.3")])
def test_format_seconds(value: float, text: str) -> None:
    assert format_seconds(value) == text


def test_parse_segment_list_and_durations() -> None:
    text = "segment_000.mp4,0.000000,10.000000\nsegment_001.mp4,10.000000,12.033333\nsegment_00"
    entries = parse_segment_list(text)
    assert entries == [SegmentEntry("segment_000.mp4", 0.0, 10.0), SegmentEntry("segment_001.mp4", 10.0, 12.033333)]
    assert [e.duration for e in entries] == [10.0, 2.033]
    assert [e.index for e in entries] == [0, 1]
    assert parse_segment_list("") == []
    assert parse_segment_list('"/tmp/x/segment_002.mp4",1,2\n')[0].filename == "segment_002.mp4"
    with pytest.raises(ValueError):
        parse_segment_list("only,two\n")


def test_last_line_of_stderr() -> None:
    assert last_line("a\nb: Invalid data found\n\n") == "b: Invalid data found"
    assert last_line("") == ""


# -- keys -----------------------------------------------------------------------

def test_key_naming() -> None:
    assert keys.UPLOADS_PREFIX == "uploads/"
    assert keys.PROCESSED_PREFIX == "processed/"
    assert keys.TEST_OUTPUT_PREFIX == "test_output/"
    assert keys.job_output_prefix(JOB) == f"processed/{JOB}/"
    assert keys.segment_key(JOB, 0) == f"processed/{JOB}/segment_000.mp4"
    assert keys.segment_key(JOB, 12) == f"processed/{JOB}/segment_012.mp4"
    assert keys.segment_key(JOB, 1234) == f"processed/{JOB}/segment_1234.mp4"
    assert keys.segment_index("segment_007.mp4") == 7
    assert keys.test_output_key("uploads/dir/clip.mp4") == "test_output/clip.mp4"
    for bad in ("segment_1.mp4", "seg_000.mp4", "segment_000.mov", "../segment_000.mp4"):
        with pytest.raises(ValueError):
            keys.segment_index(bad)
    with pytest.raises(ValueError):
        keys.segment_filename(-1)
    with pytest.raises(ValueError):
        keys.test_output_key("uploads/dir/")


@given(st.integers(min_value=0, max_value=100_000))
def test_segment_name_roundtrip(index: int) -> None:
    assert keys.segment_index(keys.segment_filename(index)) == index


def test_segment_keys_sort_in_order_below_1000() -> None:
    names = [keys.segment_key(JOB, i) for i in range(1000)]
    assert sorted(names) == names


# -- status rules ----------------------------------------------------------------

ORDER = {None: 0, "QUEUED": 1, "PROCESSING": 2, "COMPLETED": 3, "FAILED": 3}


def test_allowed_transitions_exactly() -> None:
    allowed = {(a, b) for a in [None, *status.ALL_STATUSES] for b in status.ALL_STATUSES if status.can_transition(a, b)}
    assert allowed == {
        (None, "QUEUED"), (None, "PROCESSING"),
        ("QUEUED", "PROCESSING"), ("QUEUED", "FAILED"),
        ("PROCESSING", "COMPLETED"), ("PROCESSING", "FAILED"),
    }


@given(st.sampled_from([None, *status.ALL_STATUSES, "BOGUS"]), st.sampled_from([*status.ALL_STATUSES, "BOGUS"]))
def test_never_backwards_and_terminal_is_final(current: str | None, target: str) -> None:
    if status.can_transition(current, target):
        assert ORDER[target] > ORDER[current]
        assert current not in status.TERMINAL
    if current in status.TERMINAL:
        assert not status.can_transition(current, target)


def test_refusal_names_from_and_to() -> None:
    with pytest.raises(TransitionRefused, match="COMPLETED -> PROCESSING"):
        status.check_transition(JOB, "COMPLETED", "PROCESSING")
    with pytest.raises(TransitionRefused, match="NONE -> COMPLETED"):
        status.check_transition(JOB, None, "COMPLETED")


def test_claim_decisions() -> None:
    D = status.ClaimDecision
    assert status.decide_claim(None, "r") is D.CLAIM
    assert status.decide_claim({"status": "QUEUED"}, "r") is D.CLAIM
    assert status.decide_claim({"status": "PROCESSING", "request_id": "r"}, "r") is D.TAKEOVER
    assert status.decide_claim({"status": "PROCESSING", "request_id": "x"}, "r") is D.DUPLICATE
    assert status.decide_claim({"status": "COMPLETED", "request_id": "r"}, "r") is D.DUPLICATE
    assert status.decide_claim({"status": "FAILED", "request_id": "r"}, "r") is D.DUPLICATE


# -- error classes and classification ------------------------------------------------

def test_error_classes_have_docstrings_and_permanence() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.VideoProcessorError)]
    names = {c.__name__ for c in classes}
    assert {"VideoProcessorError", "InvalidEvent", "SourceNotFound", "InvalidMedia", "TransitionRefused",
            "TransientError", "TimeoutGuard", "ConfigError"} <= names
    for cls in classes:
        assert cls.__doc__ and len(cls.__doc__.strip().splitlines()) == 1
        assert isinstance(cls.__dict__.get("permanent", cls.permanent), bool)
    assert errors.TransientError.permanent is False


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException",
                                  "RequestLimitExceeded", "SlowDown", "InternalError", "ServiceUnavailable"])
def test_transient_codes(code: str) -> None:
    assert classify(client_error(code)) == "transient"


@pytest.mark.parametrize("code", ["NoSuchKey", "404", "AccessDenied", "ValidationException",
                                  "ConditionalCheckFailedException", "ResourceNotFoundException"])
def test_permanent_codes(code: str) -> None:
    assert classify(client_error(code, 404 if code in ("NoSuchKey", "404") else 400)) == "permanent"


def test_classification_of_other_errors() -> None:
    assert classify(client_error("Whatever", 503)) == "transient"
    assert classify(client_error("Whatever", 429)) == "transient"
    assert classify(client_error("AccessDenied", 403)) == "permanent"
    assert classify(EndpointConnectionError(endpoint_url="http://x")) == "transient"
    assert classify(ReadTimeoutError(endpoint_url="http://x")) == "transient"
    assert classify(ConnectionResetError()) == "transient"
    assert classify(TimeoutError()) == "transient"
    assert classify(InvalidMedia("bad")) == "permanent"
    assert classify(errors.InvalidEvent("f", 1, "r")) == "permanent"
    assert classify(errors.TransientError("x")) == "transient"
    assert classify(ValueError("bug")) == "permanent"
    # boto3 wraps upload errors; the chain decides
    try:
        try:
            raise client_error("SlowDown", 503)
        except ClientError:
            raise S3UploadFailedError("Failed to upload: SlowDown")
    except S3UploadFailedError as wrapped:
        assert classify(wrapped) == "transient"


def test_backoff_is_bounded_and_exponential() -> None:
    assert list(backoff_delays(5, base=0.1, cap=0.5)) == [0.1, 0.2, 0.4, 0.5]
    assert list(backoff_delays(1)) == []


def test_retry_transient_retries_only_transient() -> None:
    sleeps: list[float] = []
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise client_error("ThrottlingException")
        return "ok"

    assert retry_transient(flaky, attempts=4, sleep=sleeps.append, rand=lambda: 1.0) == "ok"
    assert sleeps == [0.1, 0.2]

    calls["n"] = 0

    def denied() -> None:
        calls["n"] += 1
        raise client_error("AccessDenied", 403)

    with pytest.raises(ClientError):
        retry_transient(denied, sleep=sleeps.append)
    assert calls["n"] == 1

    def always() -> None:
        raise client_error("SlowDown", 503)

    sleeps.clear()
    with pytest.raises(ClientError):
        retry_transient(always, attempts=3, sleep=sleeps.append, rand=lambda: 0.0)
    assert sleeps == [0.05, 0.1]


# -- clock, deadline -----------------------------------------------------------------

def test_timestamps_format_and_strictly_increase() -> None:
    frozen = datetime(2026, 11, 28, 22, 31, 37, 123456, tzinfo=UTC)
    first = clock.next_timestamp(now=frozen)
    assert first == "2026-11-28T22:31:37.123456Z"
    assert clock.next_timestamp(after=first, now=frozen) == "2026-11-28T22:31:37.123457Z"  # same microsecond
    assert clock.next_timestamp(after="2999-01-01T00:00:00.000000Z") == "2999-01-01T00:00:00.000001Z"
    assert clock.next_timestamp(after="garbage", now=frozen) == first
    stamps = ["2026-01-01T00:00:00.000000Z"]
    for _ in range(200):
        stamps.append(clock.next_timestamp(after=stamps[-1]))
    assert stamps == sorted(set(stamps))
    assert clock.parse_ts(first) == frozen


def test_effective_margin() -> None:
    assert effective_margin_ms(10_000, 900_000) == 10_000
    assert effective_margin_ms(10_000, 20_000) == 4_000
    assert effective_margin_ms(0, 20_000) == 0


def test_deadline_guard() -> None:
    left = {"ms": 20_000}
    deadline = Deadline.start(lambda: left["ms"], 10_000)
    assert deadline.margin_ms == 4_000
    deadline.check("cut")
    left["ms"] = 3_999
    assert deadline.expired()
    with pytest.raises(TimeoutGuard, match="^timed out during cut"):
        deadline.check("cut")
    unbounded = Deadline.start(None, 10_000)
    assert not unbounded.expired() and unbounded.left_ms() is None


def test_url_ttl() -> None:
    assert url_ttl_seconds(None) == 6 * 3600
    assert url_ttl_seconds(1_000) == 300
    assert url_ttl_seconds(900_000) == 1020


# -- config -----------------------------------------------------------------------------

def test_config_from_env() -> None:
    config = Config.from_env({"VIDEO_BUCKET": "b", "JOBS_TABLE": "t"})
    assert config == Config("b", "t", "/opt/bin/ffmpeg", 10000, "INFO")
    config = Config.from_env({"VIDEO_BUCKET": "b", "JOBS_TABLE": "t", "FFMPEG_PATH": "/x/ffmpeg",
                              "TIMEOUT_MARGIN_MS": "2500", "LOG_LEVEL": "debug"})
    assert (config.ffmpeg_path, config.timeout_margin_ms, config.log_level) == ("/x/ffmpeg", 2500, "DEBUG")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.bucket = "other"  # type: ignore[misc]


@pytest.mark.parametrize(("env", "name"), [
    ({"JOBS_TABLE": "t"}, "VIDEO_BUCKET"),
    ({"VIDEO_BUCKET": "b"}, "JOBS_TABLE"),
    ({"VIDEO_BUCKET": "", "JOBS_TABLE": "t"}, "VIDEO_BUCKET"),
    ({"VIDEO_BUCKET": "b", "JOBS_TABLE": "t", "TIMEOUT_MARGIN_MS": "ten"}, "TIMEOUT_MARGIN_MS"),
    ({"VIDEO_BUCKET": "b", "JOBS_TABLE": "t", "TIMEOUT_MARGIN_MS": "-1"}, "TIMEOUT_MARGIN_MS"),
    ({"VIDEO_BUCKET": "b", "JOBS_TABLE": "t", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
])
def test_config_errors_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env(env)


def test_ffmpeg_path_alone() -> None:
    assert read_ffmpeg_path({}) == "/opt/bin/ffmpeg"
    assert read_ffmpeg_path({"FFMPEG_PATH": "/x"}) == "/x"


def test_environment_is_read_only_in_config_module() -> None:
    """Static scan: env vars are read in config.py only, and it reads exactly the contract's names."""
    package = ls.LAMBDA_SRC / "video_processor"
    for path in package.rglob("*.py"):
        if path.name == "config.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("environ", "getenv", "environb"), path
            if isinstance(node, ast.Name):
                assert node.id not in ("environ", "getenv"), path
    tree = ast.parse((package / "config.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            if getattr(node.value, "id", None) == "environ":
                names.add(node.slice.value)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get" and node.args:
            if getattr(node.func.value, "id", None) == "environ" and isinstance(node.args[0], ast.Constant):
                names.add(node.args[0].value)
    assert names == {"VIDEO_BUCKET", "JOBS_TABLE", "FFMPEG_PATH", "TIMEOUT_MARGIN_MS", "LOG_LEVEL"}


def test_package_has_no_local_branching() -> None:
    package = Path(ls.LAMBDA_SRC) / "video_processor"
    for path in package.rglob("*.py"):
        text = path.read_text().lower()
        assert "localstack" not in text and "is_local" not in text and "aws_sam_local" not in text, path


def test_errors_survive_pickle_and_rebuild_from_message() -> None:
    """Celery ships exceptions across processes (pickle, or cls(*args) from JSON)."""
    import pickle

    samples = [errors.InvalidEvent("s3_key", "x" * 200, "bad"), TransitionRefused(JOB, "COMPLETED", "FAILED"),
               TransitionRefused(JOB, None, "COMPLETED", "why"), errors.SourceNotFound("gone: uploads/a.mp4"),
               errors.TimeoutGuard("timed out during cut")]
    for exc in samples:
        clone = pickle.loads(pickle.dumps(exc))
        assert type(clone) is type(exc) and str(clone) == str(exc)
        rebuilt = type(exc)(*exc.args)
        assert str(rebuilt) == str(exc)
    assert pickle.loads(pickle.dumps(samples[0])).field == "s3_key"
    assert pickle.loads(pickle.dumps(samples[1])).to_status == "FAILED"
