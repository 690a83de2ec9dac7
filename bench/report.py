"""Tables (tabulate) for the terminal and bench/RESULTS.md."""
from __future__ import annotations

from tabulate import tabulate

from .common import MB


def _s(x: float | None, d: int = 2) -> str:
    return "-" if x is None else f"{x:.{d}f}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def _raw(e: dict | None) -> str:
    if not e:
        return "-"
    if "raw_download" in e:
        return f"{e['raw']['median']:.2f} ({e['raw_download']['median']:.2f} dl + {e['raw_upload']['median']:.2f} ul)"
    return f"{e['raw']['median']:.2f}"


def _rawb(e: dict | None) -> str:
    if not e or "raw_stream" not in e:
        return "-"
    return (f"{e['raw_stream']['median']:.2f} ({e['raw_stream_download']['median']:.2f} dl + "
            f"{e['raw_stream_upload']['median']:.2f} ul)")


def _range(st: dict, d: int = 2) -> str:
    return f"{st['median']:.{d}f} ({st['min']:.{d}f}-{st['max']:.{d}f})"


def sections(res: dict, fmt: str = "github") -> list[tuple[str, str, list[str]]]:
    """[(title, table, notes)] in figure order."""
    out = []
    f1 = res.get("fig1")
    if f1:
        b = f1["baseline"]
        ratio_ok = f1["ratio_cut_over_cp"] <= f1["target_ratio"]
        rows = [
            ["cp (same file, same disk)", _range(f1["cp"]), "1.00", ""],
            ["cut: processor's segment muxer (1 ffmpeg)", _range(f1["cut"]), _s(f1["ratio_cut_over_cp"]),
             f"target <= {f1['target_ratio']}x: {_met(ratio_ok)}"],
            ["  context: ffmpeg demux only (-f null)", _range(f1["demux_only"]), _s(f1["ratio_demux_over_cp"]),
             "floor for any ffmpeg stream copy"],
            ["  context: remux to one mp4 (no segmenting)", _range(f1["remux_one"]), _s(f1["ratio_remux_over_cp"]), ""],
            [f"baseline: 1 ffmpeg per segment, -ss after -i (est. from {len(b['sampled_indices'])} segs)",
             _range(b["estimated_total"], 1), _s(b["estimated_total"]["median"] / f1["cp"]["median"], 1),
             "extrapolated"],
        ]
        if b.get("full_run_s"):
            rows.append([f"baseline: same, all {f1['segments']} segments (1 run)", _s(b["full_run_s"], 1),
                         _s(b["full_run_s"] / f1["cp"]["median"], 1), "measured once"])
        t = tabulate(rows, ["variant", "seconds: median (min-max)", "x cp", "note"], tablefmt=fmt)
        notes = [
            f"{f1['fixture']}: {f1['size_bytes'] / 1e9:.3f} GB, {f1['duration_s']:.0f} s, {f1['segments']} segments of 10 s. "
            f"{f1['cut']['n']} interleaved rounds (order rotated each round, `sync` before every run, source in page cache). "
            f"The 'x cp' column is the median of per-round ratios.",
            f"Measured: {f1['measured']} (scratch on {f1['scratch_fs']}, same filesystem as the fixture).",
            f"Baseline: {b['method']}; per-segment time grows from {b['per_segment_first_last_s'][0]} s "
            f"(first sampled) to {b['per_segment_first_last_s'][1]} s (last sampled), i.e. total cost is quadratic in length. "
            f"{b['estimated_total']['n']} run(s).",
        ]
        if b.get("full_run_s") and b["estimated_total"]["median"]:
            notes.append(f"Extrapolation check: the full baseline run took {b['full_run_s']:.1f} s vs "
                         f"{b['estimated_total']['median']:.1f} s estimated.")
        out.append((f"1. Cutting vs copy ({f1['fixture']})", t, notes))
    f2 = res.get("fig2")
    if f2:
        strict = f2["ratio_job_over_raw_stream"]
        ok = f2["all_completed"] and max(strict, f2["ratio_job_over_raw"]) <= 2.0
        rows = [["raw A: boto3 download_file + upload_file", _range(f2["raw"]), _s(f2["ratio_job_over_raw"]),
                 f"download {f2['raw_download']['median']:.2f} + upload {f2['raw_upload']['median']:.2f}"],
                ["raw B: one get_object streamed to file + upload_file", _range(f2["raw_stream"]), _s(strict),
                 f"download {f2['raw_stream_download']['median']:.2f} + upload {f2['raw_stream_upload']['median']:.2f}"],
                ["processor job, invoke -> COMPLETED", _range(f2["job"]), "-",
                 f"target job <= 2x raw: {_met(ok)}"]]
        t = tabulate(rows, ["variant", "seconds: median (min-max)", "job / this (median of per-round ratios)",
                            "note"], tablefmt=fmt)
        c = f2["config"]
        notes = [f"{f2['fixture']} ({f2['size_bytes'] / 1e6:.1f} MB, {f2['segments']} segments), function at "
                 f"{c['MemorySize']} MB memory / {c['EphemeralStorage']} MB ephemeral (terraform defaults). "
                 f"{f2['job']['n']} interleaved rounds (order rotated) after one warm-up job; the same gateway "
                 f"endpoint for all three. All jobs COMPLETED with every segment uploaded: {f2['all_completed']}. "
                 f"Peak memory {f2['max_memory_mb']} MB, peak /tmp {f2['max_tmp_bytes'] / MB:.0f} MiB.",
                 "Two raw paths: A is the plain boto3 managed download; B is a single streamed GET, which is how "
                 "ffmpeg reads the presigned URL. The target is judged against the faster of the two (the stricter one)."]
        out.append(("2. End to end vs raw transfer (100 MB)", t, notes))
    f3 = res.get("fig3")
    if f3:
        rows = []
        for i, r in enumerate(f3["runs"], 1):
            mem_ok = (r["runtime_max_memory_mb"] or 0) < f3["memory_limit_mb"]
            tmp_ok = (r["runtime_max_tmp_bytes"] or 0) < f3["ephemeral_limit_mb"] * MB
            rows.append([i, r["status"] + ("" if r["ok"] or r["status"] != "COMPLETED" else " (incomplete)"), f"{r['seconds']:.1f}",
                         f"{r['runtime_max_memory_mb']} / {f3['memory_limit_mb']}",
                         f"{r['sampler_peak_tree_rss_mb']:.0f}",
                         f"{r['handler_vmhwm_mb']:.0f} + {r['ffmpeg_vmhwm_mb']:.0f}",
                         f"{(r['runtime_max_tmp_bytes'] or 0) / MB:.0f} / {f3['ephemeral_limit_mb']}",
                         f"mem {_met(mem_ok)}, tmp {_met(tmp_ok)}, completes {_met(r['ok'])}"])
        t = tabulate(rows, ["run", "job status", "seconds", "peak RSS MB (runtime) / limit",
                            "peak tree RSS MB (bench sampler)", "peak RSS MB handler + ffmpeg (VmHWM)",
                            "peak /tmp MiB / limit", "targets"], tablefmt=fmt)
        notes = [f"{f3['fixture']} ({f3['size_bytes'] / 1e9:.3f} GB); processor set to {f3['memory_limit_mb']} MB memory "
                 f"and {f3['ephemeral_limit_mb']} MB ephemeral storage via UpdateFunctionConfiguration "
                 f"(applied: {f3['applied_config']}). /tmp is a real size-limited {f3['storage_mode']} "
                 f"(storage mode '{f3['storage_mode']}'); the runtime polls the tree every {f3['poll_interval_s']} s and "
                 f"also reads the handler's VmHWM; the bench samples the tree independently every 20 ms."]
        errs = sorted({r["error"] for r in f3["runs"] if r.get("error")})
        notes += [f"Failure: {e}" for e in errs]
        out.append(("3. Bounded resources (1 GB at 512 MB / 512 MB)", t, notes))
    f4 = res.get("fig4")
    if f4:
        rows = []
        for r in f4["runs"]:
            rows.append([f"-n {r['workers']}", _s(r["wall_s"], 1), _s(r["first_test_s"], 1),
                         _s(r["stack_startup_s_report"], 2), _s(r.get("test_time_sum_s"), 1), r["summary"]])
        t = tabulate(rows, ["pytest phases/ -m local", "wall s", "start -> first test body s",
                            "stack start-up s (report)", "sum of test time s (report steps)", "result"],
                     tablefmt=fmt)
        n2 = next((r for r in f4["runs"] if r["workers"] == 2), None)
        notes = ["One run per setting (each takes minutes); fixtures cached, so no generation time is included."]
        if n2:
            notes.append(f"-n 2 wall <= {f4['target_wall_n2_s']} s: {_met(n2['wall_s'] <= f4['target_wall_n2_s'])} "
                         f"({n2['wall_s']:.1f} s).")
        if f4.get("speedup_n2_over_n0"):
            notes.append(f"-n 2 speed-up over -n 0: {f4['speedup_n2_over_n0']:.2f}x, target >= {f4['target_speedup']}x: "
                         f"{_met(f4['speedup_n2_over_n0'] >= f4['target_speedup'])}.")
        notes.append("'start -> first test body' is from launching pytest to the first pytest_runtest_call in any "
                     "process (bench/firsttest.py plugin): interpreter + collection + xdist workers + stack start-up. "
                     "'stack start-up' is target_details.startup_s of reports/latest.json (one worker's).")
        out.append(("4. Harness wall time", t, notes))
        for r in f4["runs"]:
            rows = [[_s(d["seconds"]), d["phase"], d["test"]] for d in r["durations"]]
            out.append((f"4. Slowest 10 (pytest --durations=10, -n {r['workers']})",
                        tabulate(rows, ["s", "phase", "test"], tablefmt=fmt), []))
    f5 = res.get("fig5")
    if f5:
        rows = []
        cut = {r["fixture"]: r for r in f5.get("cut", [])}
        e2e = {r["fixture"]: r for r in f5.get("e2e", [])}
        for name in f5["tiers"]:
            c, e = cut.get(name), e2e.get(name)
            size = (c or e)["size_bytes"]
            rows.append([name, f"{size / 1e6:.0f}",
                         _s(c and c["cut"]["median"], 3), _s(c and c["cut"]["median"] / (size / 1e9), 2),
                         _s(c and c["cp"]["median"], 3),
                         _s(e and e["job"]["median"]), _s(e and e["job"]["median"] / (size / 1e9), 1),
                         _raw(e), _rawb(e), _s(e and e["ratio_job_over_raw"]), _s(e and e.get("ratio_job_over_raw_stream")),
                         "-" if not e else ("yes" if e["all_completed"] else "NO")])
        t = tabulate(rows, ["tier", "MB", "cut s", "cut s/GB", "cp s", "e2e job s", "e2e s/GB", "raw A s (dl + ul)",
                            "raw B s (dl + ul)", "job/raw A", "job/raw B", "all COMPLETED"], tablefmt=fmt)
        notes = []
        for k, fit in f5.get("fits", {}).items():
            notes.append(f"{k}: least-squares t = {fit['intercept_s']:.3f} s + {fit['slope_s_per_gb']:.3f} s/GB x size, "
                         f"R^2 = {fit['r2']:.4f}.")
        for k, r in f5.get("growth", {}).items():
            notes.append(f"{k}: {r['from']} -> {r['to']}: size x{r['size_ratio']:.1f}, time x{r['time_ratio']:.1f}.")
        cfg = res["config"]
        notes.append(f"Cut: the processor's ffmpeg argv on the local file, {cfg['runs']} rounds interleaved with cp. "
                     f"End to end: processor job at {f5.get('memory_mb', 1024)} MB memory and "
                     f"{cfg['fig5_ephemeral_mb']} MB ephemeral storage for every tier (--fig5-ephemeral-mb), "
                     f"interleaved with both raw "
                     f"transfers. 1 GB tier: {cfg['large_runs']} round(s), others {cfg['runs']}.")
        out.append(("5. Scaling with size", t, notes))
    return out


def render_terminal(res: dict) -> str:
    parts = []
    for title, table, notes in sections(res, fmt="simple_grid"):
        parts += [f"\n== {title} ==", table, *[f"  - {n}" for n in notes if n]]
    return "\n".join(parts)


def render_markdown(res: dict) -> str:
    m = res["machine"]
    lines = ["# Benchmarks (`python -m bench`)", "",
             f"Run: {res['started']} UTC, {res['elapsed_s'] / 60:.1f} min total. Command: `{res['command']}`",
             "",
             f"Machine: {m['nproc']} vCPU ({m['cpu_model']}), kernel {m['kernel']}, Python {m['python']}. "
             "Shared and noisy: every comparison below is measured side by side in the same run, with the "
             "variants interleaved, and medians are quoted.",
             "", "```", m["free_h"], "```", ""]
    code = res.get("code") or {}
    if code:
        lines += [f"Code: commit `{code.get('commit')}`" + (f", uncommitted changes in {', '.join(code['dirty_paths'])}"
                                                            if code.get("dirty_paths") else "") + "."
                  + (f" {code['note']}" if code.get("note") else ""), ""]
    lines += ["## Targets", ""]
    lines += [tabulate(res["targets"], ["figure", "target", "measured", "status"], tablefmt="github"), ""]
    for title, table, notes in sections(res, fmt="github"):
        lines += [f"## {title}", "", table, ""]
        lines += [f"- {n}" for n in notes if n]
        lines.append("")
    if res.get("findings"):
        lines += ["## Findings", ""] + [f"- {f}" for f in res["findings"]] + [""]
    return "\n".join(lines)
