"""S3 key layout: where sources, outputs and step-2B copies live (pure)."""

from __future__ import annotations

import posixpath
import re

UPLOADS_PREFIX = "uploads/"
PROCESSED_PREFIX = "processed/"
TEST_OUTPUT_PREFIX = "test_output/"

# Local file name pattern handed to ffmpeg's segment muxer; the same name is the
# last component of the S3 key, so a listed file maps 1:1 to its key.
SEGMENT_PATTERN = "segment_%03d.mp4"
_SEGMENT_NAME = re.compile(r"^segment_(\d{3,})\.mp4$")


def job_output_prefix(job_id: str) -> str:
    """Prefix holding every output of one job (deleted as a whole on failure)."""
    return f"{PROCESSED_PREFIX}{job_id}/"


def segment_filename(index: int) -> str:
    """File name of segment ``index`` (0-based), as ffmpeg writes it."""
    if index < 0:
        raise ValueError(f"segment index must be >= 0, got {index}")
    return SEGMENT_PATTERN % index


def segment_key(job_id: str, index: int) -> str:
    """S3 key of segment ``index`` of ``job_id``: processed/<job_id>/segment_000.mp4, ..."""
    return job_output_prefix(job_id) + segment_filename(index)


def segment_index(filename: str) -> int:
    """Inverse of ``segment_filename``; raises ValueError for anything else."""
    match = _SEGMENT_NAME.match(filename)
    if not match:
        raise ValueError(f"not a segment file name: {filename!r}")
    return int(match.group(1))


def test_output_key(source_key: str) -> str:
    """Where the S3 round-trip step copies ``source_key``: test_output/<basename>."""
    base = posixpath.basename(source_key)
    if not base:
        raise ValueError(f"key has no basename: {source_key!r}")
    return TEST_OUTPUT_PREFIX + base
