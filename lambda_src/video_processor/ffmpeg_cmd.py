"""ffmpeg command line and segment-list parsing (pure).

One pass, stream copy, segment muxer: no re-encoding, so cost is I/O bound and
cuts fall on keyframes at or after each multiple of the segment duration.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

from .keys import SEGMENT_PATTERN, segment_index

SEGMENT_LIST_NAME = "segments.csv"
# Abort a stalled HTTP read instead of hanging until the Lambda timeout (microseconds).
RW_TIMEOUT_US = 30_000_000


@dataclass(frozen=True)
class SegmentEntry:
    """One closed segment as listed by ffmpeg: file name and start/end in seconds."""

    filename: str
    start: float
    end: float

    @property
    def index(self) -> int:
        return segment_index(self.filename)

    @property
    def duration(self) -> float:
        return round(max(self.end - self.start, 0.0), 3)


def format_seconds(value: float) -> str:
    """Seconds for -segment_time without float noise (10 -> '10', 2.5 -> '2.5')."""
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return text or "0"


def build_segment_command(
    ffmpeg_path: str,
    input_url: str,
    output_dir: str,
    segment_duration: float,
    list_name: str = SEGMENT_LIST_NAME,
) -> list[str]:
    """argv for cutting ``input_url`` into ``output_dir/segment_%03d.mp4`` plus a CSV list."""
    return [
        ffmpeg_path,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel", "error",
        # A truncated or corrupt upload must fail the job, not yield a short set of
        # segments that looks complete: -xerror stops on the first demux error.
        "-xerror",
        "-rw_timeout", str(RW_TIMEOUT_US),
        "-i", input_url,
        "-map", "0:v?",
        "-map", "0:a?",
        "-c", "copy",
        "-f", "segment",
        "-segment_time", format_seconds(segment_duration),
        "-reset_timestamps", "1",
        "-segment_format", "mp4",
        "-segment_list", os.path.join(output_dir, list_name),
        "-segment_list_type", "csv",
        os.path.join(output_dir, SEGMENT_PATTERN),
    ]


def parse_segment_list(text: str) -> list[SegmentEntry]:
    """Parse ffmpeg's CSV segment list; a trailing partial line (still being written) is ignored."""
    entries: list[SegmentEntry] = []
    if not text:
        return entries
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    for row in csv.reader(io.StringIO(complete)):
        if not row:
            continue
        if len(row) != 3:
            raise ValueError(f"unexpected segment list line: {row!r}")
        name, start, end = row
        entries.append(SegmentEntry(os.path.basename(name), float(start), float(end)))
    return entries


def last_line(text: str) -> str:
    """Last non-empty line of ffmpeg's stderr: the most specific error it printed."""
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()[:500]
    return ""
