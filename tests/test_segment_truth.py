"""The segment-truth checker rejects every way of losing, repeating or re-encoding video.

Synthetic segment sets are cut by stream copy from a marked 20 s source with a keyframe
every second (so a 1 s overlap is a real stream copy), with the fixture generator's own
building blocks and the layer's ffmpeg. A correct cut must pass; each defect must be
rejected with a line naming the segment and the frames.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.videos import ensure_fixtures
from fixtures.videos.ffmpeg import BITEXACT, run_ffmpeg, segment_cut
from fixtures.videos.specs import _audio_src, _video_src
from harness.judge import segment_truth
from harness.judge.segment_truth import check_files, facts_of

SEG = 5.0


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("truth") / "gop1_20s.mp4"
    run_ffmpeg([*_video_src(640, 360, 20), *_audio_src(20), "-c:v", "libx264", "-preset", "ultrafast",
                "-threads", "1", "-crf", "30", "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30",
                "-sc_threshold", "0", "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", *BITEXACT, str(out)])
    return out


@pytest.fixture(scope="module")
def pieces(source: Path, tmp_path_factory) -> dict[str, Path]:
    """Stream-copied pieces named by their time range in seconds."""
    d = tmp_path_factory.mktemp("pieces")
    out = {}
    run_ffmpeg(["-i", str(source), "-map", "0", "-c", "copy", "-f", "segment", "-segment_times", "5,6,10,15",
                "-reset_timestamps", "1", str(d / "p%d.mp4")])
    for i, name in enumerate(["0-5", "5-6", "6-10", "10-15", "15-20"]):
        out[name] = d / f"p{i}.mp4"
    run_ffmpeg(["-i", str(source), "-map", "0", "-c", "copy", "-f", "segment", "-segment_times", "5,10,15",
                "-reset_timestamps", "1", str(d / "q%d.mp4")])
    for i, name in enumerate(["0-5b", "5-10", "10-15b", "15-20b"]):
        out[name] = d / f"q{i}.mp4"
    run_ffmpeg(["-ss", "4", "-i", str(source), "-t", "6", "-map", "0", "-c", "copy",
                "-avoid_negative_ts", "make_zero", str(d / "overlap_4-10.mp4")])
    out["4-10"] = d / "overlap_4-10.mp4"
    run_ffmpeg(["-i", str(out["5-10"]), "-map", "0", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30",
                "-pix_fmt", "yuv420p", "-c:a", "copy", str(d / "reencoded_5-10.mp4")])
    out["5-10 re-encoded"] = d / "reencoded_5-10.mp4"
    return out


def _check(source: Path, pieces: dict[str, Path], names: list[str]):
    segs = [(f"segment_{i:03d}.mp4", pieces[n]) for i, n in enumerate(names)]
    return check_files(source, segs, SEG)


def test_a_correct_cut_passes(source: Path, tmp_path: Path) -> None:
    rc, segs, err = segment_cut(source, tmp_path, SEG)
    assert rc == 0, err
    truth = check_files(source, [(p.name, p) for p in segs], SEG)
    assert truth.ok, truth.lines
    assert (truth.covered, truth.frames, truth.expected_segments) == (600, 600, 4)
    assert truth.ranges == [(0, 149), (150, 299), (300, 449), (450, 599)]


def test_four_seconds_missing_in_the_middle_is_rejected(source, pieces) -> None:
    truth = _check(source, pieces, ["0-5b", "5-6", "10-15b", "15-20b"])
    assert not truth.ok
    assert truth.lines[0] == ("segment_001.mp4 holds frames 150-179, expected 150-299: "
                              "120 frames (4.0 s) missing")
    assert truth.covered == 480


def test_a_one_second_overlap_is_rejected(source, pieces) -> None:
    truth = _check(source, pieces, ["0-5b", "4-10", "10-15b", "15-20b"])
    assert not truth.ok
    assert truth.lines[0] == ("segment_001.mp4 holds frames 120-299: frames 120-149, "
                              "30 frames (1.0 s) already in an earlier segment")


def test_two_swapped_segments_are_rejected(source, pieces) -> None:
    truth = _check(source, pieces, ["0-5b", "10-15b", "5-10", "15-20b"])
    assert not truth.ok
    assert truth.lines[0].startswith("segment_001.mp4 starts at frame 300, expected 150: frames 150-299")
    assert any("segment_002.mp4 holds frames 150-299, which come before segment_001.mp4's 300-449: out of order"
               == line for line in truth.lines), truth.lines


def test_the_last_segment_dropped_is_rejected(source, pieces) -> None:
    truth = _check(source, pieces, ["0-5b", "5-10", "10-15b"])
    assert not truth.ok
    assert truth.lines[0] == ("frames 450-599 (150 frames (5.0 s), the end of the source) are in no segment; "
                              "segment_003.mp4 missing (4 segments expected, got 3)")
    assert "audio: source packets 705-938 (15.02-19.99 s, the end) are in no segment" in truth.lines


def test_one_re_encoded_segment_is_rejected(source, pieces) -> None:
    truth = _check(source, pieces, ["0-5b", "5-10 re-encoded", "10-15b", "15-20b"])
    assert not truth.ok
    assert any(line.startswith("segment_001.mp4 was re-encoded: keyframes at frames [0] of its 150, "
                               "the source has [0, 30, 60, 90, 120] there") for line in truth.lines), truth.lines


def test_an_extra_duplicate_segment_is_rejected(source, pieces) -> None:
    truth = _check(source, pieces, ["0-5b", "5-10", "5-10", "10-15b", "15-20b"])
    assert not truth.ok
    assert truth.lines[0] == ("segment_002.mp4 holds frames 150-299: frames 150-299, "
                              "150 frames (5.0 s) already in an earlier segment")


def test_a_cut_at_the_wrong_keyframe_is_rejected(source, pieces) -> None:
    truth = _check(source, pieces, ["0-5b", "5-6", "6-10", "10-15b", "15-20b"])
    assert not truth.ok
    assert truth.lines[0] == ("segment_001.mp4 holds frames 150-179, expected 150-299: the muxer cuts at the "
                              "first keyframe at or after 10 s (frame 300)")


def test_a_source_without_a_marker_is_named(tmp_path: Path, pieces) -> None:
    plain = tmp_path / "plain.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=2", "-c:v", "libx264",
                "-preset", "ultrafast", str(plain)])
    truth = check_files(plain, [("segment_000.mp4", plain)], SEG)
    assert not truth.ok and truth.lines[0].startswith("the source carries no frame marker")


def test_every_fixture_cut_by_the_layer_ffmpeg_passes(tmp_path: Path) -> None:
    """The checker against the real matrix: what the muxer writes is exactly what it must write."""
    manifest = ensure_fixtures()
    for fx in manifest:
        if fx.broken:
            continue
        out = tmp_path / fx.name
        rc, segs, err = segment_cut(fx.path, out, 10)
        assert rc == 0, err
        truth = segment_truth.check_fixture(fx, [(p.name, p) for p in segs], 10)
        assert truth.ok, (fx.name, truth.lines)
        assert truth.covered == truth.frames > 0 and len(segs) == fx.expected_segments(10), fx.name


def test_facts_of_a_file_that_is_not_media_says_so(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    facts = facts_of(junk)
    assert not facts.decodes and facts.error


# -- packet truth: stream copies, video and audio, byte for byte (CONTRACT O2) -----------------------

def _cut(source: Path, out: Path, *extra: str) -> list[tuple[str, Path]]:
    """Cut `source` at 5 s with the same segment muxer as the processor, with extra output options."""
    out.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-i", str(source), "-map", "0:v?", "-map", "0:a?", *extra, "-f", "segment", "-segment_time",
                str(SEG), "-reset_timestamps", "1", "-segment_format", "mp4", str(out / "segment_%03d.mp4")])
    return [(p.name, p) for p in sorted(out.glob("segment_*.mp4"))]


def test_a_re_encode_keeping_every_keyframe_and_silent_audio_is_rejected(source: Path, tmp_path: Path) -> None:
    """The issue's reproduction: crf 51, keyframes forced at the source's GOP, audio replaced by silence."""
    segs = _cut(source, tmp_path / "crf51", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "51",
                "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
                "-af", "volume=0", "-c:a", "aac", "-b:a", "96k")
    truth = check_files(source, segs, SEG)
    assert not truth.ok
    assert any(line.startswith("segment_000.mp4 video: ") and "not the source's bytes" in line
               for line in truth.lines), truth.lines
    assert any(line.startswith("segment_000.mp4 audio: ") and "not the source's bytes" in line
               for line in truth.lines), truth.lines


def test_video_copied_but_audio_replaced_by_silence_is_rejected(source: Path, tmp_path: Path) -> None:
    segs = _cut(source, tmp_path / "silent", "-c:v", "copy", "-af", "volume=0", "-c:a", "aac", "-b:a", "96k")
    truth = check_files(source, segs, SEG)
    assert not truth.ok
    assert all(" audio: " in line for line in truth.lines if line.startswith("segment_")), truth.lines
    assert truth.lines[0].startswith("segment_000.mp4 audio: ") and "not a stream copy" in truth.lines[0]


def test_dropped_audio_is_rejected_naming_the_stream(source: Path, tmp_path: Path) -> None:
    segs = _cut(source, tmp_path / "noaudio", "-c", "copy", "-an")
    truth = check_files(source, segs, SEG)
    assert not truth.ok
    assert any("has no audio stream" in line for line in truth.lines), truth.lines


def _stream(label: str, hashes: list[int], step: float = 0.02) -> segment_truth.StreamPackets:
    return segment_truth.StreamPackets(label, tuple(bytes([h]) for h in hashes),
                                       tuple(i * step for i in range(len(hashes))), 1 / 48000)


def _facts(name: str, *streams: segment_truth.StreamPackets) -> segment_truth.MediaFacts:
    return segment_truth.MediaFacts(name, "audio", len(streams[0].hashes), (), (), None, None, 0.0, 0.0, (),
                                    streams=streams)


@pytest.mark.parametrize("segments, words", [
    ([[0, 1, 2, 3], [5, 4, 6, 7]], "segment_001.mp4 audio: its packet 0 is not the source's packet 4"),
    ([[0, 1, 2, 3], [2, 3, 4, 5, 6, 7]], "segment_001.mp4 audio: it repeats source packets 2-3"),
    ([[0, 1, 2, 3], [6, 7]], "segment_001.mp4 audio: source packets 4-5"),
    ([[0, 1, 2, 3], [4, 5]], "audio: source packets 6-7"),
])
def test_swapped_duplicated_and_dropped_audio_packets_are_named(segments, words: str) -> None:
    source = _facts("source", _stream("audio", list(range(8))))
    segs = [_facts(f"segment_{i:03d}.mp4", _stream("audio", s)) for i, s in enumerate(segments)]
    lines = segment_truth.packet_truth(source, segs)
    assert lines and lines[0].startswith(words), lines


def test_retimed_packets_are_named() -> None:
    source = _facts("source", _stream("audio", [0, 1, 2, 3]))
    seg = _facts("segment_000.mp4", _stream("audio", [0, 1, 2, 3], step=0.03))
    assert segment_truth.packet_truth(source, [seg]) == [
        "segment_000.mp4 audio: packet 1 is at 0.0300 s from its first, the source's at 0.0200 s: retimed"]


def test_the_audio_only_fixture_is_checked_by_its_packets(tmp_path: Path) -> None:
    fx = next(f for f in ensure_fixtures() if f.path.suffix == ".m4a")
    good = _cut(fx.path, tmp_path / "copy", "-c", "copy")
    assert segment_truth.check_fixture(fx, good, SEG).ok
    bad = _cut(fx.path, tmp_path / "silence", "-af", "volume=0", "-c:a", "aac", "-b:a", "96k")
    truth = segment_truth.check_files(fx.path, bad, SEG, cut_on_tie=fx.cut_on_tie)
    assert not truth.ok and any(" audio: " in line for line in truth.lines), truth.lines
