"""`python -m harness ledger --html`: the ledger's history as one self-contained HTML page (pure).

Per target, every run newest first: time, run verdict, code identity (short hashes) and each step's
status; above it the last verdict per step and target, and the 5B Lambda/Celery ratio across runs.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime

from harness.plan.catalogue import STEP_IDS
from harness.tell import ledger
from harness.tell.redact import redact
from harness.tell.report_charts import chart_ratio_trend
from harness.tell.report_html import STATUS_COLOURS, STATUS_TEXT, environment, status_class

MAX_RUNS = 200        # per target, newest first
RULE = 1.25           # the default --better-factor; the ledger does not record a run's own factor
CELL = {"passed": "pass", "failed": "FAIL", "blocked": "blocked", "partial": "partial", "not_run": "-"}


def _when(finished) -> str:
    try:
        return datetime.fromtimestamp(float(finished), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"


def _short(value, n: int) -> str:
    return (str(value) if value else "?")[:n]


def run_row(entry: dict) -> dict:
    code = entry.get("code") if isinstance(entry.get("code"), dict) else {}
    steps = entry.get("steps") if isinstance(entry.get("steps"), dict) else {}
    ratio = entry.get("ratio_5b")
    return {
        "when": _when(entry.get("finished")), "verdict": str(entry.get("verdict", "?")),
        "rollout_step": str(entry.get("rollout_step", "?")),
        "commit": _short(code.get("commit"), 10) + (" (dirty)" if code.get("dirty") else ""),
        "hashes": [_short(code.get(k), 12) for k in ledger.IDENTITY_KEYS],
        "ratio": f"{ratio:.2f}" if isinstance(ratio, (int, float)) else "",
        "cells": [{"id": sid, "status": str(steps.get(sid, "not_run")), "cls": status_class(steps.get(sid, "not_run")),
                   "text": CELL.get(str(steps.get(sid, "not_run")), str(steps.get(sid)))} for sid in STEP_IDS],
        "report": str(entry.get("report", "")),
    }


def ratio_points(entries: list[dict]) -> dict[str, list[tuple]]:
    """target -> [(finished, ratio)] or [(finished, ratio, low, high)] where the run recorded its interval."""
    points: dict[str, list[tuple]] = {}
    for e in entries:
        r, f, ci = e.get("ratio_5b"), e.get("finished"), e.get("ratio_5b_ci95")
        if isinstance(r, (int, float)) and isinstance(f, (int, float)):
            point = (float(f), float(r), *map(float, ci)) if isinstance(ci, list) and len(ci) == 2 else (
                float(f), float(r))
            points.setdefault(str(e.get("target", "?")), []).append(point)
    return points


def context(entries: list[dict], now: float | None = None) -> dict:
    entries = [e for e in entries if isinstance(e, dict)]
    targets: dict[str, list[dict]] = {}
    for e in sorted(entries, key=lambda e: float(e.get("finished") or 0), reverse=True):
        targets.setdefault(str(e.get("target", "?")), [])
        if len(targets[str(e.get("target", "?"))]) < MAX_RUNS:
            targets[str(e.get("target", "?"))].append(run_row(e))
    trend = {"name": "5B Lambda/Celery workload ratio across runs"}
    try:
        trend["svg"], trend["caption"] = chart_ratio_trend(ratio_points(entries), RULE)
    except Exception as exc:      # no ratio yet, or data that cannot be drawn: say so, never fail the page
        trend["note"] = f"no data recorded for this chart ({exc})"
    return {"generated": _when(now or time.time()), "count": len(entries), "targets": targets,
            "summary": ledger.summary_rows(entries, now), "step_ids": STEP_IDS, "trend": trend,
            "identity_keys": [k.removesuffix("_sha256") for k in ledger.IDENTITY_KEYS],
            "colours": STATUS_COLOURS, "text_colours": STATUS_TEXT}


def render_ledger_html(entries: list[dict], now: float | None = None) -> str:
    html = environment().get_template("ledger.html.j2").render(**context(entries, now))
    return redact(html)
