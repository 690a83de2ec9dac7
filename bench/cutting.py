"""Figure 1 (cutting vs cp, and the per-segment output-seek baseline) and the cutting half of figure 5.

What is measured: the processor's exact ffmpeg argv from
``video_processor.ffmpeg_cmd.build_segment_command`` (one pass, stream copy,
segment muxer), with the local fixture path as input instead of the presigned
URL and a scratch dir on the same filesystem as the fixture as output dir.
No S3, no HTTP: this is the pure cutting cost.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import imageio_ffmpeg
from video_processor.ffmpeg_cmd import build_segment_command

from .common import interleave, log, paired_ratio, same_device_dir, settle, summary

SEGMENT = 10


def ffmpeg_path() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _fresh(d: Path) -> Path:
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


class Cutter:
    def __init__(self, src: Path, scratch: Path, expected_segments: int) -> None:
        self.src = Path(src)
        self.scratch = scratch
        self.expected = expected_segments
        self.ff = ffmpeg_path()

    def cp(self) -> None:
        dst = _fresh(self.scratch / "cp") / self.src.name
        subprocess.run(["cp", str(self.src), str(dst)], check=True)

    def cut(self) -> None:
        out = _fresh(self.scratch / "cut")
        cmd = build_segment_command(self.ff, str(self.src), str(out), SEGMENT)
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
        n = len([p for p in os.listdir(out) if p.endswith(".mp4")])
        if n != self.expected:
            raise RuntimeError(f"cut produced {n} segments, expected {self.expected}")

    def demux_only(self) -> None:
        """Lower bound for any ffmpeg stream copy: read and parse every packet, write nothing."""
        subprocess.run([self.ff, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-i", str(self.src),
                        "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-f", "null", "-"],
                       check=True, stdin=subprocess.DEVNULL)

    def remux_one(self) -> None:
        """Stream copy into one mp4 (no segmenting): isolates the segment muxer's own cost."""
        out = _fresh(self.scratch / "remux")
        subprocess.run([self.ff, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-i", str(self.src),
                        "-map", "0:v?", "-map", "0:a?", "-c", "copy", str(out / "all.mp4")],
                       check=True, stdin=subprocess.DEVNULL)

    def seek_cmd(self, index: int, out: Path) -> list[str]:
        """The approach the segment muxer replaced: one ffmpeg per segment, -ss after -i (output seek)."""
        return [self.ff, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-xerror",
                "-i", str(self.src), "-ss", str(index * SEGMENT), "-t", str(SEGMENT),
                "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-f", "mp4",
                str(out / f"segment_{index:03d}.mp4")]

    def output_seek(self, indices: list[int]) -> list[float]:
        out = _fresh(self.scratch / "seek")
        per = []
        for i in indices:
            t0 = time.perf_counter()
            subprocess.run(self.seek_cmd(i, out), check=True, stdin=subprocess.DEVNULL)
            per.append(time.perf_counter() - t0)
        return per

    def cleanup(self) -> None:
        for sub in ("cp", "cut", "seek", "remux"):
            shutil.rmtree(self.scratch / sub, ignore_errors=True)


def stratified_indices(n: int, every: int) -> list[int]:
    """Mid-points of ``every``-wide strata: unbiased for a cost linear in the index."""
    idx = list(range(every // 2, n, every))
    return idx or [n // 2]


def cutting_vs_copy(fx, *, runs: int, baseline_runs: int, sample_every: int, baseline_full: bool) -> dict:
    """Figure 1 on one fixture (the 1 GB tier)."""
    src = Path(fx.path)
    scratch = same_device_dir(src)
    n = fx.expected_segments(SEGMENT)
    c = Cutter(src, scratch, n)
    try:
        with open(src, "rb") as fh:  # page cache warm for every variant alike
            while fh.read(8 << 20):
                pass
        c.cut()  # warm-up, not counted
        c.cp()
        c.cleanup()
        samples = interleave({"cp": c.cp, "cut (segment muxer)": c.cut, "demux only (-f null)": c.demux_only,
                              "remux to one mp4": c.remux_one}, runs, label=f"fig1 {fx.name}")
        c.cleanup()
        indices = stratified_indices(n, sample_every)
        seek_totals, seek_per = [], []
        for r in range(baseline_runs):
            settle()
            per = c.output_seek(indices)
            est = statistics.mean(per) * n
            seek_totals.append(est)
            seek_per.append(per)
            log(f"fig1 baseline run {r + 1}/{baseline_runs}: {len(indices)} sampled segments "
                f"{sum(per):.2f} s -> estimated {est:.1f} s for {n}")
        full = None
        if baseline_full:
            settle()
            t0 = time.perf_counter()
            per = c.output_seek(list(range(n)))
            full = time.perf_counter() - t0
            log(f"fig1 baseline full run ({n} segments): {full:.1f} s")
        c.cleanup()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    cut, cp = samples["cut (segment muxer)"], samples["cp"]
    return {
        "fixture": fx.name, "size_bytes": fx.size, "duration_s": fx.duration, "segments": n,
        "scratch_fs": str(scratch.parent),
        "measured": "processor argv from build_segment_command, local file input, segments to a dir on the same disk",
        "cp": summary(cp), "cut": summary(cut),
        "demux_only": summary(samples["demux only (-f null)"]),
        "remux_one": summary(samples["remux to one mp4"]),
        "ratio_demux_over_cp": paired_ratio(samples["demux only (-f null)"], cp),
        "ratio_remux_over_cp": paired_ratio(samples["remux to one mp4"], cp),
        "ratio_cut_over_cp": paired_ratio(cut, cp),
        "ratio_of_medians": statistics.median(cut) / statistics.median(cp),
        "target_ratio": 1.2,
        "baseline": {
            "method": f"one ffmpeg per segment, -ss after -i; {len(indices)} stratified segments "
                      f"(indices {indices[0]},{indices[1] if len(indices) > 1 else ''}.. every {sample_every}) "
                      f"timed per run, total extrapolated as mean x {n}",
            "sampled_indices": indices, "estimated_total": summary(seek_totals),
            "per_segment_first_last_s": [round(statistics.median(p[0] for p in seek_per), 3),
                                         round(statistics.median(p[-1] for p in seek_per), 3)],
            "full_run_s": full,
        },
    }


def cutting_scaling(fixtures: list, *, runs: int) -> list[dict]:
    """Figure 5, cutting half: cut and cp per size tier, interleaved within a tier."""
    rows = []
    for fx in fixtures:
        src = Path(fx.path)
        scratch = same_device_dir(src)
        c = Cutter(src, scratch, fx.expected_segments(SEGMENT))
        try:
            c.cut()
            c.cleanup()
            s = interleave({"cp": c.cp, "cut": c.cut}, runs, label=f"fig5 {fx.name}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        rows.append({"fixture": fx.name, "size_bytes": fx.size, "segments": fx.expected_segments(SEGMENT),
                     "cut": summary(s["cut"]), "cp": summary(s["cp"]),
                     "ratio_cut_over_cp": paired_ratio(s["cut"], s["cp"])})
    return rows
