"""Step 3A: the cutting code, deployed alone as the per-step test function, cuts the reference video into
segments that hold every source frame exactly once. The shipped processor runs the whole fixture
matrix in 4A, once its status writes (3B) are proven."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from harness.judge.segment_truth import check_fixture

SEGMENT = "segment_test"
DURATION = 10


@pytest.mark.contract("T4", "O2")
def test_standard_video_gives_segments_holding_every_source_frame_once(target, manifest, evidence) -> None:
    fixture = manifest["standard_720p"]
    job_id = target.new_job_id()
    key = target.upload_file(fixture.path, job_id=job_id)
    result = target.invoke(SEGMENT, {"job_id": job_id, "s3_bucket": target.bucket, "s3_key": key,
                                     "segment_duration": DURATION})
    assert result.ok, f"cutting failed: {result.payload}"
    keys = [s["key"] for s in result.payload["segments"]]
    want = fixture.expected_segments(DURATION)
    assert keys == [f"processed/{job_id}/segment_{i:03d}.mp4" for i in range(len(keys))], keys
    assert target.outputs_of(job_id) == keys, "objects in S3 differ from the keys returned"
    with tempfile.TemporaryDirectory() as tmp:
        paths = [(k.rsplit("/", 1)[-1], target.download(k, Path(tmp) / f"{i:03d}.mp4")) for i, k in enumerate(keys)]
        truth = check_fixture(fixture, paths, DURATION)
    assert truth.ok, f"{fixture.name}: " + " | ".join(truth.lines)
    assert len(keys) == want
    evidence.add("works", f"{fixture.name}: {truth.summary}")
