"""Offline stack checks against mutated copies of the real terraform and code: one clear line each."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.stack.checks import check_fmt, check_production, run_static_checks
from harness.stack.codescan import scan
from harness.stack.terraform import StackError, load_stack

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def stack_copy(tmp_path: Path) -> tuple[Path, Path]:
    tf = tmp_path / "terraform"
    src = tmp_path / "lambda_src"
    shutil.copytree(REPO / "terraform", tf, ignore=shutil.ignore_patterns(".terraform*"))
    shutil.copytree(REPO / "lambda_src", src, ignore=shutil.ignore_patterns("__pycache__"))
    return tf, src


def failures(tf: Path, src: Path) -> list[str]:
    return [f.message for f in run_static_checks(load_stack(tf), scan(src)) if not f.ok]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_the_real_stack_passes(stack_copy) -> None:
    assert failures(*stack_copy) == []


def test_s3_wildcard_action_is_one_clear_line(stack_copy) -> None:
    tf, src = stack_copy
    edit(tf / "iam.tf", 'actions   = ["s3:GetObject"]', 'actions   = ["s3:*"]')
    bad = failures(tf, src)
    assert len(bad) == 1 and "ReadUploads" in bad[0] and "'s3:*'" in bad[0], bad


def test_star_resource_outside_logs_is_refused(stack_copy) -> None:
    tf, src = stack_copy
    edit(tf / "iam.tf", "resources = [aws_dynamodb_table.jobs.arn]", 'resources = ["*"]')
    bad = failures(tf, src)
    assert any("JobRecords" in b and "'*'" in b for b in bad), bad


def test_write_outside_output_prefixes_is_refused(stack_copy) -> None:
    tf, src = stack_copy
    edit(tf / "iam.tf", '"${aws_s3_bucket.videos.arn}/processed/*"', '"${aws_s3_bucket.videos.arn}/*"')
    bad = failures(tf, src)
    assert any("WriteOutputs" in b and "writes" in b for b in bad), bad


PROCESSOR_ENV = "    variables = local.function_environment\n  }\n}\n\nresource \"aws_lambda_function_event_invoke_config\""


def processor_env(body: str) -> str:
    """The processor's environment block replaced by its own map (the rest keep the shared one)."""
    return "    variables = {\n" + body + "    }\n  }\n}\n\nresource \"aws_lambda_function_event_invoke_config\""


def test_reserved_env_key_names_the_function(stack_copy) -> None:
    tf, src = stack_copy
    edit(tf / "lambda.tf", PROCESSOR_ENV, processor_env("      VIDEO_BUCKET = aws_s3_bucket.videos.bucket\n"
                                                        "      JOBS_TABLE   = aws_dynamodb_table.jobs.name\n"
                                                        "      AWS_REGION   = \"us-east-1\"\n"))
    bad = failures(tf, src)
    assert len(bad) == 1 and "aws_lambda_function.video_processor" in bad[0] and "AWS_REGION" in bad[0], bad


def test_reserved_env_key_in_the_shared_map_names_each_for_each_instance(stack_copy) -> None:
    tf, src = stack_copy
    edit(tf / "lambda.tf", "    JOBS_TABLE   = aws_dynamodb_table.jobs.name\n  }\n",
         "    JOBS_TABLE   = aws_dynamodb_table.jobs.name\n    AWS_REGION   = \"us-east-1\"\n  }\n")
    bad = failures(tf, src)
    named = sorted(b.split(" (")[0] for b in bad)
    assert named == ['aws_lambda_function.test["ffmpeg_check"]', 'aws_lambda_function.test["job_status"]',
                     'aws_lambda_function.test["s3_roundtrip"]', 'aws_lambda_function.test["segment_test"]',
                     "aws_lambda_function.video_processor"], bad
    assert all("AWS_REGION" in b and "lambda.tf" in b for b in bad), bad


def test_changed_hash_key_names_terraform_and_code(stack_copy) -> None:
    tf, src = stack_copy
    edit(tf / "storage.tf", 'hash_key     = "video_id"', 'hash_key     = "job_id"')
    edit(tf / "storage.tf", 'name = "video_id"', 'name = "job_id"')
    bad = failures(tf, src)
    assert len(bad) == 1, bad
    assert "aws_dynamodb_table.jobs" in bad[0] and "'job_id'" in bad[0] and "jobs.py" in bad[0] and "'video_id'" in bad[0]


def test_missing_env_var_names_both_sides(stack_copy) -> None:
    tf, src = stack_copy
    edit(tf / "lambda.tf", PROCESSOR_ENV, processor_env("      VIDEO_BUCKET = aws_s3_bucket.videos.bucket\n"))
    bad = failures(tf, src)
    assert len(bad) == 1, bad
    assert "JOBS_TABLE" in bad[0] and "config.py:" in bad[0] and "aws_lambda_function.video_processor" in bad[0]


def test_missing_handler_module_is_named(stack_copy) -> None:
    tf, src = stack_copy
    edit(tf / "lambda.tf", "video_processor.handlers.hello.handler", "video_processor.handlers.helo.handler")
    bad = failures(tf, src)
    assert any("video_processor.handlers.helo" in b and "does not exist" in b for b in bad), bad


def test_limits_are_enforced(stack_copy) -> None:
    tf, src = stack_copy
    edit(tf / "variables.tf", "default     = 900", "default     = 1000")
    bad = failures(tf, src)
    assert any("timeout 1000 s" in b for b in bad), bad


def test_production_workspace_must_not_deploy_test_functions(stack_copy) -> None:
    tf, _ = stack_copy
    edit(tf / "env" / "prod.tfvars", "enable_test_functions = false", "enable_test_functions = true")
    bad = [f.message for f in check_production(tf) if not f.ok]
    assert len(bad) == 1 and "video_processor_test" in bad[0], bad


def test_fmt_without_terraform_did_not_run_and_says_how_to_get_it(stack_copy, monkeypatch) -> None:
    monkeypatch.setattr("harness.stack.checks.shutil.which", lambda name: None)
    [finding] = check_fmt(stack_copy[0])
    assert not finding.ok and not finding.ran and finding.tool == "terraform"
    assert finding.line.startswith("terraform fmt not run: no terraform binary on PATH — install the terraform CLI")


@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs the terraform CLI (fmt runs offline)")
def test_fmt_check_names_the_badly_formatted_file(stack_copy) -> None:
    tf, _ = stack_copy
    assert all(f.ok for f in check_fmt(tf))
    edit(tf / "outputs.tf", 'output "stage" {\n  value = var.stage', 'output "stage" {\n      value    =    var.stage')
    bad = [f.message for f in check_fmt(tf) if not f.ok]
    assert len(bad) == 1 and "outputs.tf" in bad[0], bad


def test_var_overrides_and_workspaces_resolve(stack_copy) -> None:
    tf, _ = stack_copy
    spec = load_stack(tf, overrides={"project_name": "demo", "processor_memory_mb": "2048"})
    assert spec.bucket == "demo-videos-dev"
    assert spec.function("video_processor").name == "demo-video-processor"
    assert spec.function("video_processor").memory_mb == 2048
    assert spec.table.name == "demo-video-metadata"
    assert load_stack(tf, workspace="main-simple").bucket == "easy-video-share-videos-main-simple"
    with pytest.raises(StackError, match="no variable 'nope'"):
        load_stack(tf, overrides={"nope": "1"})
    with pytest.raises(StackError, match="must be true or false"):
        load_stack(tf, overrides={"enable_test_functions": "maybe"})


def test_the_failure_queue_grant_must_be_send_only_to_the_declared_destination(stack_copy) -> None:
    tf, src = stack_copy
    edit(tf / "iam.tf", 'actions   = ["sqs:SendMessage"]', 'actions   = ["sqs:SendMessage", "sqs:DeleteMessage"]')
    bad = failures(tf, src)
    assert len(bad) == 1 and "FailureDestination" in bad[0] and "sqs:DeleteMessage" in bad[0], bad


def test_the_processor_declares_an_on_failure_destination_and_retries() -> None:
    fn = load_stack(REPO / "terraform").function("video_processor")
    assert fn.on_failure and fn.on_failure.startswith("arn:aws:sqs:") and fn.max_retry_attempts == 2


def test_make_lint_runs_the_same_fmt_check_and_fails_naming_the_missing_tool(stack_copy, monkeypatch, capsys) -> None:
    from harness.cli import main

    monkeypatch.setattr("harness.stack.checks.shutil.which", lambda name: None)
    assert main(["lint", "--terraform-dir", str(stack_copy[0])]) == 1
    assert capsys.readouterr().out.startswith("terraform fmt not run: no terraform binary on PATH — install")
