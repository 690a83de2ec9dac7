"""The file through which the xdist controller tells workers which steps are finished.

Workers cannot see each other's results; the controller sees them all. It
rewrites this file atomically whenever a step completes; a worker about to run
a step polls it until every earlier step is finished, then runs or skips.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from harness.run.gate import blocker_from_snapshot

FILENAME = "gate.json"


def publish(gate_dir: Path, snapshot: dict, *, aborted: str | None = None) -> None:
    data = {"steps": snapshot, "aborted": aborted}
    fd, tmp = tempfile.mkstemp(dir=gate_dir, prefix=".gate-")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, gate_dir / FILENAME)


def read(gate_dir: Path) -> dict:
    try:
        return json.loads((gate_dir / FILENAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"steps": {}, "aborted": None}


def wait_for_blocker(gate_dir: Path, selected: tuple[str, ...], step: str, *, timeout: float,
                     interval: float = 0.05) -> str | None:
    """Block until every earlier step is finished; return the skip reason or None. Never hangs."""
    deadline = time.monotonic() + timeout
    while True:
        data = read(gate_dir)
        if data.get("aborted"):
            return f"blocked: the run was aborted ({data['aborted']})"
        decided, reason = blocker_from_snapshot(data.get("steps", {}), selected, step)
        if decided:
            return reason
        if time.monotonic() >= deadline:
            return (f"blocked: earlier steps did not finish within {timeout:.0f} s "
                    f"(--gate-timeout); step {step} was not run")
        time.sleep(interval)
