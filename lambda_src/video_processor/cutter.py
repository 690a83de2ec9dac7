"""Run ffmpeg once over a presigned URL and upload each segment as soon as it is closed.

Disk use stays around two segments: the source is streamed over HTTP (never
downloaded) and each finished segment is uploaded and deleted while ffmpeg
keeps cutting. ffmpeg prints a segment's line in the list *before* it closes
that segment's file, so segment i is only uploaded once line i+1 exists or
ffmpeg has exited.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .deadline import Deadline
from .errors import FfmpegUnavailable, InvalidMedia, StorageExhausted
from .ffmpeg_cmd import SEGMENT_LIST_NAME, SegmentEntry, build_segment_command, last_line, parse_segment_list
from .keys import job_output_prefix

# ffmpeg exits with AVERROR(ENOSPC) & 0xff when a write hits a full disk.
FFMPEG_ENOSPC = 256 - 28
from .s3io import presigned_get_url, upload_file

POLL_INTERVAL_S = 0.05
# Bounded local storage: ffmpeg cuts far faster than segments upload, so it is paused
# (SIGSTOP) while finished segments wait for upload, and resumed (SIGCONT) once they
# are gone. /tmp then holds about one segment plus what ffmpeg writes in one poll
# interval, whatever the size of the source (a 1 GB source fits the 512 MB default).
MAX_SEGMENTS_AHEAD = 1
MIN_URL_TTL_S = 300
MAX_URL_TTL_S = 7 * 24 * 3600
DEFAULT_URL_TTL_S = 6 * 3600


@dataclass(frozen=True)
class UploadedSegment:
    """A segment that now exists in S3."""

    key: str
    duration: float
    size: int
    upload_ms: int = 0


def url_ttl_seconds(left_ms: int | None) -> int:
    """Presigned URL lifetime: the remaining invocation time plus slack (pure)."""
    if left_ms is None:
        return DEFAULT_URL_TTL_S
    return max(MIN_URL_TTL_S, min(MAX_URL_TTL_S, left_ms // 1000 + 120))


def cut_and_upload(
    *,
    s3: Any,
    bucket: str,
    source_key: str,
    job_id: str,
    segment_duration: float,
    ffmpeg_path: str,
    deadline: Deadline,
    on_upload: Callable[[UploadedSegment], None] | None = None,
    poll_interval: float = POLL_INTERVAL_S,
) -> list[UploadedSegment]:
    """Cut ``source_key`` into processed/<job_id>/segment_NNN.mp4; returns them in order.

    Raises InvalidMedia (ffmpeg failed / no segments), FfmpegUnavailable,
    TimeoutGuard (ffmpeg killed), or the upload's error. Partial uploads are
    left for the caller, which owns cleanup of the job prefix.
    """
    url = presigned_get_url(s3, bucket, source_key, url_ttl_seconds(deadline.left_ms()))
    workdir = tempfile.mkdtemp(prefix=f"vp-{job_id}-", dir=tempfile.gettempdir())
    list_path = os.path.join(workdir, SEGMENT_LIST_NAME)
    stderr_path = os.path.join(workdir, "ffmpeg.stderr")
    prefix = job_output_prefix(job_id)
    uploaded: dict[str, UploadedSegment] = {}

    def upload(entry: SegmentEntry) -> None:
        if entry.filename in uploaded:
            return
        if entry.index != len(uploaded):
            raise InvalidMedia(f"segment list out of order: got {entry.filename} after {len(uploaded)} segments")
        path = os.path.join(workdir, entry.filename)
        key = prefix + entry.filename
        started = time.monotonic()
        size = upload_file(s3, path, bucket, key)
        segment = UploadedSegment(key, entry.duration, size, int((time.monotonic() - started) * 1000))
        os.unlink(path)
        uploaded[entry.filename] = segment
        if on_upload is not None:
            on_upload(segment)

    try:
        cmd = build_segment_command(ffmpeg_path, url, workdir, segment_duration)
        with open(stderr_path, "wb") as stderr:
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
            except OSError as exc:
                raise FfmpegUnavailable(f"cannot run ffmpeg at {ffmpeg_path}: {exc.strerror or exc}") from exc
            paused = False
            try:
                while proc.poll() is None:
                    deadline.check("cutting")
                    # the last listed file may still be open; everything before it is complete
                    ready = [e for e in _read_list(list_path)[:-1] if e.filename not in uploaded]
                    if len(ready) >= MAX_SEGMENTS_AHEAD and not paused:
                        paused = _signal(proc, signal.SIGSTOP)
                    for entry in ready:
                        upload(entry)
                        deadline.check("uploading")
                    if paused:
                        paused = not _signal(proc, signal.SIGCONT)
                    if not ready:
                        time.sleep(poll_interval)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if proc.returncode != 0:
            detail = last_line(_read_text(stderr_path)) or "no error output"
            if proc.returncode == FFMPEG_ENOSPC or "No space left" in detail:
                raise StorageExhausted(f"no space left on device in {workdir} (ephemeral storage is full): "
                                       f"ffmpeg exited with code {proc.returncode}")
            raise InvalidMedia(f"ffmpeg exited with code {proc.returncode}: {detail}")
        entries = _read_list(list_path)
        if not entries:
            detail = last_line(_read_text(stderr_path)) or "no error output"
            raise InvalidMedia(f"ffmpeg produced no segments: {detail}")
        for entry in entries:
            deadline.check("uploading")
            upload(entry)
        return [uploaded[entry.filename] for entry in entries]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _signal(proc: subprocess.Popen, sig: int) -> bool:
    """Send a pause/resume signal; False when ffmpeg already exited."""
    try:
        proc.send_signal(sig)
        return True
    except ProcessLookupError:
        return False


def _read_list(path: str) -> list[SegmentEntry]:
    try:
        return parse_segment_list(_read_text(path))
    except ValueError as exc:
        raise InvalidMedia(f"unreadable segment list: {exc}") from exc


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
