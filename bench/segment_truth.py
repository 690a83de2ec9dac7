"""What segment truth costs: checking a job's segments against its source, per fixture.

    python -m bench.segment_truth [--runs 5] [--baseline REV]

Cuts each fixture once with the layer's ffmpeg (as the processor does), then times
`check_fixture` on those segments: medians of --runs rounds, fixtures interleaved, with
the source facts computed fresh each round (the harness caches them per run, so this is
the worst case). Beside it, a full decode of the same segments for comparison, and with
--baseline the checker as it was at a git revision (read with `git show`), interleaved in the
same rounds: the ratio of the medians is the cost of what changed since.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
from tabulate import tabulate

from fixtures.videos import ensure_fixtures
from fixtures.videos.ffmpeg import segment_cut
from harness.judge import segment_truth

FIXTURES = ("standard_720p", "tier_10mb", "tier_100mb")


def _full_decode(paths: list[Path]) -> None:
    for p in paths:
        with av.open(str(p)) as c:
            for _ in c.decode(video=0):
                pass


def _baseline(rev: str):
    """The segment-truth module as it was at `rev` (it has lived in two places)."""
    for path in ("harness/judge/segment_truth.py", "harness/segment_truth.py"):
        out = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[1])
        if out.returncode == 0:
            file = Path(tempfile.mkdtemp(prefix="bench-baseline-")) / "baseline_segment_truth.py"
            file.write_text(out.stdout)
            spec = importlib.util.spec_from_file_location(file.stem, file)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[file.stem] = mod        # its dataclasses look their module up
            spec.loader.exec_module(mod)
            return mod
    raise SystemExit(f"--baseline {rev}: no segment_truth.py at that revision")


def _time(module, fixture, paths) -> float:
    module._SOURCES.clear()
    module._BY_CONTENT.clear()
    t0 = time.perf_counter()
    truth = module.check_fixture(fixture, [(p.name, p) for p in paths], 10)
    elapsed = time.perf_counter() - t0
    assert truth.ok, truth.lines
    return elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.segment_truth", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", metavar="REV", help="also time segment truth as it was at this git revision")
    ns = ap.parse_args(argv)
    base = _baseline(ns.baseline) if ns.baseline else None
    manifest = ensure_fixtures()
    work = Path(tempfile.mkdtemp(prefix="bench-truth-"))
    segs = {}
    for name in FIXTURES:
        rc, paths, err = segment_cut(manifest[name].path, work / name, 10)
        assert rc == 0, err
        segs[name] = paths
    check = {n: [] for n in FIXTURES}
    decode = {n: [] for n in FIXTURES}
    baseline = {n: [] for n in FIXTURES}
    for _ in range(ns.runs):
        for name in FIXTURES:
            check[name].append(_time(segment_truth, manifest[name], segs[name]))
            if base is not None:
                baseline[name].append(_time(base, manifest[name], segs[name]))
            t0 = time.perf_counter()
            _full_decode(segs[name])
            decode[name].append(time.perf_counter() - t0)
    rows = [[n, f"{manifest[n].size / 1e6:.0f}", len(segs[n]), f"{statistics.median(check[n]):.2f}",
             f"{statistics.median(decode[n]):.2f}", f"{statistics.median(decode[n]) / statistics.median(check[n]):.1f}x"]
            for n in FIXTURES]
    print(tabulate(rows, headers=["fixture", "MB", "segments", "segment truth s (median)", "full decode s",
                                  "full decode / truth"], tablefmt="github"))
    if base is not None:
        print()
        print(tabulate([[n, f"{statistics.median(baseline[n]):.2f}", f"{statistics.median(check[n]):.2f}",
                         f"{statistics.median(check[n]) / statistics.median(baseline[n]):.2f}x"] for n in FIXTURES],
                       headers=["fixture", f"at {ns.baseline} s", "now s", "now / then"], tablefmt="github"))
    worst = statistics.median(check["tier_100mb"])
    print(f"\n100 MB job: segment truth adds {worst:.2f} s (target <= 3 s: {'met' if worst <= 3 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
