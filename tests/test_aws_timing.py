"""--aws-timing: Lambda's real gaps between asynchronous attempts (about 1 and 2 minutes), proven once."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_aws_timing_spaces_the_retries_of_a_failing_job_as_aws_does(tmp_path: Path) -> None:
    """The transient-error drill under AWS's delays: 3 attempts, FAILED only after 3 minutes, still GO."""
    reports = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_STEP_SUMMARY"))}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "phases/test_4b_failure_handling.py", "-m", "local", "-q",
                           "-p", "no:cacheprovider", "--no-gate", "--aws-timing", "--report-dir", str(reports),
                           "-k", "transient_error_on_every_attempt"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    elapsed = time.monotonic() - t0
    out = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout, out      # the run is NO-GO only for the steps it did not select
    text = (reports / "latest.md").read_text()
    took = re.search(r"FAILED after 3 attempts in ([\d.]+) s", text)
    assert took and float(took.group(1)) >= 180, (took and took.group(0), out)
    assert elapsed >= 180
    data = json.loads((reports / "latest.json").read_text())
    rows = {r["behaviour"]: r["how"] for r in data["fidelity"]["rows"]}
    assert "after 60 s and 120 s as on AWS (--aws-timing)" in rows["async retries"], rows["async retries"]
