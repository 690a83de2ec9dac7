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

from harness.plan import inventory
from harness.plan.inventory import evidence_key
from harness.plan.steps import step_of_nodeid
from harness.run import gatefile, interrupt
from harness.run.gate import Gate
from harness.run.selection import collect_inventory, run_target

PLUGIN_NAME = "rollout-record"
SETTINGS = pytest.StashKey["RunSettings"]()


@dataclass
class RunSettings:
    selected: tuple[str, ...]
    last: str | None
    gate_dir: Path
    started: float
    container_problem: str | None = None

    @classmethod
    def for_controller(cls, selected, last, container_problem) -> RunSettings:
        return cls(selected, last, Path(tempfile.mkdtemp(prefix="rollout-gate-")), time.time(), container_problem)

    @classmethod
    def for_worker(cls, selected, last, workerinput: dict, container_problem) -> RunSettings:
        return cls(selected, last, Path(workerinput["rollout_gate_dir"]), workerinput["rollout_started"],
                   container_problem)


def settings(config: pytest.Config) -> RunSettings:
    return config.stash[SETTINGS]


def record_of(config: pytest.Config) -> RunRecord | None:
    """The run record where it lives (the controller, or a run without xdist); None on workers."""
    return config.pluginmanager.get_plugin(PLUGIN_NAME)


def one_line(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.strip().splitlines()[0] if crash.message.strip() else "failed"
    text = str(report.longrepr or "").strip()
    return text.splitlines()[-1] if text else ""


@dataclass(eq=False)      # a plugin: pluggy hashes it, so identity, not value, equality
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
    session: pytest.Session | None = None
    large_unproven: list = field(default_factory=list)    # --large tests of the selected steps a run without it left
    trailing: list = field(default_factory=list)          # [(step, entry)]: logs after a process's last test
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
        self.trailing += [tuple(x) for x in getattr(node, "workeroutput", {}).get("rollout_trailing", [])]

    # -- collection ------------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self._expected and session.items:      # without xdist; its controller collects nothing
            self._expected = True
            self._expect([item.nodeid for item in session.items])

    def _expect(self, nodeids) -> None:
        """The collected phase tests, and against the step inventory what of the selected steps was not."""
        nodeids = list(nodeids)
        for nodeid in nodeids:
            step = step_of_nodeid(nodeid)
            if step:
                self.gate.expect(nodeid, step)
        self.phase_items = sum(len(s.tests) for s in self.gate.steps.values())
        if self.config.option.collectonly or self.session is None or not self.aims_at_phases():
            return
        entries, errors = collect_inventory(self.session)
        self.collection_errors += errors
        selected, large = self.settings.selected, bool(self.config.getoption("--large"))
        target = run_target(self.config)
        for key, step in inventory.left_out(entries, nodeids, selected, target, large):
            self.gate.leave_out(key, step)
        if target == "aws":
            self.local_only_needed = set(inventory.local_evidence_needed(entries, selected, large))
        self.large_unproven = inventory.large_not_checked(entries, selected, large)

    def aims_at_phases(self) -> bool:
        """Whether this run validates rollout steps: a path it was given is phases/, inside it or above it."""
        root = Path(self.config.rootpath)
        phases = (root / "phases").resolve()
        if not phases.is_dir():
            return False
        for arg in self.config.args or []:
            path = Path(self.config.invocation_params.dir, arg.split("::", 1)[0]).resolve()
            if path == phases or phases in path.parents or path in phases.parents:
                return True
        return False

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
        if self.config.option.collectonly:
            return          # collecting proves nothing: no report, no ledger line
        if not self.phase_items and not self.aims_at_phases() \
                and not any(step_of_nodeid(n) or "phases" in n for n, _ in self.collection_errors):
            return
        from harness.run.facts import run_facts
        from harness.tell import ledger
        from harness.tell.report import build_report
        from harness.tell.report_writer import write_report

        report_dir = Path(self.config.getoption("--report-dir"))
        facts = run_facts(self, exitstatus, ledger.read(report_dir))
        self.report = build_report(facts)
        self.paths = write_report(self.report, report_dir)
        ledger.append(report_dir, {
            "finished": facts.finished, "verdict": self.report.verdict,
            "target": "aws (emulated)" if facts.target.get("emulated") else facts.target.get("name", "local"),
            "emulated": facts.target.get("emulated"), "weakened": self.report.data["weakened"], "args": facts.args,
            "rules": facts.rules, "plugins": facts.plugins,
            "rollout_step": facts.rollout_step, "steps": {s.id: s.status for s in facts.steps},
            "selection": {"markexpr": self.config.option.markexpr or "", "keyword": self.config.option.keyword or "",
                          "left_out": sum(len(s.left_out) for s in self.gate.steps.values())},
            "code": facts.code, "report": str(self.paths[0]), "local_only_passed": sorted(self.local_only_passed),
            "ratio_5b": ledger.ratio_5b(self.report.data),
            "ratio_5b_ci95": ledger.ratio_5b_interval(self.report.data)})
        if self.report.verdict != "GO" and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
