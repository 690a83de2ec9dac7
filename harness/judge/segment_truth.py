"""Segment truth: do the segments hold every source frame exactly once, in order, cut where
the muxer must cut, as stream copies?

Every video fixture carries its frame number in every frame (fixtures/videos/marker.py).
For each file the I/O half (`facts_of`) demuxes all packets, which is cheap, and decodes
only the first frame and the last GOP, which gives the file's first and last frame
numbers, its frame count, its keyframe positions and its codecs. The pure half
(`check`) compares the segments, in key order, with the source:

- the frames each segment holds (from its first and last frame number and its frame
  count) chain to cover source frames 0..N-1 exactly once: no gap, no overlap, no
  duplicate, no reordering, nothing skipped inside a segment;
- each cut lies at the keyframe ffmpeg's segment muxer must choose for the requested
  segment duration (fixtures.videos.manifest.cut_keyframes, from the source's keyframes);
- each segment is a stream copy: its keyframes are the source's keyframes in that range,
  and its codecs and stream count are the source's;
- each segment's duration matches its frames within one frame;
- packet truth (CONTRACT O2, stream copies): every video and audio packet of the source appears
  exactly once across the segments, in order, byte for byte (a hash of each packet's payload),
  with its timing relative to the segment's first packet kept. A re-encode, replaced or silent
  audio, dropped, swapped or duplicated packets each name the segment and the stream. The
  audio-only fixture, which carries no frame marker, is checked this way too.

Every problem is one line naming the segment and the frames, e.g. "segment_001.mp4 holds
frames 300-479, expected 300-599: 120 frames (4.0 s) missing".
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import av

from fixtures.videos.manifest import cut_keyframes
from fixtures.videos.marker import read_index

MAX_LINES = 5


@dataclass(frozen=True)
class MediaFacts:
    """What the checker needs to know about one file."""

    name: str
    kind: str                          # "video" | "audio": the stream the muxer cuts on
    frames: int                        # packets of that stream, in presentation order
    times: tuple[float, ...]           # each frame's pts in seconds, relative to the first
    keyframes: tuple[int, ...]         # positions of keyframes among the frames
    first_id: int | None               # frame numbers read from the marker (video only)
    last_id: int | None
    duration: float                    # the stream's duration as the file states it
    frame_duration: float              # of the last frame, seconds
    codecs: tuple[tuple, ...]          # per stream: (type, codec, width, height, pix_fmt, sample_rate)
    decodes: bool = True
    error: str | None = None
    streams: tuple[StreamPackets, ...] = ()    # every audio and video stream's packets, in decode order


@dataclass(frozen=True)
class StreamPackets:
    """One stream's packets in decode order: a hash of each payload and its pts in seconds."""

    label: str                         # "video", "audio", or "audio 2" when a type repeats
    hashes: tuple[bytes, ...]
    times: tuple[float, ...]
    tick: float                        # the stream's time base, seconds


@dataclass
class Truth:
    ok: bool
    lines: list[str]
    frames: int                        # source frames
    covered: int                       # source frames held exactly once
    expected_segments: int
    ranges: list[tuple[int, int]] = field(default_factory=list)   # what each segment holds

    @property
    def summary(self) -> str:
        return (f"{self.covered}/{self.frames} source frames exactly once in {len(self.ranges)} segments"
                + ("" if self.ok else f"; {self.lines[0]}"))


# -- I/O ---------------------------------------------------------------------------------

def _stream_desc(s) -> tuple:
    ctx = s.codec_context
    if s.type == "video":
        return ("video", ctx.name, ctx.width, ctx.height, str(ctx.pix_fmt), None)
    if s.type == "audio":
        return ("audio", ctx.name, None, None, None, ctx.sample_rate)
    return (s.type, ctx.name if ctx else None, None, None, None, None)


_BY_CONTENT: dict[str, MediaFacts] = {}


def facts_of(path: Path, name: str | None = None) -> MediaFacts:
    """The facts of a file, computed once per distinct content (sha256): 5B's rounds and both paths cut
    the same source into byte-identical segments, and identical bytes have identical facts."""
    name = name or Path(path).name
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    key = digest.hexdigest()
    if key not in _BY_CONTENT:
        _BY_CONTENT[key] = _facts_of(path, name)
    return dataclasses.replace(_BY_CONTENT[key], name=name)


def _facts_of(path: Path, name: str) -> MediaFacts:
    """Demux every packet; decode the first frame and the last GOP for the frame numbers."""
    try:
        with av.open(str(path)) as c:
            streams = [s for s in c.streams if s.type in ("video", "audio")]
            ref = next((s for s in streams if s.type == "video"), None) or next(
                (s for s in streams if s.type == "audio"), None)
            if ref is None:
                raise ValueError("no audio or video stream")
            codecs = tuple(_stream_desc(s) for s in streams)
            packets, per_stream = [], {s.index: ([], []) for s in streams}
            for p in c.demux(*streams):
                if p.pts is None and p.size == 0:
                    continue        # the flush packet demux yields at the end of each stream
                hashes, times = per_stream[p.stream.index]
                hashes.append(hashlib.blake2b(bytes(p), digest_size=8).digest())
                times.append(float(p.pts * p.time_base) if p.pts is not None else float("nan"))
                if p.stream.index == ref.index and p.pts is not None:
                    packets.append((p.pts, p.is_keyframe, p.duration or 0))
            labels = _labels(streams)
            stream_packets = tuple(StreamPackets(labels[i], tuple(per_stream[s.index][0]),
                                                 tuple(per_stream[s.index][1]), float(s.time_base or 0))
                                   for i, s in enumerate(streams))
            tb = float(ref.time_base)
            duration = float(ref.duration * ref.time_base) if ref.duration else 0.0
            kind = ref.type          # never touch a stream once its container is closed
    except (av.FFmpegError, OSError, ValueError) as e:
        return MediaFacts(name, "video", 0, (), (), None, None, 0.0, 0.0, (), decodes=False, error=str(e))
    packets.sort(key=lambda p: p[0])
    if not packets:
        return MediaFacts(name, kind, 0, (), (), None, None, duration, 0.0, codecs, decodes=False,
                          error="no packets")
    t0 = packets[0][0]
    times = tuple((p[0] - t0) * tb for p in packets)
    keyframes = tuple(i for i, p in enumerate(packets) if p[1])
    first_id = last_id = None
    error = None
    if kind == "video":
        try:
            first_id, last_id = _end_ids(path, packets[keyframes[-1]][0] if keyframes else t0)
        except (av.FFmpegError, OSError, IndexError) as e:
            error = f"does not decode: {e}"
    return MediaFacts(name, kind, len(packets), times, keyframes, first_id, last_id,
                      duration or (times[-1] + packets[-1][2] * tb), packets[-1][2] * tb, codecs,
                      decodes=error is None, error=error, streams=stream_packets)


def _labels(streams) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for s in streams:
        seen[s.type] = seen.get(s.type, 0) + 1
        out.append(s.type if seen[s.type] == 1 else f"{s.type} {seen[s.type]}")
    return out


def _end_ids(path: Path, last_key_pts: int) -> tuple[int | None, int | None]:
    first_id = last_id = None
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        for packet in c.demux(vs):
            frames = packet.decode()
            if frames:
                first_id = read_index(frames[0])
                break
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        c.seek(last_key_pts, stream=vs, backward=True, any_frame=False)
        for packet in c.demux(vs):
            for frame in packet.decode():      # the flush packet at the end yields the tail
                last_id = read_index(frame)
    return first_id, last_id


_SOURCES: dict[tuple, MediaFacts] = {}


def source_facts(path: Path) -> MediaFacts:
    """facts_of, cached per file version: every job of a run compares with the same sources."""
    st = Path(path).stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SOURCES:
        _SOURCES[key] = facts_of(Path(path), "source")
    return _SOURCES[key]


# -- the pure check ------------------------------------------------------------------------

def expected_ranges(source: MediaFacts, segment_duration: float, cut_on_tie: bool = True) -> list[tuple[int, int]]:
    """Source frame ranges (inclusive) the segment muxer must write."""
    kf_times = [source.times[i] for i in source.keyframes]
    cuts = [source.keyframes[i] for i in cut_keyframes(kf_times, segment_duration, 0.0, cut_on_tie)]
    bounds = [0, *cuts, source.frames]
    return [(a, b - 1) for a, b in zip(bounds, bounds[1:])]


def _span(a: int, b: int, fps: float) -> str:
    n = b - a + 1
    return f"{n} frame{'s' if n != 1 else ''} ({n / fps:.1f} s)"


def check(source: MediaFacts, segments: list[MediaFacts], segment_duration: float, *,
          cut_on_tie: bool = True, period: int | None = None, transcoded: bool = False) -> Truth:
    """Compare segments (in key order) with their source; see the module docstring."""
    n = source.frames
    fps = n / (source.times[-1] + source.frame_duration) if n and source.times else 30.0
    expected = expected_ranges(source, segment_duration, cut_on_tie) if n else []
    lines: list[str] = []
    marked = source.kind == "video" and source.first_id is not None
    if source.kind == "video" and not marked:
        lines.append(f"the source carries no frame marker: regenerate the fixtures ({source.error or 'frame 0 unreadable'})")
    held = [0] * n
    ranges: list[tuple[int, int]] = []
    cursor = 0
    announced = -1          # a gap already reported up to this frame
    for k, seg in enumerate(segments):
        if not seg.decodes or seg.frames == 0:
            lines.append(f"{seg.name} does not decode: {seg.error or 'no frames'}")
            continue
        start = _start_of(seg, cursor, marked, period)
        if start is None:
            lines.append(f"{seg.name}: its first frame carries no marker")
            continue
        end = start + seg.frames - 1
        if marked and seg.last_id is not None:
            want_last = end % period if period else end
            if seg.last_id != want_last:
                last = seg.last_id if not period else start + (seg.last_id - start) % period
                lines.append(f"{seg.name} holds {seg.frames} frames from {start} to {last}: "
                             f"{_span(start, last, fps) if last >= start else 'frames'} span, so "
                             f"{abs(last - end)} frames are skipped or repeated inside it")
        ranges.append((start, end))
        exp = expected[k] if k < len(expected) else None
        if start > cursor and start - 1 > announced:
            lines.append(f"{seg.name} starts at frame {start}, expected {cursor}: frames {cursor}-{start - 1}, "
                         f"{_span(cursor, start - 1, fps)} missing")
        elif start < cursor:
            if end < cursor and len(ranges) > 1 and start < ranges[-2][0]:
                prev = segments[k - 1].name
                lines.append(f"{seg.name} holds frames {start}-{end}, which come before {prev}'s "
                             f"{ranges[-2][0]}-{ranges[-2][1]}: out of order")
            else:
                lines.append(f"{seg.name} holds frames {start}-{end}: frames {start}-{min(end, cursor - 1)}, "
                             f"{_span(start, min(end, cursor - 1), fps)} already in an earlier segment")
        elif start == cursor and exp is not None and (start, end) != exp:
            nxt = _next_start(segments, k, end, marked, period)
            contiguous = nxt == end + 1 or (nxt is None and end == n - 1)
            if end < exp[1] and not contiguous:
                lines.append(f"{seg.name} holds frames {start}-{end}, expected {exp[0]}-{exp[1]}: "
                             f"{_span(end + 1, exp[1], fps)} missing")
                announced = max(announced, (nxt - 1) if nxt is not None else exp[1])
            else:
                lines.append(f"{seg.name} holds frames {start}-{end}, expected {exp[0]}-{exp[1]}: the muxer cuts "
                             f"at the first keyframe at or after {segment_duration * (k + 1):g} s "
                             f"(frame {exp[1] + 1})")
        for i in range(max(0, start), min(n, end + 1)):
            held[i] += 1
        cursor = max(cursor, end + 1)
        _copy_checks(source, seg, start, end, fps, lines, transcoded)
    if cursor < n:
        missing = [f"segment_{i:03d}.mp4" for i in range(len(segments), len(expected))]
        lines.append(f"frames {cursor}-{n - 1} ({_span(cursor, n - 1, fps)}, the end of the source) are in no segment"
                     + (f"; {'..'.join(missing[::max(1, len(missing) - 1)])} missing ({len(expected)} segments "
                        f"expected, got {len(segments)})" if missing else ""))
    elif len(segments) != len(expected):
        lines.append(f"{len(segments)} segments, the muxer writes {len(expected)} for {segment_duration:g} s")
    if not transcoded:      # after the frame lines: those name the frames, these the stream and the bytes
        lines += packet_truth(source, segments)
    covered = sum(1 for h in held if h == 1)
    extra = len(lines) - MAX_LINES
    lines = lines[:MAX_LINES] + ([f"... and {extra} more"] if extra > 0 else [])
    return Truth(ok=not lines, lines=lines, frames=n, covered=covered, expected_segments=len(expected),
                 ranges=ranges)


def packet_truth(source: MediaFacts, segments: list[MediaFacts]) -> list[str]:
    """Every source packet of every stream exactly once across the segments, in order, byte for byte,
    with its timing kept; one line per problem, naming the segment and the stream (pure)."""
    lines: list[str] = []
    if not source.streams:
        return lines
    for s, src in enumerate(source.streams):
        where: dict[bytes, list[int]] = {}
        for i, h in enumerate(src.hashes):
            where.setdefault(h, []).append(i)
        pos = 0
        for seg in segments:
            if not seg.decodes:
                continue
            got = seg.streams[s] if s < len(seg.streams) and seg.streams[s].label == src.label else None
            if got is None:
                lines.append(f"{seg.name} has no {src.label} stream: the source's {src.label} packets "
                             f"from {pos} on are in no segment")
                continue
            h = got.hashes
            if not h:
                continue
            if src.hashes[pos:pos + len(h)] == h:
                at = pos
            else:
                at = next((k for k in where.get(h[0], []) if src.hashes[k:k + len(h)] == h), None)
                if at is None:
                    foreign = sum(1 for x in h if x not in where)
                    if foreign:
                        lines.append(f"{seg.name} {src.label}: {foreign} of its {len(h)} packets are not the "
                                     f"source's bytes (re-encoded or replaced, not a stream copy)")
                    else:
                        first = next((i for i, x in enumerate(h) if pos + i >= len(src.hashes)
                                      or src.hashes[pos + i] != x), 0)
                        lines.append(f"{seg.name} {src.label}: its packet {first} is not the source's packet "
                                     f"{pos + first}: packets reordered, repeated or dropped inside it")
                    pos += len(h)
                    continue
                if at > pos:
                    lines.append(f"{seg.name} {src.label}: source packets {pos}-{at - 1} "
                                 f"({_secs(src, pos, at - 1)}) are in no segment")
                else:
                    lines.append(f"{seg.name} {src.label}: it repeats source packets {at}-{pos - 1}, already in "
                                 "an earlier segment")
            retimed = _retimed(src, got, at)
            if retimed:
                lines.append(f"{seg.name} {src.label}: {retimed}")
            pos = at + len(h)
        if pos < len(src.hashes):
            lines.append(f"{src.label}: source packets {pos}-{len(src.hashes) - 1} "
                         f"({_secs(src, pos, len(src.hashes) - 1)}, the end) are in no segment")
    return lines


def _secs(src: StreamPackets, a: int, b: int) -> str:
    ts = [t for t in src.times[a:b + 1] if not math.isnan(t)]
    return f"{min(ts):.2f}-{max(ts):.2f} s" if ts else "no timestamps"


def _retimed(src: StreamPackets, seg: StreamPackets, at: int) -> str | None:
    """Each packet's time relative to the segment's first packet is the source's (reset offsets allowed)."""
    tolerance = max(src.tick, seg.tick) + 1e-6
    base_src, base_seg = src.times[at], seg.times[0]
    for i, t in enumerate(seg.times):
        want = src.times[at + i] - base_src
        got = t - base_seg
        if not math.isnan(want) and not math.isnan(got) and abs(got - want) > tolerance:
            return f"packet {i} is at {got:.4f} s from its first, the source's at {want:.4f} s: retimed"
    return None


def _start_of(seg: MediaFacts, cursor: int, marked: bool, period: int | None) -> int | None:
    if not marked:
        return cursor
    if seg.first_id is None:
        return None
    if not period:
        return seg.first_id
    delta = (seg.first_id - cursor) % period     # the nearest position with this frame number
    if delta > period // 2:
        delta -= period
    return max(0, cursor + delta)


def _next_start(segments: list[MediaFacts], k: int, end: int, marked: bool, period: int | None) -> int | None:
    nxt = segments[k + 1] if k + 1 < len(segments) else None
    return _start_of(nxt, end + 1, marked, period) if nxt is not None else None


def _copy_checks(source: MediaFacts, seg: MediaFacts, start: int, end: int, fps: float, lines: list[str],
                 transcoded: bool) -> None:
    if not transcoded:
        if len(seg.codecs) != len(source.codecs):
            lines.append(f"{seg.name} has {len(seg.codecs)} streams, the source {len(source.codecs)}")
        elif seg.codecs != source.codecs:
            lines.append(f"{seg.name} was re-encoded: {_codecs(seg.codecs)}, the source is {_codecs(source.codecs)}")
        else:
            want = tuple(i - start for i in source.keyframes if start <= i <= end)
            if seg.keyframes != want and end < source.frames:
                lines.append(f"{seg.name} was re-encoded: keyframes at frames {_short(seg.keyframes)} of its "
                             f"{seg.frames}, the source has {_short(want)} there")
    by_frames = (seg.times[-1] + seg.frame_duration) if seg.times else 0.0
    tolerance = 1.0 / fps + 0.002
    if abs(seg.duration - by_frames) > tolerance:
        lines.append(f"{seg.name} says it lasts {seg.duration:.3f} s but its {seg.frames} frames span "
                     f"{by_frames:.3f} s")


def _codecs(codecs: tuple) -> str:
    return ", ".join(f"{c[1]}" + (f" {c[2]}x{c[3]} {c[4]}" if c[0] == "video" else "") for c in codecs)


def _short(xs: tuple) -> str:
    return "[" + ", ".join(map(str, xs[:8])) + (", ..." if len(xs) > 8 else "") + "]"


# -- convenience -------------------------------------------------------------------------

def check_files(source_path: Path, segment_paths: list[tuple[str, Path]], segment_duration: float, *,
                cut_on_tie: bool = True, period: int | None = None) -> Truth:
    """facts_of every segment (in the order given, which must be key order) and check them."""
    segs = [facts_of(path, name) for name, path in segment_paths]
    return check(source_facts(source_path), segs, segment_duration, cut_on_tie=cut_on_tie, period=period)


def check_fixture(fixture, segment_paths: list[tuple[str, Path]], segment_duration: float) -> Truth:
    return check_files(fixture.path, segment_paths, segment_duration, cut_on_tie=fixture.cut_on_tie,
                       period=fixture.frame_period)
