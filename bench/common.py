"""Shared helpers: timing, interleaved runs, statistics, machine facts."""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def settle() -> None:
    """Flush dirty pages so one variant's writeback is not billed to the next one."""
    os.sync()


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def interleave(variants: dict[str, Callable[[], object]], runs: int, *, label: str = "",
               settle_between: bool = True) -> dict[str, list[float]]:
    """Run every variant once per round, rotating the order each round; seconds per variant.

    Rotating removes any first/second-position bias (cache warmth, writeback of the
    previous variant) from the comparison; os.sync() between runs keeps one variant's
    dirty pages from being flushed on another's clock.
    """
    names = list(variants)
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(runs):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            if settle_between:
                settle()
            secs, _ = timed(variants[name])
            out[name].append(secs)
            log(f"{label} run {r + 1}/{runs} {name}: {secs:.3f} s")
    return out


def summary(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "n": len(samples), "samples": [round(s, 4) for s in samples]}


def paired_ratio(num: list[float], den: list[float]) -> float:
    """Median of per-round ratios (rounds are side by side, so noise largely cancels)."""
    return statistics.median(a / b for a, b in zip(num, den))


def linear_fit(xs: list[float], ys: list[float]) -> dict:
    """Least-squares y = a + b*x, with R^2."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx if sxx else 0.0
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in zip(xs, ys))
    r2 = 1 - ss_res / ss_tot if ss_tot else 1.0
    return {"intercept_s": a, "slope_s_per_gb": b, "r2": r2}


def machine_info() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def sh(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"nproc": sh(["nproc"]), "free_h": sh(["free", "-h"]), "cpu_model": cpu,
            "kernel": platform.release(), "python": platform.python_version(),
            "df_tmp": sh(["df", "-h", "/tmp", str(REPO)])}


def same_device_dir(path: Path) -> Path:
    """A fresh scratch dir on the same filesystem as ``path`` (prefers /tmp when it is)."""
    import tempfile
    dev = os.stat(path).st_dev
    base = Path(tempfile.gettempdir())
    if os.stat(base).st_dev != dev:
        base = path.parent
    return Path(tempfile.mkdtemp(prefix="bench-", dir=base))
