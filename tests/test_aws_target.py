"""The aws target's refusals: they stop the run with one clear line and a NO-GO 'not validated' report."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


from harness.cli import terraform_outputs
from harness.stack.terraform import load_stack

REPO = Path(__file__).resolve().parents[1]


def run_aws(tmp_path: Path, outputs: dict, extra_env: dict, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    out_file = tmp_path / "outputs.json"
    out_file.write_text(json.dumps(outputs))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_", "ROLLOUT_"))}
    env.update({"ROLLOUT_TF_OUTPUTS": str(out_file), "AWS_REGION": "us-east-1", **extra_env})
    proc = subprocess.run([sys.executable, "-m", "pytest", "phases/", "-m", "aws", "--phase", "1A", "-q",
                           "-p", "no:cacheprovider", "--report-dir", str(tmp_path / "reports"), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    return proc, json.loads((tmp_path / "reports" / "latest.json").read_text())


def outputs(**changes) -> dict:
    out = terraform_outputs(load_stack(REPO / "terraform"))
    for k, v in changes.items():
        out[k] = {"sensitive": False, "value": v}
    return out


def test_unreachable_stack_is_one_clear_no_go(tmp_path: Path) -> None:
    proc, data = run_aws(tmp_path, outputs(), {"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                                                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    assert proc.returncode != 0
    assert data["verdict"] == "NO-GO" and data["target"] == "aws"
    assert "not validated" in data["headline"], data["headline"]
    assert proc.stdout.count("not validated") <= 3, proc.stdout[-1500:]


def test_production_stage_is_refused_without_allow_prod(tmp_path: Path) -> None:
    proc, data = run_aws(tmp_path, outputs(stage="prod"), {"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                                                            "AWS_ACCESS_KEY_ID": "testing",
                                                            "AWS_SECRET_ACCESS_KEY": "testing"})
    assert proc.returncode != 0
    assert "looks like production" in data["headline"] and "--allow-prod" in data["headline"], data["headline"]


def test_missing_outputs_file_is_named(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_", "ROLLOUT_"))}
    env["ROLLOUT_TF_OUTPUTS"] = str(tmp_path / "nope.json")
    proc = subprocess.run([sys.executable, "-m", "pytest", "phases/", "-m", "aws", "--phase", "1A", "-q",
                           "-p", "no:cacheprovider", "--report-dir", str(tmp_path / "r")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    data = json.loads((tmp_path / "r" / "latest.json").read_text())
    assert "nope.json" in data["headline"], data["headline"]
