"""The local Lambda runtime's own overhead, sandboxed and not, side by side in one run.

    python -m bench.runtime_overhead [--warm 100] [--cold 15]

Warm: the median time from `LambdaRuntime.invoke` to its return for a
hello-world handler, minus the handler's own time (which the handler measures
and returns). Cold: the wall time of the first invoke of a fresh instance at
1024 MB (sandbox set-up, interpreter start, init, the invoke). Each mode runs
in its own LambdaRuntime; rounds alternate between the modes so that machine
noise hits both alike. Writes bench/runtime_overhead.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from harness.runtime import LambdaRuntime
from harness.runtime.testing import make_spec, write_package

HERE = Path(__file__).resolve().parent
APP = """
import time

def handler(event, context):
    t0 = time.perf_counter()
    body = {"statusCode": 200, "body": "Hello from Lambda"}
    return {"body": body, "own_ms": (time.perf_counter() - t0) * 1000}
"""
MODES = {"sandbox (kernel, CPU scaling on)": {"isolation": "kernel", "cpu_scaling": True},
         "sandbox, no freeze between invocations": {"isolation": "kernel", "cpu_scaling": True, "freeze": False},
         "sandbox, CPU scaling off": {"isolation": "kernel", "cpu_scaling": False},
         "plain process (fallback)": {"isolation": "none"}}


def _invoke(rt: LambdaRuntime, spec) -> tuple[float, float]:
    t0 = time.perf_counter()
    res = rt.invoke(spec, b"{}")
    total = (time.perf_counter() - t0) * 1000
    return total, json.loads(res.payload)["own_ms"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.runtime_overhead", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warm", type=int, default=100, help="warm invokes per mode and memory size")
    ap.add_argument("--cold", type=int, default=15, help="cold starts per mode at 1024 MB")
    ap.add_argument("--json", type=Path, default=HERE / "runtime_overhead.json")
    ns = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    code = work / "code"
    write_package(code, {"app.py": APP})
    warm = {(m, mem): [] for m in MODES for mem in (128, 1024)}
    cold = {m: [] for m in MODES}
    runtimes = {m: LambdaRuntime(work / f"rt{i}", **kw) for i, (m, kw) in enumerate(MODES.items())}
    cold_rts = {m: LambdaRuntime(work / f"cold{i}", warm=False, **kw) for i, (m, kw) in enumerate(MODES.items())}
    try:
        for mem in (128, 1024):
            for m, rt in runtimes.items():
                _invoke(rt, make_spec(code, memory_mb=mem, name=f"hello{mem}"))   # the cold one
        for _ in range(ns.warm):
            for mem in (128, 1024):
                for m, rt in runtimes.items():
                    total, own = _invoke(rt, make_spec(code, memory_mb=mem, name=f"hello{mem}"))
                    warm[(m, mem)].append(total - own)
        for _ in range(ns.cold):
            for m, rt in cold_rts.items():
                cold[m].append(_invoke(rt, make_spec(code, memory_mb=1024, name="cold1024"))[0])
    finally:
        for rt in [*runtimes.values(), *cold_rts.values()]:
            rt.close()
    rows = []
    for m in MODES:
        rows.append([m, f"{statistics.median(warm[(m, 128)]):.1f}", f"{statistics.median(warm[(m, 1024)]):.1f}",
                     f"{statistics.median(cold[m]):.0f}", f"{max(cold[m]):.0f}"])
    print(tabulate(rows, headers=["mode", "warm overhead ms, 128 MB (median)", "warm overhead ms, 1024 MB",
                                  "cold start ms, 1024 MB (median)", "cold max ms"], tablefmt="github"))
    base = statistics.median(warm[("plain process (fallback)", 1024)])
    sbx = statistics.median(warm[("sandbox (kernel, CPU scaling on)", 1024)])
    unfrozen = statistics.median(warm[("sandbox, no freeze between invocations", 128)])
    frozen = statistics.median(warm[("sandbox (kernel, CPU scaling on)", 128)])
    print(f"\nfreeze between invocations at 128 MB: {frozen:.1f} ms vs {unfrozen:.1f} ms without "
          f"({frozen - unfrozen:+.1f} ms a warm invoke)")
    print(f"warm overhead, sandbox vs plain process at 1024 MB: {sbx / base:.2f}x; "
          f"target <= 50 ms: {'met' if sbx <= 50 else 'MISSED'}; "
          f"cold start <= 1000 ms: "
          f"{'met' if statistics.median(cold['sandbox (kernel, CPU scaling on)']) <= 1000 else 'MISSED'}")
    ns.json.write_text(json.dumps({
        "warm_overhead_ms": {f"{m} @ {mem} MB": v for (m, mem), v in warm.items()},
        "cold_start_ms_1024": cold, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
