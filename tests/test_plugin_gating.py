"""The plugin from outside, with pytester: ordering, gating, --phase, naming, verdict, report."""
from __future__ import annotations

from pathlib import Path

import pytest
from phase_project import latest, make_project, write_phases

REPO = Path(__file__).resolve().parents[1]

PASSING = "def test_ok():\n    assert True\n"
FAILING = "def test_ffmpeg_runs():\n    assert False, 'ffmpeg missing'\n"
ORDER_LOG = """
import os, time
def test_{name}():
    time.sleep(0.05)
    with open(os.environ['ORDER_LOG'], 'a') as fh:
        fh.write('{step}\\n')
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    return make_project(pytester, monkeypatch)


def all_steps(fail_2a: bool = False) -> dict[str, str]:
    files = {f"test_{s}_step.py": PASSING for s in ("1a", "1b", "2b", "3a", "3b", "4a", "4b", "5a", "5b", "5c")}
    files["test_2a_ffmpeg_layer.py"] = FAILING if fail_2a else PASSING
    return files


def run(pytester: pytest.Pytester, *args: str, xdist: bool = False):
    if xdist:
        return pytester.runpytest_subprocess("phases", "-p", "xdist", "-n", "2", *args)
    return pytester.runpytest_subprocess("phases", *args)


@pytest.mark.parametrize("xdist", [False, True], ids=["n0", "n2"])
def test_failure_in_2a_blocks_every_later_step(project: pytest.Pytester, xdist: bool) -> None:
    write_phases(project, all_steps(fail_2a=True))
    result = run(project, "--phase", "3", xdist=xdist)
    assert result.ret != 0
    data = latest(project)
    assert data["verdict"] == "NO-GO"
    status = {s["id"]: s["status"] for s in data["steps"]}
    assert status == {"1A": "passed", "1B": "passed", "2A": "failed", "2B": "blocked",
                      "3A": "blocked", "3B": "blocked"}
    md = (project.path / "reports" / "latest.md").read_text()
    assert "phases/test_2a_ffmpeg_layer.py::test_ffmpeg_runs: AssertionError: ffmpeg missing" in md
    blocked = next(s for s in data["steps"] if s["id"] == "2B")
    assert blocked["summary"].startswith("NO-GO (blocked by step 2A: NO-GO (1 failed: "
                                         "phases/test_2a_ffmpeg_layer.py::test_ffmpeg_runs")


@pytest.mark.parametrize("xdist", [False, True], ids=["n0", "n2"])
def test_all_passing_is_go_and_exit_zero(project: pytest.Pytester, xdist: bool) -> None:
    write_phases(project, all_steps())
    result = run(project, xdist=xdist)
    assert result.ret == 0
    data = latest(project)
    assert data["verdict"] == "GO"
    assert data["rollout_step"] == "all"
    assert [s["id"] for s in data["steps"]] == ["1A", "1B", "2A", "2B", "3A", "3B", "4A", "4B", "5A", "5B", "5C"]


def test_steps_run_in_order_under_xdist_and_in_parallel_within_a_step(project: pytest.Pytester,
                                                                      monkeypatch) -> None:
    log = project.path / "order.log"
    monkeypatch.setenv("ORDER_LOG", str(log))
    files = {}
    for step in ("1a", "1b", "2a", "2b", "3a"):
        files[f"test_{step}_x.py"] = "".join(
            ORDER_LOG.format(name=f"t{i}", step=step) for i in range(4))
    write_phases(project, files)
    result = run(project, "--phase", "3A", xdist=True)
    assert result.ret == 0, result.stdout.str()
    order = log.read_text().split()
    assert order == sorted(order), order
    assert len(order) == 20


def test_skip_is_missing_evidence_and_no_go(project: pytest.Pytester) -> None:
    files = all_steps()
    files["test_1b_step.py"] = "import pytest\ndef test_s():\n    pytest.skip('no backend')\n"
    write_phases(project, files)
    result = run(project, "--phase", "2")
    assert result.ret != 0
    data = latest(project)
    assert data["verdict"] == "NO-GO"
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["1B"]["status"] == "failed" and steps["1B"]["skipped"] == 1
    assert steps["2A"]["status"] == "blocked"
    assert "missing evidence" in (project.path / "reports" / "latest.md").read_text()


def test_phase_selects_steps_up_to_and_including(project: pytest.Pytester) -> None:
    write_phases(project, all_steps())
    result = run(project, "--phase", "2A")
    assert result.ret == 0
    data = latest(project)
    assert [s["id"] for s in data["steps"]] == ["1A", "1B", "2A"]
    assert data["rollout_step"] == "2A"
    result.assert_outcomes(passed=3, deselected=8)


@pytest.mark.parametrize("bad", ["6", "0", "9Z", "abc"])
def test_bad_phase_is_a_usage_error(project: pytest.Pytester, bad: str) -> None:
    write_phases(project, all_steps())
    result = run(project, "--phase", bad)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--phase {bad!r} is not a phase*"])


@pytest.mark.parametrize("name", ["test_6a_future.py", "test_1c_x.py", "helpers.py", "test_ffmpeg.py"])
def test_badly_named_phase_file_is_a_collection_error_naming_it(project: pytest.Pytester, name: str) -> None:
    write_phases(project, {**all_steps(), name: PASSING})
    result = run(project)
    assert result.ret != 0
    result.stdout.fnmatch_lines([f"*{name}*test_<step>_<slug>.py*"])


def test_crash_inside_a_test_still_writes_a_report(project: pytest.Pytester) -> None:
    files = all_steps()
    files["test_1b_step.py"] = "import os\ndef test_crash():\n    os._exit(3)\n"
    write_phases(project, files)
    result = run(project, "--phase", "2", xdist=True)
    assert result.ret != 0
    data = latest(project)
    steps = {s["id"]: s["status"] for s in data["steps"]}
    assert steps["1B"] == "failed" and steps["2A"] == "blocked" and steps["2B"] == "blocked"
    assert data["verdict"] == "NO-GO"


def test_markers_are_registered_with_their_meaning(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["*@pytest.mark.local: runs against the embedded target*",
                                 "*@pytest.mark.aws: runs against a real AWS account*"])


def test_aws_items_need_an_explicit_marker_expression(project: pytest.Pytester) -> None:
    project.makeconftest('pytest_plugins = ["harness.run.plugin"]\nimport pytest\n'
                         '@pytest.fixture(scope="session")\ndef target(request):\n    return request.param\n')
    write_phases(project, {"test_1a_x.py": "def test_t(target):\n    assert target in ('local', 'aws')\n"})
    result = run(project)
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.no_fnmatch_line("*test_t?aws?*PASSED*")
    result = run(project, "-m", "aws", "-v")
    result.stdout.fnmatch_lines(["*test_t?aws? PASSED*"])


def test_github_step_summary_gets_the_markdown(project: pytest.Pytester, monkeypatch) -> None:
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_phases(project, all_steps())
    run(project, "--phase", "1")
    text = summary.read_text()
    assert text.startswith("# GO for rollout step 1 on local")
    assert "| 1A     | Lambda infrastructure  | passed   |" in text and "reports/latest.md" in text
    assert "## The four questions" not in text and len(text) < 2000     # a summary, not the whole report


def test_maxfail_under_xdist_does_not_leave_workers_waiting_at_the_gate(project: pytest.Pytester) -> None:
    files = {f"test_{s}_x.py": "".join(f"def test_{i}():\n    assert {s!r} != '1a' or {i} != 0\n" for i in range(6))
             for s in ("1a", "1b", "2a")}
    write_phases(project, files)
    result = run(project, "-x", "--gate-timeout", "40", xdist=True)
    assert result.ret != 0
    assert latest(project)["verdict"] == "NO-GO"
    assert result.duration < 30, f"took {result.duration:.0f} s: workers waited at the gate"


@pytest.mark.parametrize("xdist", [False, True], ids=["n0", "n2"])
def test_a_step_with_tests_left_out_by_k_is_partial_and_no_go(project: pytest.Pytester, xdist: bool) -> None:
    """`--phase 1A -k hello` must not say GO for 1A while 1A's other test was never run."""
    write_phases(project, {"test_1a_step.py": "def test_hello():\n    assert True\n\n"
                                             "def test_offline_checks():\n    assert False, 'IAM too wide'\n"})
    result = run(project, "--phase", "1A", "-k", "hello", xdist=xdist)
    assert result.ret != 0
    data = latest(project)
    assert data["verdict"] == "NO-GO"
    step = data["steps"][0]
    assert step["status"] == "partial" and step["passed"] == 1, step
    assert "not in the run: phases/test_1a_step.py::test_offline_checks" in step["summary"]
    assert "partial: 1 passed, 1 check of this step not in the run" in data["headline"]


FAKE_TARGET = '''
import pytest

LOGS = []

class FakeTarget:
    def identity(self):
        return {"name": "local"}
    def sigv2_requests(self):
        return []
    def function_logs(self):
        return list(LOGS)

@pytest.fixture(scope="session")
def target():
    return FakeTarget()
'''


@pytest.mark.parametrize("xdist", [False, True], ids=["n0", "n2"])
def test_failed_test_carries_the_function_log_tail_and_charts_merge(project: pytest.Pytester, xdist: bool) -> None:
    files = all_steps()
    files["test_1a_step.py"] = FAKE_TARGET + '''
def test_logs_then_fails(target):
    LOGS.extend(["START RequestId: r1", "[ERROR] ValidationException: the key is wrong", "END RequestId: r1"])
    assert False, "job stuck in PROCESSING"

def test_passes_with_logs(target):
    LOGS.append("INFO all fine")
'''
    files["test_1b_step.py"] = '''
def test_a(evidence):
    evidence.series("coverage", {"fixtures": {"a": {"frames": 10}}, "points": [1]})

def test_b(evidence):
    evidence.series("coverage", {"fixtures": {"b": {"frames": 20}}, "points": [2]})
'''
    project.makeconftest('pytest_plugins = ["harness.run.plugin", "harness.run.fixtures"]\n')
    write_phases(project, files)
    result = run(project, "--no-gate", xdist=xdist)
    result.assert_outcomes(passed=12, failed=1)
    data = latest(project)
    step = {s["id"]: s for s in data["steps"]}
    [failure] = step["1A"]["failures"]
    assert failure["log_tail"][-2:] == ["[ERROR] ValidationException: the key is wrong", "END RequestId: r1"]
    md = (project.path / "reports" / "latest.md").read_text()
    assert "[ERROR] ValidationException: the key is wrong" in md
    assert "INFO all fine" not in md    # only failed tests carry a tail
    chart = step["1B"]["charts"]["coverage"]
    assert chart["fixtures"] == {"a": {"frames": 10}, "b": {"frames": 20}}
    assert sorted(chart["points"]) == [1, 2]
