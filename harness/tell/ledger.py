"""The rollout ledger: one line per run in <report dir>/ledger.jsonl, keyed by code identity.

A run's code identity is what it validated: the package and layer sha256 and hashes of the
terraform files and the backend, and what judged it: the harness, the phases, the fixtures,
the root pytest files, and the rules (verdict options and pytest plugins). An aws run cannot prove the fault drills (they need the
embedded target's fault injection), so an aws verdict reads the local evidence of the same
identity from the ledger: it is GO only if local GO runs of that identity passed every
local-only test of its steps, from a clean tree with nothing weakened. Appends are one write of one line under a file lock, so
concurrent runs never interleave or corrupt it.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from filelock import FileLock

NAME = "ledger.jsonl"
# What a verdict rests on: the code under test (from the target), then the judge and its rules (the run's own).
IDENTITY_KEYS = ("package_sha256", "layer_sha256", "terraform_sha256", "backend_sha256",
                 "harness_sha256", "phases_sha256", "fixtures_sha256", "root_files_sha256", "rules_sha256")


def tree_sha256(root: Path, patterns: tuple[str, ...]) -> str:
    """sha256 over (relative path, bytes) of the files matching patterns under root, sorted."""
    digest = hashlib.sha256()
    root = Path(root)
    files = sorted({p for pattern in patterns for p in root.rglob(pattern) if p.is_file()
                    and "__pycache__" not in p.parts and ".terraform" not in p.parts})
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def identity_of(code: dict) -> dict:
    return {k: code.get(k) for k in IDENTITY_KEYS}


def append(report_dir: Path, entry: dict) -> Path:
    path = Path(report_dir) / NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode()
    with FileLock(str(path) + ".lock", timeout=60):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    return path


def read(report_dir: Path) -> list[dict]:
    path = Path(report_dir) / NAME
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue        # a torn line from an old writer: skip it, never fail the run on it
    return out


def counts_as_evidence(entry: dict) -> bool:
    """A local run that may stand behind an aws verdict: GO, from a clean tree, nothing weakened."""
    return (entry.get("target") == "local" and entry.get("verdict") == "GO"
            and (entry.get("code") or {}).get("dirty") is False and not entry.get("weakened")
            and "weakened" in entry)


def local_evidence(entries: list[dict], identity: dict) -> set[str]:
    """Local-only tests that clean, full-fidelity local GO runs of this exact identity passed."""
    covered: set[str] = set()
    for e in entries:
        if counts_as_evidence(e) and identity_of(e.get("code", {})) == identity:
            covered.update(e.get("local_only_passed", []))
    return covered


def missing_local_evidence(entries: list[dict], identity: dict, needed: list[str]) -> list[str]:
    """Local-only tests an aws run of `identity` needs that no matching local GO passed (pure)."""
    if not needed:
        return []
    if any(v is None for v in identity.values()):
        return sorted(needed)
    covered = local_evidence(entries, identity)
    return sorted(t for t in needed if t not in covered)


def ratio_5b(data: dict) -> float | None:
    """The 5B Lambda/Celery workload ratio of a report's data: from its chart, else its metric, else None."""
    def get(value, key):
        return value.get(key) if isinstance(value, dict) else None

    step = next((s for s in get(data, "steps") or [] if get(s, "id") == "5B"), None)
    for value in (get(get(get(get(step, "charts"), "5B durations"), "ratio"), "value"),
                  get(get(step, "metrics"), "5B lambda/celery workload ratio")):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def ratio_5b_interval(data: dict) -> list[float] | None:
    """The 95% interval of the 5B workload ratio that gated the run, or None."""
    step = next((s for s in data.get("steps") or [] if isinstance(s, dict) and s.get("id") == "5B"), None)
    ratio = (((step or {}).get("charts") or {}).get("5B durations") or {}).get("ratio") or {}
    ci = ratio.get("ci95") if isinstance(ratio, dict) else None
    if isinstance(ci, list) and len(ci) == 2 and all(isinstance(v, (int, float)) for v in ci):
        return [float(ci[0]), float(ci[1])]
    return None


def summary_rows(entries: list[dict], now: float | None = None) -> list[list]:
    """Per step and target, the last verdict with its code identity and age (for `python -m harness ledger`)."""
    now = now or time.time()
    last: dict[tuple, dict] = {}
    for e in entries:
        for sid, status in (e.get("steps") or {}).items():
            last[(sid, e.get("target"))] = {**e, "step_status": status}
    rows = []
    for (sid, target), e in sorted(last.items()):
        code = e.get("code", {})
        age_h = (now - float(e.get("finished", now))) / 3600
        rows.append([sid, target, e["step_status"], e.get("verdict"), (code.get("commit") or "?")[:10],
                     (code.get("package_sha256") or "?")[:12], f"{age_h:.1f} h", e.get("report", "")])
    return rows


def changes_since(entries: list[dict], at_or_before) -> list[list]:
    """Per step and target: the last verdict of a run at or before a reference (`at_or_before(commit)`),
    the last verdict now, and which parts of the code identity changed between the two (pure)."""
    then: dict[tuple, dict] = {}
    now: dict[tuple, dict] = {}
    for e in entries:
        commit = (e.get("code") or {}).get("commit") or ""
        for sid, status in (e.get("steps") or {}).items():
            key = (sid, e.get("target"))
            now[key] = {**e, "step_status": status}
            if commit and at_or_before(commit):
                then[key] = {**e, "step_status": status}
    rows = []
    for key in sorted(now):
        new, old = now[key], then.get(key)
        if old is None:
            rows.append([*key, "no run", "", new["step_status"], _short(new), "new since the reference"])
            continue
        parts = [k.removesuffix("_sha256") for k in IDENTITY_KEYS
                 if (old.get("code") or {}).get(k) != (new.get("code") or {}).get(k)]
        what = ", ".join(parts) if parts else "nothing in the code identity"
        if old["step_status"] != new["step_status"]:
            what = f"{old['step_status']} -> {new['step_status']}; changed: {what}"
        rows.append([*key, old["step_status"], _short(old), new["step_status"], _short(new), what])
    return rows


def _short(entry: dict) -> str:
    return ((entry.get("code") or {}).get("commit") or "?")[:10]
