"""From the run record to the report's facts: decode each test's evidence, add git's identity.

The only I/O here is asking git which commit this is; everything else is the record's.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from harness.plan.steps import rollout_label
from harness.run import provenance
from harness.run.selection import run_target
from harness.tell.report import RunFacts, StepFacts


def decode(properties: list) -> dict:
    """One test's user_properties as {"evidence": {q: [..]}, "metrics", "tables", "warnings", ...}."""
    out: dict = {"evidence": {}, "metrics": {}, "tables": [], "warnings": {}, "injected": {}, "notices": {},
                 "unscanned": [], "charts": {}, "log_tail": []}
    for name, value in properties:
        if name == "warnings_unscanned":
            out["unscanned"].append(str(value))
            continue
        if name == "log_tail" and isinstance(value, list):
            out["log_tail"] = [str(line) for line in value]
            continue
        if not isinstance(value, dict):
            continue
        if name == "evidence":
            out["evidence"].setdefault(value["question"], []).append(str(value["text"]))
        elif name == "metric":
            out["metrics"][value["name"]] = value["value"]
        elif name == "table":
            out["tables"].append(value)
        elif name == "series":
            merge_into(out["charts"].setdefault(value["chart"], {}), value["data"])
        elif name in ("warnings", "injected_warnings"):
            bucket = out["warnings"] if name == "warnings" else out["injected"]
            for sign, count in value.items():
                bucket[sign] = bucket.get(sign, 0) + int(count)
        elif name == "notices":
            out["notices"]["sigv2"] = out["notices"].get("sigv2", 0) + int(value.get("sigv2", 0))
            out["notices"].setdefault("example", value.get("example"))
    return out


def merge_into(dst: dict, src: dict) -> dict:
    """Merge chart data key by key: nested dicts merge, lists extend, other values are replaced."""
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            merge_into(dst[key], value)
        elif isinstance(value, list) and isinstance(dst.get(key), list):
            dst[key].extend(value)
        else:
            dst[key] = value
    return dst


def run_facts(record, exitstatus: int, ledger_entries: list | None = None) -> RunFacts:
    from harness.tell import ledger

    config = record.config
    steps, tables = [], {}
    for sid in record.gate.selected:
        state = record.gate.steps[sid]
        evidence: dict = {}
        metrics: dict = {}
        warnings: dict = {}
        injected: dict = {}
        notices: dict = {}
        unscanned: list = []
        charts: dict = {}
        log_tails: dict = {}
        for nodeid in state.tests:
            d = decode(record.results.get(nodeid, []))
            merge_into(charts, d["charts"])
            if d["log_tail"]:
                log_tails[nodeid] = d["log_tail"]
            for q, lines in d["evidence"].items():
                evidence.setdefault(q, []).extend(lines)
            metrics.update(d["metrics"])
            for table in d["tables"]:
                t = tables.setdefault(table["title"], {"headers": table["headers"], "rows": []})
                t["rows"].extend(table["rows"])
            for src, dst in ((d["warnings"], warnings), (d["injected"], injected)):
                for sign, count in src.items():
                    dst[sign] = dst.get(sign, 0) + count
            unscanned += d["unscanned"]
            if d["notices"]:
                notices["sigv2"] = notices.get("sigv2", 0) + d["notices"].get("sigv2", 0)
                notices.setdefault("example", d["notices"].get("example"))
        for trailing_step, entry in record.trailing:
            if trailing_step != sid:
                continue
            for sign, count in (entry.get("warnings") or {}).items():
                warnings[sign] = warnings.get(sign, 0) + int(count)
            if entry.get("unscanned"):
                unscanned.append(entry["unscanned"])
        steps.append(StepFacts(
            id=sid, status=state.status, summary=state.summary(),
            passed=state.count("passed"), failed=state.count("failed"),
            skipped=state.count("skipped"), blocked=state.count("blocked"), duration=state.duration,
            failures=[(t.nodeid, t.message) for t in state.tests.values() if t.outcome == "failed"],
            missing=[(t.nodeid, t.message) for t in state.tests.values() if t.outcome == "skipped"],
            evidence=evidence, metrics=metrics, warnings=warnings, injected=injected, notices=notices,
            unscanned=unscanned, charts=charts,
            log_tails={n: t for n, t in log_tails.items() if state.tests[n].outcome == "failed"}))
    target = dict(record.target) or {"name": run_target(config)}
    root = Path(config.rootpath)
    code = dict(git_identity(root))
    code.update(provenance.judge_identity(root))
    rule_values, plugin_names = provenance.rules(config), provenance.plugins(config)
    code["rules_sha256"] = provenance.rules_sha256(rule_values, plugin_names)
    for key in ledger.IDENTITY_KEYS:
        if target.get(key):
            code[key] = target[key]
    gap = ledger.missing_local_evidence(ledger_entries or [], ledger.identity_of(code),
                                        sorted(record.local_only_needed)) if target.get("name") == "aws" else []
    weakened = provenance.weakenings(
        better_factor=config.getoption("--better-factor"), compare_runs=config.getoption("--compare-runs"),
        no_gate=bool(config.getoption("--no-gate")), cpu_scaling_off=target.get("name") == "local" and config.getoption("--cpu-scaling") == "off")
    not_checked = []
    if record.large_unproven:
        n = len(record.large_unproven)
        not_checked.append(("L2 (1 GB at 512 MB memory)", f"proven only by {n} --large test{'s' if n != 1 else ''} "
                            f"({record.large_unproven[0]}), which this run did not select: rerun with --large"))
    return RunFacts(target=target, code=code, rollout_step=rollout_label(record.settings.last),
                    selected=record.gate.selected, steps=steps, started=record.settings.started,
                    finished=time.time(), exitstatus=int(exitstatus),
                    extra={"tables": tables} if tables else {},
                    collection_errors=list(record.collection_errors), ledger_gap=gap,
                    interrupted=record.interrupted(exitstatus), weakened=weakened,
                    args=[str(a) for a in config.invocation_params.args], rules=rule_values,
                    plugins=plugin_names, not_checked=not_checked)


def git_identity(root: Path) -> dict:
    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None
    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=normal")      # an untracked conftest.py counts
    return {"commit": commit or "unknown (not a git checkout)",
            "dirty": bool(status) if status is not None else None}
