"""The manifest tells the truth (checked with PyAV + real ffmpeg cuts) and the verifiers work."""
from __future__ import annotations

import math
from pathlib import Path

import av
import pytest

from fixtures.videos import (
    DEFAULT_NAMES,
    Fixture,
    Manifest,
    check_coverage,
    ensure_fixtures,
    probe,
    simulate_segment_count,
    verify_segment,
)
from fixtures.videos.ffmpeg import segment_cut
from fixtures.videos.specs import SPECS_BY_NAME

GOOD = sorted(n for n in DEFAULT_NAMES if not SPECS_BY_NAME[n].broken)
UNOPENABLE = ["random_bytes_mp4", "zero_byte_mp4", "text_as_mp4"]
# full decode of every segment; the 100 MB tier is only counted (decoding it costs ~15 s)
DECODE_ALL = [n for n in GOOD if n != "tier_100mb"]


@pytest.fixture(scope="session")
def video_manifest() -> Manifest:
    """Default matrix, generated once into the (shared, locked) default cache."""
    return ensure_fixtures()


def _ref_duration(fx: Fixture) -> float:
    """Span of the stream the segment muxer cuts on (video, else audio)."""
    ref = fx.stream("video") or fx.stream("audio")
    assert ref is not None
    return float(ref["duration"])


@pytest.mark.parametrize("name", sorted(DEFAULT_NAMES))
def test_manifest_matches_pyav_probe(video_manifest: Manifest, name: str) -> None:
    fx = video_manifest[name]
    if name in UNOPENABLE:
        with pytest.raises(av.FFmpegError):
            probe(fx.path)
        assert fx.duration is None and fx.streams == [] and fx.keyframe_times == []
        return
    info = probe(fx.path)
    assert info.duration == pytest.approx(fx.duration, abs=1e-6)
    assert info.streams == fx.streams
    assert info.keyframe_times == fx.keyframe_times
    assert info.container == fx.container


@pytest.mark.parametrize("name", GOOD)
def test_keyframes_every_two_seconds(video_manifest: Manifest, name: str) -> None:
    fx = video_manifest[name]
    if fx.stream("video") is None:
        assert fx.keyframe_interval is None
        return
    kf = fx.keyframe_times
    assert fx.keyframe_interval == 2.0
    assert all(math.isclose(b - a, 2.0, abs_tol=1e-3) for a, b in zip(kf, kf[1:]))
    assert math.isclose(kf[0], fx.reference_start or 0.0, abs_tol=1e-9)


def test_stream_properties(video_manifest: Manifest) -> None:
    def video(name: str) -> dict:
        v = video_manifest[name].stream("video")
        assert v is not None
        return v

    assert video_manifest["standard_720p"].duration == 30.0
    assert (video("standard_720p")["width"], video("standard_720p")["height"]) == (1280, 720)
    assert (video("portrait_1080x1920")["width"], video("portrait_1080x1920")["height"]) == (1080, 1920)
    assert (video("odd_resolution_641x359")["width"], video("odd_resolution_641x359")["height"]) == (641, 359)
    assert video("standard_webm")["codec"] == "vp9"
    assert video_manifest["standard_webm"].stream("audio")["codec"] == "opus"  # type: ignore[index]
    assert video_manifest["no_audio"].stream("audio") is None
    assert video_manifest["audio_only"].stream("video") is None
    assert video("variable_frame_rate")["constant_frame_rate"] is False
    assert all(video(n)["constant_frame_rate"] for n in GOOD
               if n != "variable_frame_rate" and video_manifest[n].stream("video"))
    assert video_manifest["short_3s"].duration == 3.0
    name = video_manifest["unicode_name"].path.name
    assert " " in name and not name.isascii()


def test_variable_frame_rate_is_real(video_manifest: Manifest) -> None:
    with av.open(str(video_manifest["variable_frame_rate"].path)) as c:
        pts = sorted(p.pts for p in c.demux(video=0) if p.pts is not None)
        tb = c.streams.video[0].time_base
    steps = {round(float((b - a) * tb), 3) for a, b in zip(pts, pts[1:])}
    assert steps == {0.033, 0.1}


def test_odd_resolution_decodes_at_odd_size(video_manifest: Manifest) -> None:
    with av.open(str(video_manifest["odd_resolution_641x359"].path)) as c:
        frame = next(c.decode(video=0))
    assert (frame.width, frame.height) == (641, 359)


def _cut(fx: Fixture, seconds: float, out: Path) -> list[Path]:
    rc, segs, err = segment_cut(fx.path, out, seconds)
    assert rc == 0, err
    return segs


# tier_100mb is cut only at 10 s: stream-copying 100 MB four times adds nothing.
CUTS = [(name, seconds) for name in GOOD for seconds in (10, 3, 5, 7.5)
        if name != "tier_100mb" or seconds == 10]


@pytest.mark.parametrize("name,seconds", CUTS)
def test_expected_segments_match_a_real_cut(
    video_manifest: Manifest, name: str, seconds: float, tmp_path: Path
) -> None:
    fx = video_manifest[name]
    segs = _cut(fx, seconds, tmp_path)
    assert len(segs) == fx.expected_segments(seconds)
    if seconds == 10:
        assert len(segs) == fx.expected["segments"]


@pytest.mark.parametrize("name", DECODE_ALL)
def test_segments_decode_and_cover_the_source(
    video_manifest: Manifest, name: str, tmp_path: Path
) -> None:
    """What a processor's -c copy cut into segment_%03d.mp4 really yields for each input."""
    fx = video_manifest[name]
    checks = [verify_segment(p) for p in _cut(fx, 10, tmp_path)]
    assert all(c.decodes for c in checks), [c.error for c in checks]
    for c in checks:
        kinds = sorted(s["type"] for s in c.streams)
        assert kinds == sorted(s["type"] for s in fx.streams)
    cov = check_coverage(_ref_duration(fx), [c.duration for c in checks], gop=2.0)
    assert cov.ok, cov.message
    assert abs(cov.gap) < 0.05, cov.message  # -c copy loses nothing


def test_truncated_mp4_cuts_but_does_not_decode(video_manifest: Manifest, tmp_path: Path) -> None:
    """ffmpeg exits 0 on the truncated file; only decoding the segments reveals it."""
    fx = video_manifest["truncated_mp4"]
    assert fx.observed["cuts"][0]["rc"] == 0 and fx.observed["cuts"][0]["segments"] == 2
    checks = [verify_segment(p) for p in _cut(fx, 10, tmp_path)]
    assert not all(c.decodes for c in checks)
    assert fx.duration == 30.0  # the moov still claims the full length
    cov = check_coverage(fx.duration, [c.duration for c in checks], gop=2.0)
    assert not cov.ok


@pytest.mark.parametrize("name", UNOPENABLE)
def test_unopenable_files_fail_everywhere(video_manifest: Manifest, name: str, tmp_path: Path) -> None:
    fx = video_manifest[name]
    check = verify_segment(fx.path)
    assert not check.decodes and check.error
    rc, segs, _ = segment_cut(fx.path, tmp_path, 10)
    assert rc != 0 and segs == []
    assert fx.observed["cuts"][0]["rc"] != 0
    with pytest.raises(ValueError):
        fx.expected_segments(10)


def test_verify_segment_on_a_good_file(video_manifest: Manifest) -> None:
    check = verify_segment(video_manifest["short_3s"].path)
    assert check.decodes and check.error is None
    assert check.duration == pytest.approx(3.0, abs=1e-6)
    video = next(s for s in check.streams if s["type"] == "video")
    assert video["frames"] == video["packets"] == 90


def test_verify_segment_detects_a_corrupted_middle(video_manifest: Manifest, tmp_path: Path) -> None:
    data = bytearray(video_manifest["short_3s"].path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 20000] = bytes(20000)  # zero out frame data, container intact
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(bytes(data))
    check = verify_segment(bad)
    assert not check.decodes, check


def test_verify_segment_missing_file(tmp_path: Path) -> None:
    check = verify_segment(tmp_path / "nope.mp4")
    assert not check.decodes and check.error


def test_check_coverage() -> None:
    assert check_coverage(30.0, [10.0, 10.0, 10.0], gop=2.0).ok
    assert check_coverage(30.0, [12.0, 10.0, 8.0], gop=2.0).ok
    ok = check_coverage(30.0, [10.0, 10.0, 6.0], gop=2.0)  # 4 s missing = 2 cuts x 2 s GOP
    assert ok.ok and ok.gap == pytest.approx(4.0)
    bad = check_coverage(30.0, [10.0, 10.0, 5.0], gop=2.0)
    assert not bad.ok and bad.gap == pytest.approx(5.0) and "NOT covered" in bad.message
    assert not check_coverage(3.0, [2.0], gop=2.0).ok  # one segment: no cut, no allowance
    assert not check_coverage(30.0, [], gop=2.0).ok
    assert not check_coverage(30.0, [10.0, 10.0, 10.0, 10.0], gop=2.0).ok  # 10 s too much


def test_simulated_segment_muxer_rules() -> None:
    grid = [float(t) for t in range(0, 30, 2)]
    assert simulate_segment_count(grid, 10) == 3
    assert simulate_segment_count(grid, 4) == 8
    assert simulate_segment_count(grid, 4, cut_on_tie=False) == 7
    assert simulate_segment_count(grid, 100) == 1
    # thresholds follow the count, not the clock: one keyframe after a long GOP = one cut
    assert simulate_segment_count([0.0, 9.0], 1) == 2
    # thresholds are relative to the first reference packet
    assert simulate_segment_count([5.0, 15.0, 25.0], 10, reference_start=5.0) == 3
    assert simulate_segment_count([], 10) == 0
    with pytest.raises(ValueError):
        simulate_segment_count(grid, 0)
