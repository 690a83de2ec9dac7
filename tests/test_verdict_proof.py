"""A GO is a proof: no partial, foreign or weakened evidence behind a verdict (issue 21).

Each test reproduces one way a verdict could be assembled without its proof, from outside
with pytester (a tiny phases/ tree, the real plugin), or on the pure piece that decides it.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from phase_project import latest, make_project, write_phases

from harness.plan import inventory
from harness.run import provenance
from harness.run.facts import git_identity
from harness.targets.aws import LogsNotScanned, emulated_endpoint
from harness.tell import ledger

REPO = Path(__file__).resolve().parents[1]

TARGETED = '''
import pytest

@pytest.fixture(scope="session")
def target(request):
    return request.param
'''
STEP = "def test_{a}(target):\n    assert target\n\ndef test_{b}(target):\n    assert target\n"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    return make_project(pytester, monkeypatch, TARGETED)


def ledger_lines(project: pytest.Pytester) -> list[dict]:
    return ledger.read(project.path / "reports")


def run(project: pytest.Pytester, *args: str, xdist: bool = False):
    extra = ("-p", "xdist", "-n", "2") if xdist else ()
    return project.runpytest_subprocess(*args, *extra)


def two_steps() -> dict[str, str]:
    return {"test_1a_one.py": STEP.format(a="hello", b="offline_checks"),
            "test_1b_two.py": STEP.format(a="invoke", b="missing_function")}


# -- selection: the gate knows every test of every step ------------------------------------------

@pytest.mark.parametrize("xdist", [False, True], ids=["n0", "n2"])
def test_a_node_id_run_of_one_test_is_partial_not_go(project: pytest.Pytester, xdist: bool) -> None:
    write_phases(project, two_steps())
    result = run(project, "phases/test_1a_one.py::test_hello", "-m", "local", "--phase", "1A", xdist=xdist)
    assert result.ret != 0
    data = latest(project)
    assert data["verdict"] == "NO-GO"
    assert data["steps"][0]["status"] == "partial"
    assert "phases/test_1a_one.py::test_offline_checks" in data["headline"]
    assert ledger_lines(project)[-1]["selection"]["left_out"] == 1


def test_one_file_of_a_two_file_step_is_partial(project: pytest.Pytester) -> None:
    files = two_steps()
    files["test_1b_more.py"] = STEP.format(a="load", b="fuzz")
    write_phases(project, files)
    result = run(project, "phases/test_1a_one.py", "phases/test_1b_two.py", "-m", "local")
    assert result.ret != 0
    status = {s["id"]: s["status"] for s in latest(project)["steps"]}
    assert status["1A"] == "passed" and status["1B"] == "partial"


@pytest.mark.parametrize("how", [("--deselect", "phases/test_1b_two.py::test_invoke[local]"),
                                 ("-k", "not invoke")])
def test_deselect_and_k_leave_a_step_partial(project: pytest.Pytester, how: tuple[str, str]) -> None:
    write_phases(project, two_steps())
    result = run(project, "phases", "-m", "local", *how)
    assert result.ret != 0
    assert {s["id"]: s["status"] for s in latest(project)["steps"]}["1B"] == "partial"


def test_a_marker_expression_is_evaluated_not_searched(project: pytest.Pytester) -> None:
    """`-m "local and not aws"` is a full local run: GO, not partial because the text holds 'aws'."""
    write_phases(project, two_steps())
    result = run(project, "phases", "-m", "local and not aws", "--phase", "1B")
    assert result.ret == 0, result.stdout.str()
    assert latest(project)["verdict"] == "GO"


def test_an_aws_node_id_run_still_needs_the_local_only_drills_from_the_ledger(project: pytest.Pytester) -> None:
    write_phases(project, {"test_1a_one.py": "import pytest\n" + STEP.format(a="hello", b="other") +
                    "\n@pytest.mark.local_only\ndef test_fault_drill(target):\n    assert target\n"})
    result = run(project, "phases/test_1a_one.py::test_hello", "-m", "aws", "--phase", "1A")
    assert result.ret != 0
    data = latest(project)
    assert data["ledger_gap"] == ["phases/test_1a_one.py::test_fault_drill"]


def test_without_large_the_1gb_tier_is_listed_as_not_checked(project: pytest.Pytester) -> None:
    write_phases(project, {"test_1a_one.py": "import pytest\n" + STEP.format(a="hello", b="other") +
                    "\n@pytest.mark.large\ndef test_one_gigabyte(target):\n    assert target\n"})
    result = run(project, "phases", "-m", "local", "--phase", "1A")
    assert result.ret == 0, result.stdout.str()
    data = latest(project)
    [l2] = [n for n in data["not_checked"] if n["what"].startswith("L2")]
    assert "test_one_gigabyte" in l2["why"] and "--large" in l2["why"]
    assert "L2 (1 GB at 512 MB memory)" in (project.path / "reports" / "latest.md").read_text()
    assert "L2 (1 GB at 512 MB memory)" in (project.path / "reports" / "latest.html").read_text()


# -- commands that must not lie or crash -----------------------------------------------------------

def test_collect_only_writes_no_report_and_no_ledger_line(project: pytest.Pytester) -> None:
    write_phases(project, two_steps())
    run(project, "phases", "-m", "local", "--collect-only")
    assert not (project.path / "reports" / "latest.json").exists()
    assert ledger_lines(project) == []


def test_a_run_that_selects_nothing_replaces_a_stale_go(project: pytest.Pytester) -> None:
    write_phases(project, two_steps())
    assert run(project, "phases", "-m", "local", "--phase", "1B").ret == 0
    assert latest(project)["verdict"] == "GO"
    result = run(project, "phases", "-m", "local", "--phase", "1B", "-k", "nomatch")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    data = latest(project)
    assert data["verdict"] == "NO-GO"
    assert "nothing ran" in data["headline"]


@pytest.mark.parametrize("xdist", [False, True], ids=["n0", "n2"])
def test_a_conftest_below_the_root_does_not_crash_the_run(project: pytest.Pytester, xdist: bool) -> None:
    write_phases(project, two_steps())
    (project.path / "phases" / "conftest.py").write_text("")
    result = run(project, "phases", "-m", "local", "--phase", "1B", xdist=xdist)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert result.ret == 0
    assert latest(project)["verdict"] == "GO"


# -- weakened runs say so, and are never evidence ----------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (("--better-factor", "100"), "better-factor 100"),
    (("--no-gate",), "no-gate"),
])
def test_a_weakened_run_names_the_weakening_in_the_headline_and_the_ledger(
        project: pytest.Pytester, args: tuple, words: str) -> None:
    write_phases(project, two_steps())
    result = run(project, "phases", "-m", "local", "--phase", "1B", *args)
    assert result.ret == 0
    data = latest(project)
    assert data["headline"].startswith(f"GO (weakened: {words}) for rollout step")
    assert words in data["weakened"]
    entry = ledger_lines(project)[-1]
    assert entry["weakened"] == [words]
    assert entry["args"][-len(args):] == list(args)
    assert not ledger.counts_as_evidence(entry)
    assert f"GO (weakened: {words})" in (project.path / "reports" / "latest.md").read_text()


def test_a_plugin_loaded_with_p_changes_the_rules_identity(project: pytest.Pytester) -> None:
    write_phases(project, two_steps())
    (project.path / "rewriter.py").write_text("def pytest_report_teststatus(report):\n    return None\n")
    run(project, "phases", "-m", "local", "--phase", "1B")
    run(project, "phases", "-m", "local", "--phase", "1B", "-p", "rewriter")
    first, second = ledger_lines(project)[-2:]
    assert any(p.startswith("rewriter@") for p in second["plugins"])
    assert first["code"]["rules_sha256"] != second["code"]["rules_sha256"]


def test_fewer_than_five_rounds_are_refused_in_one_line(project: pytest.Pytester) -> None:
    write_phases(project, two_steps())
    result = run(project, "phases", "-m", "local", "--phase", "1B", "--compare-runs", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--compare-runs 2: 5B needs at least 5 rounds per path*"])


def test_only_clean_unweakened_local_go_runs_count_as_evidence() -> None:
    good = {"target": "local", "verdict": "GO", "code": {"dirty": False}, "weakened": []}
    assert ledger.counts_as_evidence(good)
    for bad in ({**good, "code": {"dirty": True}}, {**good, "weakened": ["cpu-scaling off"]},
                {**good, "verdict": "NO-GO"}, {**good, "target": "aws"},
                {k: v for k, v in good.items() if k != "weakened"}):     # from before runs recorded weakenings
        assert not ledger.counts_as_evidence(bad)


def test_a_gutted_drill_changes_the_identity_an_aws_run_matches(tmp_path: Path) -> None:
    for folder in ("harness", "phases", "fixtures"):
        (tmp_path / folder).mkdir()
    (tmp_path / "phases" / "test_4b_x.py").write_text("def test_drill():\n    assert run_drill()\n")
    before = provenance.judge_identity(tmp_path)
    (tmp_path / "phases" / "test_4b_x.py").write_text("def test_drill():\n    return\n")
    assert provenance.judge_identity(tmp_path)["phases_sha256"] != before["phases_sha256"]


def test_an_untracked_file_makes_the_tree_dirty(tmp_path: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=env)
    (tmp_path / "a.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "a"], cwd=tmp_path, check=True, env=env)
    assert git_identity(tmp_path)["dirty"] is False
    (tmp_path / "phases").mkdir()
    (tmp_path / "phases" / "conftest.py").write_text("")
    assert git_identity(tmp_path)["dirty"] is True


def test_weakenings_in_words() -> None:
    from harness.tell.report import weakened_by

    assert provenance.weakenings(better_factor=1.25, compare_runs=5, no_gate=False) == []
    options = provenance.weakenings(better_factor=100, compare_runs=3, no_gate=True, cpu_scaling_off=True)
    assert options == ["cpu-scaling off", "compare-runs 3", "better-factor 100", "no-gate"]
    assert weakened_by(options, ["CPU", "memory"]) == [*options, "reduced fidelity: memory not enforced by the kernel"]


# -- the aws target knows when it is not AWS ---------------------------------------------------------

def test_a_non_aws_endpoint_makes_the_aws_run_emulated() -> None:
    real = {"s3": "https://s3.eu-west-1.amazonaws.com", "lambda": "https://lambda.eu-west-1.amazonaws.com"}
    assert emulated_endpoint({}, real, "210987654321") is None
    assert emulated_endpoint({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, real, "210987654321") == \
        "AWS_ENDPOINT_URL=http://127.0.0.1:4566"
    assert "AWS_ENDPOINT_URL_S3=http://10.0.0.5:9000" in emulated_endpoint(
        {"AWS_ENDPOINT_URL_S3": "http://10.0.0.5:9000"}, real, "210987654321")
    assert emulated_endpoint({}, {**real, "s3": "http://localhost:5000"}, "210987654321") == \
        "s3 at http://localhost:5000"
    assert emulated_endpoint({}, real, "123456789012") == "account 123456789012"


def test_the_report_labels_an_emulated_aws_run() -> None:
    from harness.tell.report import RunFacts, build_report

    facts = RunFacts(target={"name": "aws", "emulated": "AWS_ENDPOINT_URL=http://127.0.0.1:4566"}, code={},
                     rollout_step="1A", selected=("1A",), steps=[], started=0.0, finished=1.0, exitstatus=0)
    report = build_report(facts)
    assert report.headline.startswith("NO-GO for rollout step 1A on aws (emulated: AWS_ENDPOINT_URL=http://127.0.0.1")
    assert report.target_name == "aws-emulated"       # what the stamped file names carry
    assert report.data["target"] == "aws" and report.data["emulated"].startswith("AWS_ENDPOINT_URL=")
    assert "Every behaviour is the real Lambda service's own" not in report.markdown
    assert "**Emulated:**" in report.markdown


class _DeniedLogs:
    def get_paginator(self, name):
        class P:
            def paginate(self, **kw):
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "FilterLogEvents")
        return P()


class _EndlessLogs:
    def get_paginator(self, name):
        class P:
            def paginate(self, **kw):
                while True:
                    yield {"events": [{"message": "x"}] * 1000}
        return P()


@pytest.mark.parametrize("client, words", [(_DeniedLogs(), "AccessDeniedException"), (_EndlessLogs(), "page cap")])
def test_cloudwatch_logs_fail_closed(client, words: str) -> None:
    from types import SimpleNamespace

    from harness.targets.aws import AwsTarget

    fake = SimpleNamespace(logs=client, started=0.0,
                           stack=SimpleNamespace(enabled_functions=[SimpleNamespace(name="fn")]))
    with pytest.raises(LogsNotScanned, match=words):
        AwsTarget.function_logs(fake)


def test_the_inventory_decides_what_a_run_left_out() -> None:
    e = [inventory.Entry("phases/test_1a_x.py::test_a", "1A", frozenset({"local", "aws"}), False, False),
         inventory.Entry("phases/test_1a_x.py::test_drill", "1A", frozenset({"local"}), True, False),
         inventory.Entry("phases/test_4a_x.py::test_big", "4A", frozenset({"local", "aws"}), False, True)]
    assert inventory.left_out(e, ["phases/test_1a_x.py::test_a[aws]"], ("1A",), "aws", False) == []
    assert inventory.left_out(e, ["phases/test_1a_x.py::test_a[local]"], ("1A",), "local", False) == [
        ("phases/test_1a_x.py::test_drill", "1A")]
    assert inventory.local_evidence_needed(e, ("1A",), False) == ["phases/test_1a_x.py::test_drill"]
    assert inventory.large_not_checked(e, ("1A", "4A"), False) == ["phases/test_4a_x.py::test_big"]
    assert inventory.large_not_checked(e, ("1A", "4A"), True) == []


# -- on a real account, the applied terraform is compared, not the checkout ---------------------------

CONFIG_OUTPUT = '''output "config_sha256" {
  value = sha256(join("", [for f in sort(fileset(path.module, "*.tf")) : "${f}:${filesha256("${path.module}/${f}")}\\n"]))
}
'''
# `terraform apply` of a directory holding only CONFIG_OUTPUT as o.tf output this (terraform 1.x, 2026-12-07)
CONFIG_OUTPUT_DIGEST = "669f2ee322914d5f8b2e5ae886e0e10a98d203ac00e78c1eb65eb997eec58200"


def test_config_digest_is_the_one_terraform_computes(tmp_path: Path) -> None:
    import shutil

    from harness.stack.drift import config_sha256

    (tmp_path / "o.tf").write_text(CONFIG_OUTPUT)
    assert config_sha256(tmp_path) == CONFIG_OUTPUT_DIGEST
    assert CONFIG_OUTPUT in (REPO / "terraform" / "outputs.tf").read_text()
    exe = shutil.which("terraform")
    if exe:     # where the CLI exists, terraform itself agrees (it needs no provider for an output)
        subprocess.run([exe, "init", "-backend=false", "-input=false"], cwd=tmp_path, capture_output=True, check=True)
        subprocess.run([exe, "apply", "-auto-approve", "-input=false"], cwd=tmp_path, capture_output=True, check=True)
        out = subprocess.run([exe, "output", "-json"], cwd=tmp_path, capture_output=True, text=True, check=True)
        assert json.loads(out.stdout)["config_sha256"]["value"] == CONFIG_OUTPUT_DIGEST


def test_aws_drift_compares_the_applied_digest_with_the_checkout(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from harness.stack.drift import config_sha256
    from harness.targets.aws import AwsTarget

    (tmp_path / "o.tf").write_text(CONFIG_OUTPUT)
    fake = SimpleNamespace(stack=SimpleNamespace(tf_dir=tmp_path), outputs_source="outputs.json",
                           outputs={"config_sha256": config_sha256(tmp_path)})
    fake._applied_digest_drift = lambda why: AwsTarget._applied_digest_drift(fake, why)
    drift, why = AwsTarget.terraform_drift(fake, "x")
    assert drift is False and "equals this checkout" in why
    fake.outputs = {"config_sha256": "0" * 64}
    assert AwsTarget.terraform_drift(fake, "x")[0] is True
    fake.outputs = {}
    drift, why = AwsTarget.terraform_drift(fake, "x")
    assert drift is None and "no config_sha256 output" in why


LATE_LOGS = '''
import time
import pytest

LATE = {"after_reads": None}

class FakeTarget:
    """A function that logs a timeout after its last test's own scan: the line is there from the read
    after the test's teardown read on (an async retry landing late)."""
    name = "local"
    reads = 0
    def identity(self):
        return {"name": "local"}
    def sigv2_requests(self):
        return []
    def function_logs(self, name=None):
        self.reads += 1
        late = LATE["after_reads"] is not None and self.reads > LATE["after_reads"]
        return ["Task timed out after 3.00 seconds"] if late else []

@pytest.fixture(scope="session")
def target():
    return FakeTarget()
'''


@pytest.mark.parametrize("xdist", [False, True], ids=["n0", "n2"])
def test_lines_logged_after_the_last_test_are_scanned_too(project: pytest.Pytester, xdist: bool) -> None:
    project.makeconftest('pytest_plugins = ["harness.run.plugin", "harness.run.fixtures"]\n' + LATE_LOGS)
    write_phases(project, {"test_1a_one.py": "from conftest import LATE\n\n"
                                      "def test_only(target):\n    LATE['after_reads'] = target.reads + 1\n"})
    result = run(project, "phases", "--phase", "1A", xdist=xdist)
    assert result.ret != 0, result.stdout.str()
    data = latest(project)
    assert data["verdict"] == "NO-GO"
    assert "1 x lambda_timeout that no test caused on purpose" in data["headline"], data["headline"]
