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


def _aws_target(lines: list[str]):
    """An AwsTarget over the repo's terraform whose CloudWatch Logs are `lines` (no account needed)."""
    import boto3

    from harness.targets.aws import AwsTarget

    session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    target = AwsTarget(name="aws", stack=load_stack(REPO / "terraform"), session=session, endpoint_url=None,
                       backend_url=None)
    target.function_logs = lambda name=None: list(lines)
    target.LOG_CHECK_INTERVAL_S = 0.0
    return target


def test_on_aws_a_job_whose_invocation_reported_success_without_finishing_is_stuck_at_once() -> None:
    lines = ["START RequestId: r1 Version: $LATEST", "[INFO] claimed the job", "END RequestId: r1",
             "REPORT RequestId: r1\tDuration: 812.00 ms\tBilled Duration: 813 ms"]
    target = _aws_target(lines)
    assert target.stuck_reason("j1", "PROCESSING") is None                      # no request id: cannot tell
    reason = target.stuck_reason("j1", "PROCESSING", request_id="r1")
    assert reason.startswith("job j1 is still PROCESSING but its 1 invocation attempt(s) of "
                             "easy-video-share-video-processor (request r1) ended in CloudWatch Logs"), reason


def test_on_aws_failed_attempts_wait_for_lambdas_retries_and_the_destination_then_quote_the_error() -> None:
    attempt = ["START RequestId: r2 Version: $LATEST", "[ERROR] ValidationException: bad key", "END RequestId: r2",
               "REPORT RequestId: r2\tDuration: 5 ms\tStatus: error\tError Type: Runtime.ExitError"]
    running = _aws_target(attempt + ["START RequestId: r2 Version: $LATEST"])
    assert running.stuck_reason("j2", "PROCESSING", request_id="r2") is None    # Lambda's retry is running
    allowed = 1 + running.stack.function("video_processor").max_retry_attempts
    ended = _aws_target(attempt * allowed)
    assert ended.stuck_reason("j2", "PROCESSING", request_id="r2") is None      # the on-failure record's grace
    ended.DESTINATION_GRACE_S = 0.0
    reason = ended.stuck_reason("j2", "PROCESSING", request_id="r2")
    assert f"its {allowed} invocation attempt(s)" in reason and reason.endswith(
        "; its log: [ERROR] ValidationException: bad key"), reason
