"""`python -m harness rollout`: replay a recorded rollout bit for bit, and refuse what it cannot start."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_rollout_controller import RULES, World

from harness.rollout.controller import Controller

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "harness", "rollout", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_replay_of_a_recorded_rollout_recomputes_and_a_tampered_one_exits_3(tmp_path: Path) -> None:
    record = Controller(World(lambda_failure=0.5), schedule=(5000, 10000), rules=RULES, poll=0,
                        say=lambda _line: None, run_id="r1").run().to_dict()
    rollouts = tmp_path / "reports" / "rollouts"
    rollouts.mkdir(parents=True)
    (rollouts / "r1.json").write_text(json.dumps(record))
    ok = _cli("--replay", "r1", "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert ok.returncode == 0 and "recomputes bit for bit" in ok.stdout, ok.stdout + ok.stderr
    record["steps"][0]["decisions"][-1]["reason"] = "edited after the fact"
    (rollouts / "r2.json").write_text(json.dumps(record))
    bad = _cli("--replay", "r2", "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert bad.returncode == 3 and "step 1 (50%): decision" in bad.stdout, bad.stdout + bad.stderr


def test_without_credentials_the_rollout_does_not_start_and_says_why_in_one_line(tmp_path: Path) -> None:
    env_home = tmp_path / "home"
    env_home.mkdir()
    proc = subprocess.run([sys.executable, "-m", "harness", "rollout", "--terraform-dir", str(REPO / "terraform"),
                           "--report-dir", str(tmp_path / "reports")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={"PATH": os.environ["PATH"], "HOME": str(env_home),
                                            "PYTHONPATH": str(REPO), "AWS_EC2_METADATA_DISABLED": "true"})
    assert proc.returncode == 4, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rollout: not started:"), proc.stderr
    assert not (tmp_path / "reports" / "rollouts.jsonl").exists()
