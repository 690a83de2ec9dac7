"""Charts for the HTML report as inline SVG, drawn with matplotlib (no pyplot, no network).

Each `chart_*` takes the data one step recorded with `Evidence.series` (harness.run.evidence) and returns
(svg, caption); it raises ValueError/KeyError/TypeError on data it cannot draw, and the renderer
shows a short note instead. The numbers (bootstrap CI, concurrency over time) are pure functions.
"""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import matplotlib
import numpy as np
from matplotlib.figure import Figure

RC = {"svg.fonttype": "none", "svg.hashsalt": "rollout-report", "font.size": 9,
      "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
      "axes.spines.top": False, "axes.spines.right": False}
PATHS = {"lambda": "#0969da", "celery": "#bf3989"}
BOOTSTRAP_SEED = 17
BOOTSTRAP_RESAMPLES = 2000


def median_ci95(values) -> tuple[float, float]:
    """95% bootstrap interval of the median: the judge's own (harness.judge.compare.median_ci)."""
    from harness.judge.compare import median_ci

    x = np.asarray(values, dtype=float)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("no finite values")
    if x.size == 1:
        return float(x[0]), float(x[0])
    return median_ci(list(x))


def concurrency_steps(intervals) -> tuple[list[float], list[int]]:
    """(times, open count from each time on) for [start, end) intervals; an end at t closes before a start at t."""
    events = []
    for start, end in intervals:
        start, end = float(start), float(end)
        if not (np.isfinite(start) and np.isfinite(end)) or end < start:
            raise ValueError(f"bad interval [{start}, {end}]")
        events += [(start, 1), (end, -1)]
    if not events:
        raise ValueError("no intervals")
    times, counts, open_now = [], [], 0
    for t, delta in sorted(events, key=lambda e: (e[0], e[1])):
        open_now += delta
        if times and times[-1] == t:
            counts[-1] = open_now
        else:
            times.append(t)
            counts.append(open_now)
    return times, counts


def to_svg(fig: Figure, prefix: str) -> str:
    """The figure as an inline <svg>: no XML prolog or metadata, ids made unique per chart, scalable."""
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    used = set(re.findall(r"(?:href=\"#|url\(#)([^\")]+)", svg))
    svg = re.sub(r' id="([^"]+)"', lambda m: f' id="{prefix}-{m.group(1)}"' if m.group(1) in used else "", svg)
    svg = re.sub(r'(href="#|url\(#)([^")]+)', lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    svg = re.sub(r'<svg ([^>]*?)width="[^"]+" height="[^"]+"', r'<svg \1', svg, count=1)
    return svg.replace("<svg ", '<svg class="chart-svg" role="img" ', 1).strip()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), layout="constrained")


def _legend(ax) -> None:
    """Above the axes, so it never covers data."""
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), ncols=4, frameon=False, borderaxespad=0.2)


def _floats(values) -> list[float]:
    out = [float(v) for v in values]
    if not out or not all(np.isfinite(out)):
        raise ValueError("empty or non-finite durations")
    return out


def chart_5b_durations(data: dict, prefix: str = "c5b") -> tuple[str, str]:
    """Per fixture: each path's durations, its median (tick) and the 95% bootstrap band of the median."""
    fixtures = data["fixtures"]
    if not isinstance(fixtures, dict) or not fixtures:
        raise ValueError("no fixtures")
    unit = str(data.get("unit", "s"))
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 3.2)
        ax = fig.subplots()
        jitter = np.random.default_rng(BOOTSTRAP_SEED)
        for i, (name, paths) in enumerate(fixtures.items()):
            for j, path in enumerate(("lambda", "celery")):
                values = _floats(paths[path])
                x = i + (j - 0.5) * 0.36
                lo, hi = median_ci95(values)
                ax.fill_between([x - 0.13, x + 0.13], lo, hi, color=PATHS[path], alpha=0.18, linewidth=0)
                ax.hlines(float(np.median(values)), x - 0.15, x + 0.15, color=PATHS[path], linewidth=2.2,
                          label=path if i == 0 else None)
                xs = x + jitter.uniform(-0.07, 0.07, len(values))
                ax.plot(xs, values, "o", color=PATHS[path], markersize=3.5, alpha=0.8)
        ax.set_xticks(range(len(fixtures)), list(fixtures))
        ax.set_ylabel(f"duration ({unit})")
        ax.set_ylim(bottom=0)
        _legend(ax)
        svg = to_svg(fig, prefix)
    return svg, ("Dots: each run; bar: median; band: 95% bootstrap interval of the median. "
                 + ratio_caption(data.get("ratio")))


def ratio_caption(ratio) -> str:
    if not isinstance(ratio, dict) or "value" not in ratio:
        return "No workload ratio recorded."
    text = f"Lambda/Celery workload ratio {float(ratio['value']):.2f}"
    ci = ratio.get("ci95")
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        text += f" (95% CI {float(ci[0]):.2f}-{float(ci[1]):.2f})"
    p = ratio.get("p")
    text += f", p = {float(p):.3g}" if isinstance(p, (int, float)) else ", no significance test"
    if ratio.get("rule") is not None:
        text += f"; rule: ratio <= {float(ratio['rule']):g}"
    if ratio.get("answer"):
        text += f". Answer: {ratio['answer']}"
    return text


def chart_4b_burst(data: dict, prefix: str = "c4b") -> tuple[str, str]:
    """Concurrency over time (intervals open at each instant) against the reserved limit."""
    limit = int(data["limit"])
    times, counts = concurrency_steps(data["intervals"])
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 2.6)
        ax = fig.subplots()
        ax.step(times, counts, where="post", color=PATHS["lambda"], label="running invocations")
        ax.axhline(limit, color="#cf222e", linestyle="--", linewidth=1.2, label=f"reserved concurrency {limit}")
        ax.set_xlabel("seconds since the first start")
        ax.set_ylabel("concurrent")
        ax.set_ylim(0, max(limit, max(counts)) + 1)
        _legend(ax)
        svg = to_svg(fig, prefix)
    peak = max(counts)
    verdict = "within" if peak <= limit else "ABOVE"
    return svg, (f"{len(data['intervals'])} invocations; peak concurrency {peak}, {verdict} the reserved "
                 f"limit of {limit}; span {times[-1] - times[0]:.1f} s.")


def chart_4a_coverage(data: dict, prefix: str = "c4a") -> tuple[str, str]:
    """Per fixture: source frames and frames the segments covered, as horizontal bars."""
    fixtures = data["fixtures"]
    if not isinstance(fixtures, dict) or not fixtures:
        raise ValueError("no fixtures")
    names = list(fixtures)
    frames = [int(fixtures[n]["frames"]) for n in names]
    covered = [int(fixtures[n]["covered"]) for n in names]
    segments = [int(fixtures[n]["segments"]) for n in names]
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 0.5 + 0.42 * len(names))
        ax = fig.subplots()
        y = np.arange(len(names))
        ax.barh(y, frames, height=0.7, color="#d0d7de", label="source frames")
        ax.barh(y, covered, height=0.4, color="#1a7f37", label="frames covered by segments")
        for yi, f, c, s in zip(y, frames, covered, segments):
            ax.text(max(f, c), yi, f" {c}/{f} ({s} seg)", va="center", fontsize=7)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlim(0, max(frames + covered + [1]) * 1.25)
        ax.set_xlabel("frames")
        _legend(ax)
        svg = to_svg(fig, prefix)
    short = [n for n, f, c in zip(names, frames, covered) if c != f]
    caption = (f"All {len(names)} fixtures covered frame for frame." if not short
               else f"Coverage differs from the source on: {', '.join(short)}.")
    return svg, caption


def chart_ratio_trend(points: dict, rule: float = 1.25, prefix: str = "ctrend") -> tuple[str, str]:
    """points: target -> [(finished epoch s, ratio[, low, high])]: what gates 5B, the workload ratio and its
    95% interval against the factor line, one point per run, in run order."""
    series = {t: sorted((float(p[0]), float(p[1]), *(float(v) for v in p[2:4])) for p in pts)
              for t, pts in points.items() if pts}
    if not series:
        raise ValueError("no 5B ratio recorded yet")
    order = sorted({p[0] for pts in series.values() for p in pts})
    index = {f: i for i, f in enumerate(order)}
    top = max([rule] + [max(p[1:]) for pts in series.values() for p in pts])
    with matplotlib.rc_context(RC):
        fig = _figure(7.2, 2.8)
        ax = fig.subplots()
        for target, pts in sorted(series.items()):
            xs, ys = [index[p[0]] for p in pts], [p[1] for p in pts]
            line = ax.plot(xs, ys, "o-", markersize=4, label=target)[0]
            bars = [(x, p) for x, p in zip(xs, pts) if len(p) == 4]
            if bars:
                ax.errorbar([x for x, _ in bars], [p[1] for _, p in bars],
                            yerr=[[p[1] - p[2] for _, p in bars], [p[3] - p[1] for _, p in bars]],
                            fmt="none", ecolor=line.get_color(), capsize=3, linewidth=1)
        ax.axhline(rule, color="#cf222e", linestyle="--", linewidth=1.2, label=f"rule {rule:g}")
        ticks = list(range(0, len(order), max(1, -(-len(order) // 10))))
        ax.set_xticks(ticks, [datetime.fromtimestamp(order[i], tz=UTC).strftime("%m-%d %H:%M")
                              for i in ticks], rotation=30, ha="right")
        ax.set_xlim(-0.5, len(order) - 0.5)
        ax.set_xlabel("run (finished, UTC)")
        ax.set_ylabel("Lambda / Celery")
        ax.set_ylim(0, top * 1.15)
        _legend(ax)
        svg = to_svg(fig, prefix)
    last = {t: pts[-1] for t, pts in series.items()}
    text = ", ".join(f"{t} {p[1]:.2f}" + (f" [{p[2]:.2f}, {p[3]:.2f}]" if len(p) == 4 else "")
                     for t, p in sorted(last.items()))
    return svg, f"Last ratio (95% interval): {text}; the rule: upper bound <= {rule:g}."


CHARTS = {"5B durations": chart_5b_durations, "4B burst": chart_4b_burst, "4A coverage": chart_4a_coverage}
EXPECTED = {"5B": ("5B durations",), "4B": ("4B burst",), "4A": ("4A coverage",)}
