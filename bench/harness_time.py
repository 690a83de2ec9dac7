"""Figure 4: wall time of ``pytest phases/ -m local`` at -n 0 and -n 2 (one run each)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from .common import REPO, log

DURATION_RE = re.compile(r"^\s*([\d.]+)s\s+(call|setup|teardown)\s+(\S.*)$")


def run_pytest(workers: int, *, extra: list[str] | None = None, timeout: float = 1800) -> dict:
    marker = Path(tempfile.mkstemp(prefix="bench-first-")[1])
    env = dict(os.environ, PYTHONPATH=f".{os.pathsep}lambda_src", BENCH_FIRST_TEST_FILE=str(marker),
               PYTHONUNBUFFERED="1")
    cmd = [str(REPO / ".venv/bin/pytest"), "phases/", "-m", "local", "-n", str(workers),
           "--durations=10", "-q", "-p", "bench.firsttest", *(extra or [])]
    log(f"fig4: {' '.join(cmd[1:])}")
    t_start = time.time()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    firsts = []
    for line in marker.read_text().splitlines():
        ts, _pid, node = line.split(" ", 2)
        firsts.append((float(ts), node))
    marker.unlink(missing_ok=True)
    out = proc.stdout
    durations, in_block = [], False
    for line in out.splitlines():
        if "slowest" in line and "durations" in line:
            in_block = True
            continue
        if in_block:
            m = DURATION_RE.match(line)
            if m:
                durations.append({"seconds": float(m.group(1)), "phase": m.group(2), "test": m.group(3).strip()})
            elif line.strip() and durations:
                in_block = False
    summary_line = next((l.strip("= ").strip() for l in reversed(out.splitlines()) if l.strip()), "")
    startup_report, steps = None, {}
    try:
        report = json.loads((REPO / "reports/latest.json").read_text())
        startup_report = (report.get("target_details") or {}).get("startup_s")
        steps = {s["id"]: s.get("duration_s") or 0.0 for s in report.get("steps", [])}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    first = min(firsts) if firsts else None
    res = {"workers": workers, "command": " ".join(["pytest", *cmd[1:]]), "wall_s": wall,
           "returncode": proc.returncode, "summary": summary_line,
           "first_test_s": None if first is None else first[0] - t_start,
           "first_test": None if first is None else first[1],
           "stack_startup_s_report": startup_report, "durations": durations,
           "step_durations_s": steps, "test_time_sum_s": sum(steps.values()) if steps else None,
           "stderr_tail": proc.stderr[-1500:] if proc.returncode not in (0,) else ""}
    log(f"fig4 -n {workers}: {wall:.1f} s rc={proc.returncode} first test at {res['first_test_s']} s; {summary_line}")
    return res


def harness_wall_time(order: tuple[int, ...] = (2, 0)) -> dict:
    runs = {w: run_pytest(w) for w in order}
    r0, r2 = runs.get(0), runs.get(2)
    speedup = r0["wall_s"] / r2["wall_s"] if r0 and r2 else None
    return {"runs": [runs[w] for w in sorted(runs)], "speedup_n2_over_n0": speedup,
            "target_wall_n2_s": 90, "target_speedup": 1.3, "note": "one run per setting (each takes minutes)"}
