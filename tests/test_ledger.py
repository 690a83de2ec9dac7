"""The rollout ledger: append-only, keyed by code identity, and the source of an aws run's local evidence."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from harness.tell import ledger
from harness.tell.report import RunFacts, StepFacts, build_report

REPO = Path(__file__).resolve().parents[1]
ID = {"package_sha256": "p1", "layer_sha256": "l1", "terraform_sha256": "t1", "backend_sha256": "b1",
      "harness_sha256": "h1", "phases_sha256": "ph1", "fixtures_sha256": "f1", "root_files_sha256": "r1",
      "rules_sha256": "ru1"}


def entry(target="local", verdict="GO", code=ID, passed=("phases/test_4b_x.py::test_drill",), **kw) -> dict:
    return {"finished": 1_800_000_000.0, "verdict": verdict, "target": target, "rollout_step": "4",
            "steps": {"4B": "passed"}, "code": dict(code, commit="abc", dirty=False), "report": "reports/x.md",
            "local_only_passed": list(passed), "weakened": [], **kw}


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    def write(i: int) -> None:
        for j in range(20):
            ledger.append(tmp_path, entry(report=f"r{i}-{j}" + "x" * 5000))
    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / ledger.NAME).read_text().splitlines()
    assert len(lines) == 80 and all(json.loads(line)["target"] == "local" for line in lines)


def test_an_aws_run_needs_a_local_go_of_the_same_code_identity() -> None:
    needed = ["phases/test_4b_x.py::test_drill", "phases/test_4b_x.py::test_other"]
    entries = [entry(), entry(verdict="NO-GO", passed=needed), entry(code=dict(ID, package_sha256="p2"), passed=needed)]
    assert ledger.missing_local_evidence(entries, ID, needed) == ["phases/test_4b_x.py::test_other"]
    assert ledger.missing_local_evidence(entries + [entry(passed=needed)], ID, needed) == []
    assert ledger.missing_local_evidence([], ID, []) == []
    # a dirty tree or a weakened run never stands behind an aws verdict
    dirty = entry(passed=needed)
    dirty["code"]["dirty"] = True
    assert ledger.missing_local_evidence(entries + [dirty], ID, needed) == ["phases/test_4b_x.py::test_other"]
    weak = entry(passed=needed, weakened=["cpu-scaling off"])
    assert ledger.missing_local_evidence(entries + [weak], ID, needed) == ["phases/test_4b_x.py::test_other"]
    gutted = entry(passed=needed, code=dict(ID, phases_sha256="ph2"))     # a drill edited to `return`
    assert ledger.missing_local_evidence(entries + [gutted], ID, needed) == ["phases/test_4b_x.py::test_other"]


def test_an_aws_run_with_no_matching_local_go_is_no_go_naming_what_is_missing() -> None:
    step = StepFacts(id="4B", status="passed", summary="GO (3 passed)", passed=3, failed=0, skipped=0, blocked=0,
                     duration=1.0, failures=[], missing=[], evidence={}, metrics={}, warnings={})
    facts = RunFacts(target={"name": "aws"}, code=dict(ID), rollout_step="4", selected=("4B",), steps=[step],
                     started=0.0, finished=1.0, exitstatus=0, ledger_gap=["phases/test_4b_x.py::test_drill"])
    report = build_report(facts)
    assert report.verdict == "NO-GO"
    assert "1 local-only check (fault drills) have no clean, full-fidelity local GO of this code identity" in report.headline
    assert "pytest phases/ -m local --phase 4B" in report.headline
    assert "- phases/test_4b_x.py::test_drill" in report.markdown and report.data["ledger_gap"]


def test_tree_hash_changes_with_content_not_with_mtime(tmp_path: Path) -> None:
    (tmp_path / "a.tf").write_text("x = 1\n")
    first = ledger.tree_sha256(tmp_path, ("*.tf",))
    (tmp_path / "a.tf").write_text("x = 1\n")
    assert ledger.tree_sha256(tmp_path, ("*.tf",)) == first
    (tmp_path / "a.tf").write_text("x = 2\n")
    assert ledger.tree_sha256(tmp_path, ("*.tf",)) != first


def test_the_ledger_command_prints_the_last_verdict_per_step(tmp_path: Path) -> None:
    ledger.append(tmp_path, entry())
    ledger.append(tmp_path, entry(target="aws", verdict="NO-GO", steps={"4B": "failed"}))
    out = subprocess.run([sys.executable, "-m", "harness", "ledger", "--report-dir", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "| 4B     | aws      | failed   | NO-GO" in out.stdout and "| 4B     | local    | passed   | GO" in out.stdout
    empty = subprocess.run([sys.executable, "-m", "harness", "ledger", "--report-dir", str(tmp_path / "none")],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
    assert empty.returncode == 1 and "make validate" in empty.stdout


def test_changes_since_a_reference_name_the_verdicts_then_and_now_and_what_changed() -> None:
    from harness.tell.ledger import changes_since

    def run(commit, package, steps):
        return {"target": "local", "verdict": "GO", "steps": steps,
                "code": {"commit": commit, "package_sha256": package, "layer_sha256": "l",
                         "terraform_sha256": "t", "backend_sha256": "b"}}
    entries = [run("aaa", "p1", {"1A": "passed", "4B": "passed"}),
               run("bbb", "p2", {"1A": "passed", "4B": "failed", "5B": "passed"})]
    rows = {(r[0], r[1]): r for r in changes_since(entries, lambda commit: commit == "aaa")}
    assert rows[("1A", "local")][2:] == ["passed", "aaa", "passed", "bbb", "package"]
    assert rows[("4B", "local")][-1] == "passed -> failed; changed: package"
    assert rows[("5B", "local")][2] == "no run" and rows[("5B", "local")][-1] == "new since the reference"
