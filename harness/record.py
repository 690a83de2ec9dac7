"""The run record: one object holds what a run knows, on the process that writes the report.

pytest report -> RunRecord -> facts (git, files) -> build_report -> write_report

Registered in pytest_configure on the controller (or the only process), the way
pytest-xdist registers its DSession. Every test report reaches it through pytest's
own channel (`pytest_runtest_logreport`, which xdist forwards from its workers with
their `user_properties`): the gate, the results by test id, failure counts,
collection errors, the target's identity and each test's evidence. At the end it
decodes the evidence into the report's facts; nothing is joined from side files.

`RunSettings` is what both sides need (selected steps, the gate directory, the
start time); workers receive it through xdist's `workerinput`.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import gatefile, interrupt
from harness.gate import Gate
from harness.steps import step_of_nodeid

PLUGIN_NAME = "rollout-record"
LEFT_OUT = "rollout_left_out"       # workeroutput key: phase tests a worker's -k/-m deselected
LOCAL_NEEDED = "rollout_local_needed"   # workeroutput key: local-only tests an aws run leaves to the ledger
SETTINGS = pytest.StashKey["RunSettings"]()


@dataclass
class RunSettings:
    selected: tuple[str, ...]
    last: str | None
    gate_dir: Path
    started: float
    container_problem: str | None = None

    @classmethod
    def for_controller(cls, selected, last, container_problem) -> "RunSettings":
        return cls(selected, last, Path(tempfile.mkdtemp(prefix="rollout-gate-")), time.time(), container_problem)

    @classmethod
    def for_worker(cls, selected, last, workerinput: dict, container_problem) -> "RunSettings":
        return cls(selected, last, Path(workerinput["rollout_gate_dir"]), workerinput["rollout_started"],
                   container_problem)


def settings(config: pytest.Config) -> RunSettings:
    return config.stash[SETTINGS]


def record_of(config: pytest.Config) -> "RunRecord | None":
    """The run record where it lives (the controller, or a run without xdist); None on workers."""
    return config.pluginmanager.get_plugin(PLUGIN_NAME)


def left_out(config: pytest.Config, items) -> list[str]:
    """Deselected phase tests that belong to this run: a selected step, this run's target, not --large-only.

    Our own collection drops the other target's parametrization, steps after --phase and the 1 GB
    tier; those are not evidence left out. What -k or an extra -m removes is.
    """
    run_target = "aws" if "aws" in (config.option.markexpr or "") else "local"
    selected = set(config.stash[SETTINGS].selected)
    out = []
    for item in items:
        step = step_of_nodeid(item.nodeid)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if step not in selected or params.get("target", run_target) != run_target:
            continue
        if item.get_closest_marker("large") and not config.getoption("--large"):
            continue
        out.append(item.nodeid)
    return out


def evidence_key(nodeid: str) -> str:
    """A test's identity across targets: the nodeid without its target parameter."""
    for target in ("local", "aws"):
        nodeid = nodeid.replace(f"[{target}-", "[").replace(f"[{target}]", "")
    return nodeid


def local_only_needed(config: pytest.Config, items) -> list[str]:
    """For an aws run: the local-only tests of its selected steps (deselected here; the ledger must hold them)."""
    if "aws" not in (config.option.markexpr or ""):
        return []
    selected = set(config.stash[SETTINGS].selected)
    return sorted({evidence_key(i.nodeid) for i in items if i.get_closest_marker("local_only")
                   and step_of_nodeid(i.nodeid) in selected
                   and not (i.get_closest_marker("large") and not config.getoption("--large"))})


def one_line(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.strip().splitlines()[0] if crash.message.strip() else "failed"
    text = str(report.longrepr or "").strip()
    return text.splitlines()[-1] if text else ""


@dataclass
class RunRecord:
    config: pytest.Config
    settings: RunSettings
    gate: Gate = field(init=False)
    results: dict = field(default_factory=dict)          # nodeid -> [(name, value), ...]
    failures: int = 0
    collection_errors: list = field(default_factory=list)
    target: dict = field(default_factory=dict)
    phase_items: int = 0
    local_only_passed: set = field(default_factory=set)   # evidence keys of passed local-only tests
    local_only_needed: set = field(default_factory=set)   # aws run: local-only tests its steps need
    report: object = None
    paths: tuple = ()
    running: dict = field(default_factory=dict)           # nodeid -> None: tests started, not yet finished
    last_finished: str | None = None
    _expected: bool = False

    def __post_init__(self) -> None:
        self.gate = Gate(self.settings.selected)

    # -- xdist (only fires when xdist distributes the run) -----------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        node.workerinput["rollout_gate_dir"] = str(self.settings.gate_dir)
        node.workerinput["rollout_started"] = self.settings.started

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        if not self._expected:
            self._expected = True
            self._expect(ids)
            gatefile.publish(self.settings.gate_dir, self.gate.snapshot())

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        self.local_only_needed.update(getattr(node, "workeroutput", {}).get(LOCAL_NEEDED, []))
        for nodeid in getattr(node, "workeroutput", {}).get(LEFT_OUT, []):
            step = step_of_nodeid(nodeid)
            if step:
                self.gate.leave_out(nodeid, step)

    # -- collection ------------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self._expected and session.items:      # without xdist; its controller collects nothing
            self._expected = True
            self._expect([item.nodeid for item in session.items])

    def _expect(self, nodeids) -> None:
        for nodeid in nodeids:
            step = step_of_nodeid(nodeid)
            if step:
                self.gate.expect(nodeid, step)
        self.phase_items = sum(len(s.tests) for s in self.gate.steps.values())

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            text = str(report.longrepr or "").strip().splitlines()
            self.collection_errors.append((report.nodeid, text[-1] if text else "collection failed"))

    # -- results ---------------------------------------------------------------------
    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        self.running[nodeid] = None

    def pytest_runtest_logfinish(self, nodeid: str, location) -> None:
        self.running.pop(nodeid, None)
        self.last_finished = nodeid

    def interrupted(self, exitstatus: int) -> str | None:
        """Where the run was interrupted, in words, or None when it was not."""
        if exitstatus != pytest.ExitCode.INTERRUPTED:
            return None
        how = interrupt.received() or "KeyboardInterrupt"
        if self.running:
            return f"{', '.join(self.running)} ({how})"
        if self.last_finished:
            return f"the test after {self.last_finished} ({how})"
        return f"start-up, before any test ran ({how})"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        step = step_of_nodeid(report.nodeid)
        if step is None:
            return
        before = {s: st.complete for s, st in self.gate.steps.items()}
        message = one_line(report) if (report.failed or report.skipped) else ""
        self.gate.record(report.nodeid, step, report.when, report.outcome, message, report.duration)
        props = self.results.setdefault(report.nodeid, [])
        for name, value in getattr(report, "user_properties", []) or []:
            if name in ("target", "target_error") and isinstance(value, dict):
                self.target.update(value)
            elif (name, value) not in props:
                props.append((name, value))
        if report.failed:
            self.failures += 1
        if "local_only" in getattr(report, "keywords", {}):
            key = evidence_key(report.nodeid)
            if report.when == "call" and report.passed:
                self.local_only_passed.add(key)
            elif report.failed or report.skipped:
                self.local_only_passed.discard(key)
        maxfail = self.config.getoption("maxfail", 0) or 0
        if maxfail and self.failures >= maxfail:
            # -x / --maxfail: tests that never run never finish their step; tell waiting workers to stop
            gatefile.publish(self.settings.gate_dir, self.gate.snapshot(),
                             aborted=f"stopping after {maxfail} failure(s)")
        elif any(st.complete and not before[s] for s, st in self.gate.steps.items()):
            gatefile.publish(self.settings.gate_dir, self.gate.snapshot())

    def note_target(self, values: dict) -> None:
        """The target fixture on this process says who it is (or why it could not start)."""
        self.target.update(values)

    # -- the end -----------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.phase_items and not any(step_of_nodeid(n) or "phases" in n for n, _ in self.collection_errors):
            return
        from harness.facts import run_facts
        from harness.report import build_report
        from harness.report_writer import write_report

        from harness import ledger

        report_dir = Path(self.config.getoption("--report-dir"))
        facts = run_facts(self, exitstatus, ledger.read(report_dir))
        self.report = build_report(facts)
        self.paths = write_report(self.report, report_dir)
        ledger.append(report_dir, {
            "finished": facts.finished, "verdict": self.report.verdict, "target": self.report.target_name,
            "rollout_step": facts.rollout_step, "steps": {s.id: s.status for s in facts.steps},
            "selection": {"markexpr": self.config.option.markexpr or "", "keyword": self.config.option.keyword or "",
                          "left_out": sum(len(s.left_out) for s in self.gate.steps.values())},
            "code": facts.code, "report": str(self.paths[0]), "local_only_passed": sorted(self.local_only_passed),
            "ratio_5b": ledger.ratio_5b(self.report.data)})
        if self.report.verdict != "GO" and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
