"""python -m bench: every performance figure of issue 9, printed and written to bench/results.json.

    python -m bench                      # full run (about 15 min on 2 cores)
    python -m bench --quick              # fewer baseline/large runs, no full baseline run
    python -m bench --only 1 5 --runs 7  # some figures only
    python -m bench --skip-large         # no 1 GB tier (figure 1 then uses the 100 MB tier)
    python -m bench --write-md           # also (re)write bench/RESULTS.md from this run
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from .common import MB, REPO, linear_fit, log, machine_info

HERE = Path(__file__).resolve().parent


def parse(argv):
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", type=int, choices=[1, 2, 3, 4, 5], help="figures to run (default all)")
    ap.add_argument("--runs", type=int, default=5, help="interleaved rounds per comparison (default 5)")
    ap.add_argument("--quick", action="store_true",
                    help="baseline on 1 run, no full baseline run, 1 GB end-to-end and figure 3 once")
    ap.add_argument("--skip-large", action="store_true", help="no 1 GB tier")
    ap.add_argument("--skip-harness", action="store_true", help="skip figure 4 (the two pytest runs)")
    ap.add_argument("--baseline-every", type=int, default=10,
                    help="output-seek baseline: time every Nth segment and extrapolate (default 10)")
    ap.add_argument("--baseline-runs", type=int, default=None, help="runs of the sampled baseline (default --runs)")
    ap.add_argument("--no-baseline-full", action="store_true", help="skip the one full 120-segment baseline run")
    ap.add_argument("--large-runs", type=int, default=None, help="1 GB end-to-end rounds in figure 5 (default --runs)")
    ap.add_argument("--fig3-runs", type=int, default=None, help="1 GB jobs at 512 MB (default 3)")
    ap.add_argument("--fig5-ephemeral-mb", type=int, default=512,
                    help="ephemeral storage for the figure 5 end-to-end jobs (default 512, the terraform default)")
    ap.add_argument("--json", type=Path, default=HERE / "results.json")
    ap.add_argument("--write-md", action="store_true", help=f"write {HERE / 'RESULTS.md'}")
    ap.add_argument("--md", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                    help="measure nothing: re-render tables (and --write-md) from an earlier results.json")
    ns = ap.parse_args(argv)
    if ns.runs < 1:
        ap.error("--runs must be >= 1")
    ns.figs = set(ns.only or [1, 2, 3, 4, 5])
    if ns.skip_harness:
        ns.figs.discard(4)
    if ns.skip_large:
        ns.figs.discard(3)
    ns.baseline_runs = ns.baseline_runs or (1 if ns.quick else ns.runs)
    ns.baseline_full = not (ns.quick or ns.no_baseline_full)
    ns.large_runs = ns.large_runs or (1 if ns.quick else ns.runs)
    ns.fig3_runs = ns.fig3_runs or (1 if ns.quick else 3)
    return ns


def git_state() -> dict:
    import subprocess
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lambda_src", "harness", "phases", "fixtures"],
                               cwd=REPO, capture_output=True, text=True).stdout.strip()
        return {"commit": head, "dirty_paths": [line[3:] for line in dirty.splitlines()]}
    except OSError:
        return {}


def emit(res: dict, ns) -> None:
    res["targets"] = targets(res)
    res["findings"] = findings(res)
    from tabulate import tabulate

    from .report import render_markdown, render_terminal
    print(render_terminal(res))
    print("\nTargets:")
    print(tabulate(res["targets"], ["figure", "target", "measured", "status"], tablefmt="simple_grid"))
    for f in res["findings"]:
        print(f"  * {f}")
    if not ns.render:
        ns.json.write_text(json.dumps(res, indent=2, default=str) + "\n")
        log(f"wrote {ns.json}")
    if ns.write_md:
        ns.md.write_text(render_markdown(res))
        log(f"wrote {ns.md}")


def main(argv=None) -> int:
    ns = parse(sys.argv[1:] if argv is None else argv)
    if ns.render:
        emit(json.loads(ns.render.read_text()), ns)
        return 0
    started = datetime.now(UTC)
    t0 = time.monotonic()
    res: dict = {"started": started.strftime("%Y-%m-%d %H:%M"),
                 "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
                 "machine": machine_info(), "code": git_state(),
                 "config": {"runs": ns.runs, "quick": ns.quick, "skip_large": ns.skip_large,
                            "figures": sorted(ns.figs), "baseline_every": ns.baseline_every,
                            "baseline_runs": ns.baseline_runs, "baseline_full": ns.baseline_full,
                            "large_runs": ns.large_runs, "fig3_runs": ns.fig3_runs,
                            "fig5_ephemeral_mb": ns.fig5_ephemeral_mb}}

    from fixtures.videos import ensure_fixtures
    log("fixtures: ensuring (cached after the first build)")
    m = ensure_fixtures(large=not ns.skip_large)
    big = m["tier_100mb"] if ns.skip_large else m["tier_1gb"]
    tiers = ["tier_10mb", "tier_100mb"] + ([] if ns.skip_large else ["tier_1gb"])

    from . import cutting
    if 1 in ns.figs:
        res["fig1"] = cutting.cutting_vs_copy(big, runs=ns.runs, baseline_runs=ns.baseline_runs,
                                              sample_every=ns.baseline_every, baseline_full=ns.baseline_full)
    if 5 in ns.figs:
        res["fig5"] = {"tiers": tiers, "cut": cutting.cutting_scaling([m[t] for t in tiers], runs=ns.runs)}

    if ns.figs & {2, 3, 5}:
        from .stackjobs import BenchStack, bounded_resources, e2e_vs_raw
        bs = BenchStack()
        log(f"stack up in {bs.startup_s:.1f} s at {bs.stack.endpoint}; processor {bs.function_config()}")
        try:
            if 2 in ns.figs:
                res["fig2"] = e2e_vs_raw(bs, m["tier_100mb"], runs=ns.runs, label="fig2")
            if 5 in ns.figs:
                default = bs.function_config()
                bs.configure(memory_mb=int(default["MemorySize"]), ephemeral_mb=ns.fig5_ephemeral_mb)
                rows = []
                for i, t in enumerate(tiers):
                    runs = ns.large_runs if t == "tier_1gb" else ns.runs
                    rows.append(e2e_vs_raw(bs, m[t], runs=runs, label="fig5", warmup=t != "tier_1gb" or not ns.quick))
                bs.configure(memory_mb=int(default["MemorySize"]), ephemeral_mb=int(default["EphemeralStorage"]))
                res["fig5"]["e2e"] = rows
                res["fig5"]["memory_mb"] = int(default["MemorySize"])
            if 3 in ns.figs:
                res["fig3"] = bounded_resources(bs, m["tier_1gb"], runs=ns.fig3_runs)
        finally:
            bs.close()

    if 5 in ns.figs:
        f5 = res["fig5"]
        fits = {}
        for key, rows, field in (("cut", f5.get("cut", []), "cut"), ("end to end", f5.get("e2e", []), "job")):
            if len(rows) >= 2:
                fits[key] = linear_fit([r["size_bytes"] / 1e9 for r in rows], [r[field]["median"] for r in rows])
        f5["fits"] = fits
        growth = {}
        for key, rows, field in (("cut", f5.get("cut", []), "cut"), ("end to end", f5.get("e2e", []), "job")):
            if len(rows) >= 2:
                a, b = rows[-2], rows[-1]
                growth[key] = {"from": a["fixture"], "to": b["fixture"], "size_ratio": b["size_bytes"] / a["size_bytes"],
                               "time_ratio": b[field]["median"] / a[field]["median"]}
        f5["growth"] = growth

    if 4 in ns.figs:
        from .harness_time import harness_wall_time
        res["fig4"] = harness_wall_time()

    res["elapsed_s"] = time.monotonic() - t0
    emit(res, ns)
    return 0


def targets(res: dict) -> list[list[str]]:
    rows = []

    def st(ok):
        return "met" if ok else "MISSED"

    f1 = res.get("fig1")
    if f1:
        r = f1["ratio_cut_over_cp"]
        rows.append(["1 cutting vs cp", "<= 1.2x", f"{r:.2f}x ({f1['cut']['median']:.2f} s vs {f1['cp']['median']:.2f} s)",
                     st(r <= 1.2)])
    f2 = res.get("fig2")
    if f2:
        r = max(f2["ratio_job_over_raw"], f2["ratio_job_over_raw_stream"])
        rows.append(["2 end to end vs raw", "<= 2x",
                     f"{f2['ratio_job_over_raw_stream']:.2f}x vs single-GET raw ({f2['raw_stream']['median']:.2f} s), "
                     f"{f2['ratio_job_over_raw']:.2f}x vs download_file raw ({f2['raw']['median']:.2f} s); "
                     f"job {f2['job']['median']:.2f} s", st(r <= 2 and f2["all_completed"])])
    f3 = res.get("fig3")
    if f3:
        rs = f3["runs"]
        mem = max(r["runtime_max_memory_mb"] or 0 for r in rs)
        tmp = max(r["runtime_max_tmp_bytes"] or 0 for r in rs)
        done = all(r["ok"] for r in rs)
        rows.append(["3 memory", f"< {f3['memory_limit_mb']} MB", f"{mem} MB peak", st(mem < f3["memory_limit_mb"])])
        rows.append(["3 ephemeral /tmp", f"< {f3['ephemeral_limit_mb']} MB", f"{tmp / MB:.0f} MiB peak",
                     st(tmp < f3["ephemeral_limit_mb"] * MB)])
        rows.append(["3 1 GB job completes", "COMPLETED", ", ".join(sorted({r['status'] for r in rs})), st(done)])
    f4 = res.get("fig4")
    if f4:
        n2 = next((r for r in f4["runs"] if r["workers"] == 2), None)
        if n2:
            rows.append(["4 harness -n 2", "<= 90 s", f"{n2['wall_s']:.1f} s ({n2['summary']})",
                         st(n2["wall_s"] <= 90 and n2["returncode"] == 0)])
        if f4.get("speedup_n2_over_n0"):
            rows.append(["4 -n 2 vs -n 0", ">= 1.3x", f"{f4['speedup_n2_over_n0']:.2f}x",
                         st(f4["speedup_n2_over_n0"] >= 1.3)])
    f5 = res.get("fig5")
    if f5:
        for k, fit in f5.get("fits", {}).items():
            rows.append([f"5 {k} linear in size", "R^2 >= 0.99", f"R^2 {fit['r2']:.4f}, {fit['slope_s_per_gb']:.2f} s/GB",
                         st(fit["r2"] >= 0.99)])
        bad = [r["fixture"] for r in f5.get("e2e", []) if not r["all_completed"]]
        if bad:
            rows.append(["5 end-to-end jobs complete", "COMPLETED", f"failed on {', '.join(bad)}", "MISSED"])
    return rows


def findings(res: dict) -> list[str]:
    out = []
    f1 = res.get("fig1")
    if f1 and f1["ratio_cut_over_cp"] > 1.2:
        out.append(
            f"Figure 1 target missed: the one-pass cut costs {f1['ratio_cut_over_cp']:.2f}x cp. It is bounded below by "
            f"ffmpeg's own demux/remux of the stream, not by the segmenting: demuxing alone (-f null, nothing "
            f"written) is {f1['ratio_demux_over_cp']:.2f}x cp and a remux into one mp4 is "
            f"{f1['ratio_remux_over_cp']:.2f}x cp. cp is a page-cache memcpy (the source is cached), while ffmpeg "
            f"parses and rewrites every packet and writes {f1['segments']} mp4 headers. A 1.2x target is not "
            f"reachable with any ffmpeg stream copy on this machine; the approach is still "
            f"{f1['baseline']['estimated_total']['median'] / f1['cut']['median']:.0f}x faster than the per-segment "
            f"output-seek baseline it replaces.")
    f3 = res.get("fig3")
    if f3:
        for r in f3["runs"]:
            if not r["ok"]:
                out.append(
                    f"Figure 3 target missed: the 1 GB job at {f3['memory_limit_mb']} MB / {f3['ephemeral_limit_mb']} MB "
                    f"ended {r['status']} after {r['seconds']:.1f} s: {r['error']}. Memory stays small "
                    f"({r['runtime_max_memory_mb']} MB), but /tmp peaked at {(r['runtime_max_tmp_bytes'] or 0) / MB:.0f} MiB "
                    f"(full). Cause: the cutter (lambda_src/video_processor/cutter.py) has no back-pressure. ffmpeg "
                    f"stream-copies from the local endpoint much faster than the poll loop uploads (one segment at a "
                    f"time, every {0.2} s), so finished segments pile up in /tmp. The docstring's 'around two segments' "
                    f"only holds when the network read is slower than the uploads. The fix belongs in the processor, "
                    f"e.g. pausing ffmpeg (SIGSTOP/SIGCONT) or reading its input through a throttled pipe when more "
                    f"than N segments are pending, or uploading in parallel.")
                break
    f5 = res.get("fig5")
    if f5:
        tmps = [(r["fixture"], r["max_tmp_bytes"], r["size_bytes"]) for r in f5.get("e2e", [])]
        if tmps:
            share = tmps[-1][1] / tmps[-1][2]
            verdict = (" Disk use stays at a few segments whatever the source size (the cutter pauses ffmpeg "
                       "while finished segments wait for upload)." if share < 0.2 else
                       " Disk use grows with the source size, so it is not bounded by the segment size.")
            out.append("Peak /tmp per end-to-end job (figure 5 runs): " + ", ".join(
                f"{n}: {t / MB:.0f} MiB = {t / s:.0%} of the source" for n, t, s in tmps) + "." + verdict)
    if f1 and f5:
        c5 = next((r for r in f5.get("cut", []) if r["fixture"] == f1["fixture"]), None)
        if c5 and abs(c5["cut"]["median"] / f1["cut"]["median"] - 1) > 0.15:
            out.append(f"Noise: the same {f1['fixture']} cut has a median of {f1['cut']['median']:.2f} s in figure 1 and "
                       f"{c5['cut']['median']:.2f} s in figure 5 (cp: {f1['cp']['median']:.2f} s vs "
                       f"{c5['cp']['median']:.2f} s). These are separate rounds on the shared 2-vCPU machine. Compare "
                       f"ratios within one table (x cp: {f1['ratio_cut_over_cp']:.2f} vs {c5['ratio_cut_over_cp']:.2f}), "
                       f"not absolute seconds across tables.")
    f4 = res.get("fig4")
    if f4:
        by = {r["workers"]: r for r in f4["runs"]}
        n0, n2 = by.get(0), by.get(2)
        if n2 and n2["wall_s"] > f4["target_wall_n2_s"]:
            msg = (f"Figure 4 target missed: -n 2 took {n2['wall_s']:.1f} s (target {f4['target_wall_n2_s']} s). "
                   f"{n2['first_test_s'] or 0:.1f} s pass before the first test runs.")
            if n0 and n0.get("test_time_sum_s") and n2.get("test_time_sum_s"):
                msg += (f" The summed test time is {n0['test_time_sum_s']:.0f} s at -n 0 and "
                        f"{n2['test_time_sum_s']:.0f} s at -n 2. Two workers on 2 vCPUs slow each test down, "
                        f"because each worker runs its own moto + gateway + Lambda runtime, and ffmpeg and the "
                        f"runtime processes compete for the same cores. Even a perfect split would need "
                        f"{n2['test_time_sum_s'] / 2:.0f} s.")
            msg += " The slowest tests (table) are the 100 MB cuts and the failure/fuzz drills."
            out.append(msg)
        sp = f4.get("speedup_n2_over_n0")
        if sp and sp < f4["target_speedup"] and n0 and n2:
            msg = (f"Figure 4 speed-up target missed: -n 2 is {sp:.2f}x faster than -n 0 "
                   f"({n0['wall_s']:.1f} s -> {n2['wall_s']:.1f} s; target {f4['target_speedup']}x).")
            if n0.get("test_time_sum_s") and n2.get("test_time_sum_s"):
                msg += (f" The summed test time grows from {n0['test_time_sum_s']:.0f} s at -n 0 to "
                        f"{n2['test_time_sum_s']:.0f} s at -n 2 (x{n2['test_time_sum_s'] / n0['test_time_sum_s']:.2f}). "
                        f"Two workers share 2 vCPUs with their own moto, gateway, Lambda runtimes and ffmpeg, so "
                        f"each test runs slower. The best possible speed-up on this machine is then about "
                        f"{2 * n0['test_time_sum_s'] / n2['test_time_sum_s']:.2f}x, before any imbalance between "
                        f"the workers. One run per setting, on a noisy machine.")
            out.append(msg)
    f2 = res.get("fig2")
    if f2:
        out.append(f"Figure 2: the job takes {f2['ratio_job_over_raw_stream']:.2f}x a single-GET download + upload and "
                   f"{f2['ratio_job_over_raw']:.2f}x boto3 download_file + upload_file. It streams the source over "
                   f"HTTP straight into ffmpeg and uploads segments while ffmpeg is still cutting, so its cost is close "
                   f"to one download plus one upload.")
    if f5:
        big = [r for r in f5.get("e2e", []) if r["fixture"] == "tier_1gb"]
        mid = [r for r in f5.get("e2e", []) if r["fixture"] == "tier_100mb"]
        if big and mid:
            b, m_ = big[0], mid[0]
            out.append(
                f"Raw A does not scale: boto3 download_file through moto takes {m_['raw_download']['median']:.1f} s "
                f"for 100 MB but {b['raw_download']['median']:.1f} s for 1 GB "
                f"(x{b['raw_download']['median'] / m_['raw_download']['median']:.0f} for x10 bytes). A single streamed "
                f"GET of the same 1 GB takes {b['raw_stream_download']['median']:.1f} s. The managed transfer issues "
                f"about 120 ranged 8 MB GETs, and moto serves each one by reading and copying the whole object and "
                f"then slicing it (moto/s3/models.py FakeKey.value, moto/s3/responses.py _handle_range_header). This "
                f"is an artefact of the embedded S3, not of the processor, which reads with one GET. Use raw B as the "
                f"reference at 1 GB.")
    return out


if __name__ == "__main__":
    sys.exit(main())
