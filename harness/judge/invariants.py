"""The shared job checker: every job a phase test starts is held to the same invariants.

- a FAILED job has an error_message and no objects under processed/<job_id>/;
- a COMPLETED job lists exactly the objects that exist, named segment_000.mp4... in order, and
  they hold every source frame exactly once, cut where the muxer must cut (harness.judge.segment_truth);
- no job is left PROCESSING past the function timeout.
Checked against the target's real S3 and DynamoDB, never taken on trust.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fixtures.videos import verify_segment
from harness.judge.segment_truth import Truth, check_fixture


@dataclass
class JobCheck:
    job_id: str
    status: str | None
    violations: list[str] = field(default_factory=list)
    segment_durations: list[float] = field(default_factory=list)
    leaked: int = 0
    stuck: bool = False
    truth: Truth | None = None

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        return f"job {self.job_id} ({self.status}): " + ("ok" if self.ok else "; ".join(self.violations))


def _age_s(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (datetime.now(UTC) - when).total_seconds()


def verify_segments(target, keys: list[str], workdir: Path | None = None) -> list[tuple[str, object]]:
    """Download each segment and decode it end to end with PyAV."""
    out = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for i, key in enumerate(keys):
            path = Path(tmp) / f"seg{i:03d}.mp4"
            target.download(key, path)
            out.append((key, verify_segment(path)))
            path.unlink()
    return out


def segment_truth_of(target, keys: list[str], fixture, segment_duration: float) -> Truth | None:
    """Download the segments (in key order) and check them against the fixture; None without a marked fixture."""
    if fixture is None or not getattr(fixture, "frame_marker", False):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, key in enumerate(keys):
            path = Path(tmp) / f"{i:03d}.mp4"
            target.download(key, path)
            paths.append((key.rsplit("/", 1)[-1], path))
        return check_fixture(fixture, paths, segment_duration)


def check_job(target, job_id: str, *, fixture=None, segment_duration: float = 10, verify_media: bool = True,
              expect: str | None = None) -> JobCheck:
    job = target.get_job(job_id)
    status = job.get("status") if job else None
    check = JobCheck(job_id, status)
    outputs = target.outputs_of(job_id)
    if job is None:
        check.violations.append("no job record")
        check.leaked = len(outputs)
        return check
    if expect and status != expect:
        check.violations.append(f"status {status}, expected {expect}"
                                + (f" (error_message: {job.get('error_message')})" if job.get("error_message") else ""))
    if status == "FAILED":
        if not str(job.get("error_message") or "").strip():
            check.violations.append("FAILED without error_message")
        if outputs:
            check.leaked = len(outputs)
            check.violations.append(f"FAILED but {len(outputs)} objects remain under processed/{job_id}/ "
                                    f"(partial results: {outputs[:3]})")
    elif status == "COMPLETED":
        listed = sorted(job.get("output_s3_urls") or [])
        if listed != outputs:
            missing = sorted(set(listed) - set(outputs))
            extra = sorted(set(outputs) - set(listed))
            check.leaked = len(extra)
            check.violations.append(f"COMPLETED lists {len(listed)} outputs but {len(outputs)} exist "
                                    f"(missing {missing[:3]}, unlisted {extra[:3]})")
        if int(job.get("segments_created", -1)) != len(listed):
            check.violations.append(f"segments_created {job.get('segments_created')} != {len(listed)} listed")
        if fixture is not None:
            want = fixture.expected_segments(segment_duration)
            if len(outputs) != want:
                check.violations.append(f"{len(outputs)} segments, manifest expects {want} for "
                                        f"{fixture.name} at {segment_duration} s")
        named = [f"processed/{job_id}/segment_{i:03d}.mp4" for i in range(len(listed))]
        if listed != named:
            check.violations.append(f"segment keys are not segment_000.mp4... in order: {listed[:4]}")
        if verify_media and outputs:
            check.truth = segment_truth_of(target, outputs, fixture, segment_duration)
            if check.truth is not None and not check.truth.ok:
                check.violations += check.truth.lines
            elif check.truth is None:
                for key, seg in verify_segments(target, outputs):
                    if not seg.decodes:
                        check.violations.append(f"{key} does not decode: {seg.error}")
    elif status == "PROCESSING":
        timeout = target.stack.function("video_processor").timeout_s
        age = _age_s(job.get("updated_at"))
        if age is not None and age > timeout:
            check.stuck = True
            check.violations.append(f"stuck in PROCESSING for {age:.0f} s > function timeout {timeout} s")
    return check
