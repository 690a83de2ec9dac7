"""Step 3A: uploads are cut into playable segments that cover the source, for every fixture format."""
from __future__ import annotations

import pytest

from fixtures.videos import DEFAULT_NAMES, check_coverage
from harness.invariants import verify_segments

SEGMENT = "segment_test"
DURATION = 10


def _cut(target, fixture):
    job_id = target.new_job_id()
    key = target.upload_file(fixture.path, job_id=job_id)
    result = target.invoke(SEGMENT, {"job_id": job_id, "s3_bucket": target.bucket, "s3_key": key,
                                     "segment_duration": DURATION})
    return job_id, result


def test_standard_video_gives_playable_segments_covering_the_source(target, manifest, evidence) -> None:
    fixture = manifest["standard_720p"]
    job_id, result = _cut(target, fixture)
    assert result.ok, f"cutting failed: {result.payload}"
    keys = [s["key"] for s in result.payload["segments"]]
    want = fixture.expected_segments(DURATION)
    assert len(keys) == want, f"{len(keys)} segments, expected {want} for a {fixture.duration:.1f} s source"
    assert keys == [f"processed/{job_id}/segment_{i:03d}.mp4" for i in range(want)], keys
    assert target.outputs_of(job_id) == keys, "objects in S3 differ from the keys returned"
    checks = verify_segments(target, keys)
    bad = [f"{k}: {c.error}" for k, c in checks if not c.decodes]
    assert not bad, f"segments do not decode: {bad}"
    durations = [c.duration for _, c in checks]
    gop = fixture.keyframe_interval or 2.0
    for d in durations[:-1]:
        assert abs(d - DURATION) <= gop + 0.05, f"segment of {d:.2f} s is more than one GOP off {DURATION} s"
    cov = check_coverage(fixture.duration, durations, gop)
    assert cov.ok, cov.message
    evidence.add("works", f"{fixture.name}: {len(keys)} playable segments, {cov.message}")


# tier_100mb is a size, not a format: 4A runs it end to end.
@pytest.mark.parametrize("name", sorted(DEFAULT_NAMES - {"standard_720p", "tier_100mb"}))
def test_fixture_behaves_as_the_manifest_says(target, manifest, evidence, name) -> None:
    fixture = manifest[name]
    job_id, result = _cut(target, fixture)
    outputs = target.outputs_of(job_id)
    if fixture.expected["status"] == "FAILED":
        assert result.function_error, f"{name} should fail ({fixture.expected.get('reason_class')}) but gave {result.payload}"
        assert result.payload.get("errorType") in ("InvalidMedia", "InvalidEvent", "SourceNotFound"), result.payload
        assert outputs == [], f"{name} failed but left {outputs}"
        evidence.add("reliable", f"{name}: rejected as {result.payload.get('errorType')}, no outputs")
        return
    assert result.ok, f"{name} should complete but failed: {result.payload}"
    want = fixture.expected_segments(DURATION)
    assert len(outputs) == want, f"{name}: {len(outputs)} segments, manifest expects {want}"
    bad = [f"{k}: {c.error}" for k, c in verify_segments(target, outputs) if not c.decodes]
    assert not bad, f"{name}: segments do not decode: {bad}"
    evidence.add("works", f"{name}: {want} playable segments")
