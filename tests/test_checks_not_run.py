"""A check that did not run is missing evidence: it never passes, and the step says why and what to install."""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from harness.stack import drift
from harness.stack.build import Artifact
from harness.stack.checks import (
    Finding,
    assess,
    check_backend_defaults,
    check_env_reads,
    check_iam,
    check_layer,
    check_limits,
    check_table_key,
    not_run,
    run_static_checks,
)
from harness.stack.codescan import scan
from harness.stack.terraform import load_stack

REPO = Path(__file__).resolve().parents[1]
PYELFTOOLS = ("elftools", "elftools.common.exceptions", "elftools.elf.dynamic", "elftools.elf.elffile",
              "elftools.elf.gnuversions")


@pytest.fixture(scope="module")
def spec():
    return load_stack(REPO / "terraform")


@pytest.fixture(scope="module")
def code():
    return scan(REPO / "lambda_src")


def artifacts(tmp_path: Path) -> tuple[Artifact, Artifact]:
    """A layer zip holding bin/ffmpeg and a package, small: the checks read only names and sizes."""
    layer = tmp_path / "layer.zip"
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("bin/ffmpeg", b"x")
    return Artifact(layer, "0" * 64, 100, 100), Artifact(tmp_path / "function.zip", "1" * 64, 100, 100)


def test_a_finding_that_did_not_run_cannot_be_ok() -> None:
    with pytest.raises(ValueError, match="did not run cannot be ok"):
        Finding("x", True, "looked at nothing", ran=False)


def test_assess_makes_a_not_run_finding_a_problem_of_one_line() -> None:
    result = assess([Finding("limits", True, "all within"), not_run("sizes", "no zip", "run make setup", tool="zip"),
                     Finding("handlers exist", False, "handler x missing")])
    assert result.passed == ["limits: all within"]
    assert result.problems == ["sizes not run: no zip — run make setup", "handler x missing"]
    assert result.summary == "sizes not run: no zip — run make setup | handler x missing"


def test_the_real_stack_runs_every_static_check(spec, code) -> None:
    findings = run_static_checks(spec, code)
    assert all(f.ran and f.ok for f in findings), [f.line for f in findings if not (f.ran and f.ok)]


def test_without_the_elf_reader_the_layer_check_did_not_run_and_names_pyelftools(spec, tmp_path, monkeypatch) -> None:
    for name in PYELFTOOLS:
        monkeypatch.setitem(sys.modules, name, None)     # import fails as if the package were not installed
    layer, package = artifacts(tmp_path)
    findings = check_layer(spec, layer, package, REPO / "README.md")
    [line] = assess(findings).problems
    assert line.startswith("layer fits runtime not run: glibc needs of the layer binary unknown: no ELF reader")
    assert "pip install 'pyelftools" in line and "make setup" in line
    assert [f.tool for f in findings if not f.ran] == ["pyelftools"]


def test_a_missing_ffmpeg_binary_did_not_run_and_says_how_to_get_it(spec, tmp_path) -> None:
    layer, package = artifacts(tmp_path)
    [line] = assess(check_layer(spec, layer, package, tmp_path / "nope" / "ffmpeg")).problems
    assert line.startswith(f"layer fits runtime not run: glibc needs of the layer binary unknown: the ffmpeg binary "
                           f"{tmp_path / 'nope' / 'ffmpeg'} does not exist — ")
    assert "imageio-ffmpeg" in line and "--ffmpeg-binary" in line


def test_a_binary_that_is_not_elf_is_a_failure_not_a_skip(spec, tmp_path) -> None:
    layer, package = artifacts(tmp_path)
    text = tmp_path / "ffmpeg"
    text.write_text("#!/bin/sh\n")
    [bad] = [f for f in check_layer(spec, layer, package, text) if not f.ok]
    assert bad.ran and "not a readable ELF binary" in bad.message


def test_a_layer_this_stack_does_not_build_is_not_judged_silently(spec, tmp_path) -> None:
    external = "arn:aws:lambda:us-east-1:999999999999:layer:other:3"
    fn = dataclasses.replace(spec.function("ffmpeg_check"), layers=(external,))
    layer, package = artifacts(tmp_path)
    findings = check_layer(dataclasses.replace(spec, functions={"ffmpeg_check": fn}), layer, package,
                           REPO / "nope")
    assert any(not f.ran and external in f.message for f in findings), [f.line for f in findings]


def test_checks_over_no_functions_did_not_run(spec, code) -> None:
    empty = dataclasses.replace(spec, functions={})
    for findings in (check_limits(empty), check_env_reads(empty, code)):
        assert findings and all(not f.ran for f in findings), findings
        assert "declares no aws_lambda_function" in findings[0].line


def test_env_reads_of_a_handler_that_is_missing_or_computed_are_not_judged(spec, code, tmp_path) -> None:
    broken = dataclasses.replace(spec.function("job_status"), handler="video_processor.handlers.nope.handler")
    [line] = assess(check_env_reads(dataclasses.replace(spec, functions={"job_status": broken}), code)).problems
    assert line.startswith("env vars set not run:") and "handlers.nope" in line
    src = tmp_path / "src" / "pkg"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "h.py").write_text("import os\nNAME = 'X'\ndef handler(e, c):\n    return os.environ[NAME]\n")
    one = dataclasses.replace(spec.function("job_status"), handler="pkg.h.handler")
    [line] = assess(check_env_reads(dataclasses.replace(spec, functions={"job_status": one}),
                                    scan(tmp_path / "src"))).problems
    assert "computed name NAME (h.py:4)" in line and line.startswith("env vars set not run:")


def test_no_hash_key_constant_is_a_check_that_did_not_run(spec, tmp_path) -> None:
    (tmp_path / "m.py").write_text("X = 1\n")
    [finding] = check_table_key(spec, scan(tmp_path))
    assert not finding.ran and "HASH_KEY" in finding.line and "aws_dynamodb_table.jobs" in finding.line


def test_a_grant_the_iam_check_cannot_read_is_named(tmp_path) -> None:
    import shutil

    tf = tmp_path / "terraform"
    shutil.copytree(REPO / "terraform", tf, ignore=shutil.ignore_patterns(".terraform*"))
    (tf / "extra.tf").write_text('resource "aws_iam_role_policy_attachment" "admin" {\n'
                                 '  role       = aws_iam_role.lambda.name\n'
                                 '  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"\n}\n')
    problems = assess(check_iam(load_stack(tf))).problems
    assert problems == ["IAM least privilege not run: terraform grants through "
                        "aws_iam_role_policy_attachment.admin, which is not read offline — declare the role's "
                        "permissions as a data.aws_iam_policy_document attached with aws_iam_role_policy"]


def test_missing_backend_settings_did_not_run(tmp_path) -> None:
    [finding] = check_backend_defaults(tmp_path / "settings.py")
    assert not finding.ran and "settings.py does not exist" in finding.line


# -- deployed as declared ------------------------------------------------------------------------------

def api_answer(fn, spec) -> dict:
    """What the Lambda API would say of a function deployed exactly as declared."""
    want = drift.declared(fn, spec)
    cfg = {"Runtime": fn.runtime, "Handler": fn.handler, "Role": fn.role, "MemorySize": fn.memory_mb,
           "Timeout": fn.timeout_s, "EphemeralStorage": {"Size": fn.ephemeral_mb},
           "Layers": [{"Arn": a} for a in want["layers"]], "Environment": {"Variables": dict(want["env"])}}
    return cfg


def test_a_function_deployed_as_declared_has_no_drift(spec) -> None:
    fn = spec.function("video_processor")
    have = drift.deployed(api_answer(fn, spec), 5, {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600})
    assert drift.drift(fn, have, drift.declared(fn, spec)) is None


def test_drift_names_both_sides_of_every_field_in_one_line_with_secrets_redacted(spec) -> None:
    fn = dataclasses.replace(spec.function("ffmpeg_check"), env={**spec.function("ffmpeg_check").env,
                                                                 "API_TOKEN": "tf-side-secret"})
    cfg = api_answer(fn, spec)
    cfg.update(MemorySize=512, Role="arn:aws:iam::1:role/other",
               Layers=[{"Arn": spec.layers["aws_lambda_layer_version.ffmpeg"].arn[:-1] + "2"}])
    cfg["Environment"]["Variables"].update(JOBS_TABLE="old-table", API_TOKEN="deployed-secret")
    del cfg["Environment"]["Variables"]["VIDEO_BUCKET"]
    line = drift.drift(fn, drift.deployed(cfg, 3, None), drift.declared(fn, spec))
    assert "\n" not in line and line.startswith(
        'easy-video-share-ffmpeg-check (aws_lambda_function.test["ffmpeg_check"], lambda.tf): ')
    assert "role deployed 'arn:aws:iam::1:role/other', terraform 'arn:aws:iam::123456789012:role/" in line
    assert "memory MB deployed 512, terraform 256" in line and "reserved concurrency deployed 3, terraform None" in line
    assert ":layer:easy-video-share-ffmpeg:2'], terraform ['arn:aws:lambda:" in line
    assert "env JOBS_TABLE deployed 'old-table', terraform 'easy-video-share-video-metadata'" in line
    assert "env VIDEO_BUCKET deployed unset, terraform 'easy-video-share-videos-dev'" in line
    assert "env API_TOKEN deployed '[REDACTED]', terraform '[REDACTED]' (values differ)" in line
    assert "secret" not in line.replace("[REDACTED]", "")


# -- through the plugin --------------------------------------------------------------------------------

STEP_1A = '''
from pathlib import Path

from harness.stack.build import Artifact
from harness.stack.checks import assess, check_layer
from harness.stack.terraform import load_stack

REPO = Path({repo!r})


def test_layer_fits_every_runtime_that_uses_it(evidence, tmp_path):
    import zipfile
    layer = tmp_path / "layer.zip"
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("bin/ffmpeg", b"x")
    art = Artifact(layer, "0" * 64, 1, 1)
    result = assess(check_layer(load_stack(REPO / "terraform"), art, art, tmp_path / "no-ffmpeg"))
    for line in result.passed:
        evidence.add("reliable", line)
    assert not result.problems, result.summary
'''


def test_a_1a_check_that_did_not_run_makes_the_report_no_go_naming_why(pytester: pytest.Pytester,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest('pytest_plugins = ["harness.run.plugin", "harness.run.fixtures"]\n')
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    (pytester.path / "phases").mkdir()
    (pytester.path / "phases" / "test_1a_step.py").write_text(STEP_1A.format(repo=str(REPO)))
    (pytester.path / "phases" / "test_1b_step.py").write_text("def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess("phases", "--phase", "1")
    assert result.ret != 0
    data = json.loads((pytester.path / "reports" / "latest.json").read_text())
    assert data["verdict"] == "NO-GO"
    assert {s["id"]: s["status"] for s in data["steps"]} == {"1A": "failed", "1B": "blocked"}
    md = (pytester.path / "reports" / "latest.md").read_text()
    assert "layer fits runtime not run: glibc needs of the layer binary unknown: the ffmpeg binary" in md
    assert "imageio-ffmpeg" in md


def test_terraform_declaring_one_retry_while_the_function_is_retried_twice_is_drift(spec) -> None:
    """On aws: the deployed event invoke config retries twice where terraform says once -> 1A NO-GO naming both
    (locally the runtime enforces terraform's value: tests/test_runtime_async.py)."""
    fn = dataclasses.replace(spec.function("video_processor"), max_retry_attempts=1)
    have = drift.deployed(api_answer(fn, spec), fn.reserved_concurrency,
                          {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": fn.max_event_age_s})
    line = drift.drift(fn, have, drift.declared(fn, spec))
    assert line is not None and "async retries deployed 2, terraform 1" in line, line
