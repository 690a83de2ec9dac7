"""The cutter's streaming/kill behaviour, driven by a scripted fake ffmpeg (S3 via moto in-process)."""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path
from typing import Any

import lambda_support as ls
import pytest
from moto import mock_aws
from video_processor.cutter import cut_and_upload
from video_processor.deadline import Deadline
from video_processor.errors import FfmpegUnavailable, InvalidMedia, TimeoutGuard

JOB = "0b6f4a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"

# Writes N segments like the segment muxer (list line printed before the file is "closed"),
# and records, before writing each next segment, which earlier segment files still exist locally.
FAKE_FFMPEG = """#!{python}
import os, sys, time
args = sys.argv[1:]
listing = args[args.index("-segment_list") + 1]
pattern = args[-1]
mode = {mode!r}
if mode == "fail":
    sys.stderr.write("first line\\nhttp://x: Invalid data found when processing input\\n")
    sys.exit(1)
if mode == "hang":
    time.sleep(60)
if mode == "empty":
    sys.exit(0)
seen = []
for i in range(4):
    with open(pattern % i, "wb") as f:
        f.write(b"\\0\\0\\0\\x18ftypisom" + bytes(1000 * (i + 1)))
    with open(listing, "a") as f:
        f.write("segment_%03d.mp4,%d.000000,%d.000000\\n" % (i, 2 * i, 2 * i + 2))
    time.sleep(0.6)
    seen.append(sorted(n for n in os.listdir(os.path.dirname(listing)) if n.startswith("segment_")))
with open({record!r}, "w") as f:
    f.write(repr(seen))
"""


def fake_ffmpeg(tmp_path: Path, mode: str) -> tuple[str, Path]:
    record = tmp_path / "seen.txt"
    script = tmp_path / f"ffmpeg-{mode}"
    script.write_text(FAKE_FFMPEG.format(python=sys.executable, mode=mode, record=str(record)))
    script.chmod(0o755)
    return str(script), record


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in ls.FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client, _ = ls.clients()
        client.create_bucket(Bucket="videos")
        client.put_object(Bucket="videos", Key="uploads/v.mp4", Body=b"source")
        yield client


def cut(s3: Any, ffmpeg: str, deadline: Deadline | None = None, **kwargs: Any) -> list[Any]:
    return cut_and_upload(s3=s3, bucket="videos", source_key="uploads/v.mp4", job_id=JOB, segment_duration=2,
                          ffmpeg_path=ffmpeg, deadline=deadline or Deadline.start(None, 0), poll_interval=0.05,
                          **kwargs)


def test_segments_upload_while_ffmpeg_runs(s3: Any, tmp_path: Path) -> None:
    ffmpeg, record = fake_ffmpeg(tmp_path, "ok")
    uploaded_at: list[float] = []
    started = time.monotonic()
    segments = cut(s3, ffmpeg, on_upload=lambda seg: uploaded_at.append(time.monotonic() - started))
    total = time.monotonic() - started

    assert [s.key for s in segments] == [f"processed/{JOB}/segment_{i:03d}.mp4" for i in range(4)]
    assert [s.duration for s in segments] == [2.0] * 4
    assert [s.size for s in segments] == [12 + 1000 * (i + 1) for i in range(4)]
    # segment i is uploaded (and deleted locally) once segment i+1 is listed, before ffmpeg exits
    assert uploaded_at[0] < total - 1.0
    seen = ast.literal_eval(record.read_text())
    assert all(len(snapshot) <= 2 for snapshot in seen)  # never more than the open one plus one pending
    assert seen[-1] == ["segment_003.mp4"]  # only the last (still open) segment remains before exit
    assert ls.all_keys(s3, "videos", "processed/") == [s.key for s in segments]


def test_nonzero_exit_is_invalid_media_with_last_stderr_line(s3: Any, tmp_path: Path) -> None:
    ffmpeg, _ = fake_ffmpeg(tmp_path, "fail")
    with pytest.raises(InvalidMedia, match="code 1: http://x: Invalid data found when processing input$"):
        cut(s3, ffmpeg)


def test_zero_segments_is_invalid_media(s3: Any, tmp_path: Path) -> None:
    ffmpeg, _ = fake_ffmpeg(tmp_path, "empty")
    with pytest.raises(InvalidMedia, match="no segments"):
        cut(s3, ffmpeg)


def test_timeout_guard_kills_hanging_ffmpeg(s3: Any, tmp_path: Path) -> None:
    ffmpeg, _ = fake_ffmpeg(tmp_path, "hang")
    left = iter([10_000, 10_000] + [1_000] * 1000)
    started = time.monotonic()
    with pytest.raises(TimeoutGuard, match="^timed out"):
        cut(s3, ffmpeg, deadline=Deadline.start(lambda: next(left), 5_000))
    assert time.monotonic() - started < 5


def test_missing_binary(s3: Any) -> None:
    with pytest.raises(FfmpegUnavailable, match="/nope/ffmpeg"):
        cut(s3, "/nope/ffmpeg")


def test_work_dirs_are_removed(s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    ffmpeg, _ = fake_ffmpeg(tmp_path, "fail")
    with pytest.raises(InvalidMedia):
        cut(s3, ffmpeg)
    assert list((tmp_path / "tmp").iterdir()) == []
