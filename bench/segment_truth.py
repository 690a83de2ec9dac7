"""What segment truth costs: checking a job's segments against its source, per fixture.

    python -m bench.segment_truth [--runs 5]

Cuts each fixture once with the layer's ffmpeg (as the processor does), then times
`check_fixture` on those segments: medians of --runs rounds, fixtures interleaved, with
the source facts computed fresh each round (the harness caches them per run, so this is
the worst case). Beside it, a full decode of the same segments for comparison.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import av
from tabulate import tabulate

from fixtures.videos import ensure_fixtures
from fixtures.videos.ffmpeg import segment_cut
from harness import segment_truth

FIXTURES = ("standard_720p", "tier_10mb", "tier_100mb")


def _full_decode(paths: list[Path]) -> None:
    for p in paths:
        with av.open(str(p)) as c:
            for _ in c.decode(video=0):
                pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.segment_truth", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ns = ap.parse_args(argv)
    manifest = ensure_fixtures()
    work = Path(tempfile.mkdtemp(prefix="bench-truth-"))
    segs = {}
    for name in FIXTURES:
        rc, paths, err = segment_cut(manifest[name].path, work / name, 10)
        assert rc == 0, err
        segs[name] = paths
    check = {n: [] for n in FIXTURES}
    decode = {n: [] for n in FIXTURES}
    for _ in range(ns.runs):
        for name in FIXTURES:
            segment_truth._SOURCES.clear()
            segment_truth._BY_CONTENT.clear()
            t0 = time.perf_counter()
            truth = segment_truth.check_fixture(manifest[name], [(p.name, p) for p in segs[name]], 10)
            check[name].append(time.perf_counter() - t0)
            assert truth.ok, truth.lines
            t0 = time.perf_counter()
            _full_decode(segs[name])
            decode[name].append(time.perf_counter() - t0)
    rows = [[n, f"{manifest[n].size / 1e6:.0f}", len(segs[n]), f"{statistics.median(check[n]):.2f}",
             f"{statistics.median(decode[n]):.2f}", f"{statistics.median(decode[n]) / statistics.median(check[n]):.1f}x"]
            for n in FIXTURES]
    print(tabulate(rows, headers=["fixture", "MB", "segments", "segment truth s (median)", "full decode s",
                                  "full decode / truth"], tablefmt="github"))
    worst = statistics.median(check["tier_100mb"])
    print(f"\n100 MB job: segment truth adds {worst:.2f} s (target <= 3 s: {'met' if worst <= 3 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
