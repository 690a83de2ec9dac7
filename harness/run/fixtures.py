"""Fixtures the phase modules use: the target, the evidence recorder, the fixture manifest."""
from __future__ import annotations

import os

import pytest

from harness.plan.steps import step_of_nodeid
from harness.run.evidence import Evidence
from harness.run.record import record_of

LOG_TAIL_LINES = 12
_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    rep = yield
    if rep.when == "call":
        item.stash[_CALL_FAILED] = rep.failed
    return rep


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest):
    """The deployed system under test, local or aws (parametrized by the plugin)."""
    from harness.targets import open_target
    from harness.targets.base import TargetError

    name = getattr(request, "param", "local")
    try:
        tgt = open_target(name, request.config)
    except TargetError as exc:
        record = record_of(request.config)
        if record is not None:          # no xdist: this process writes the report, and is about to stop
            record.note_target({"name": name, "target_error": str(exc)})
            pytest.exit(f"NO-GO: {name} target not validated: {exc}", returncode=1)
        raise
    try:
        yield tgt
    finally:
        tgt.close()


TRAILING_OUTPUT = "rollout_trailing"     # xdist workeroutput key: [(step, {"warnings": ...} | {"unscanned": why})]


def _scan_trailing_lines(config: pytest.Config, tgt) -> None:
    """What the functions logged after this process's last phase test (an async retry, a late CloudWatch
    delivery) is scanned too, as signs of that last test's step: no line falls outside the scan."""
    from harness.judge.warnings_scan import count_signs

    step, upto = getattr(tgt, "last_step", None), getattr(tgt, "scanned_upto", None)
    if step is None:
        return
    entry: dict
    try:
        lines = tgt.function_logs()[upto:] if upto is not None else None
    except Exception as exc:
        entry = {"unscanned": f"after the last test: {type(exc).__name__}: {exc}"[:200]}
    else:
        if lines is None:
            entry = {"unscanned": "after the last test: the logs before it were not read"}
        else:
            injected = getattr(tgt, "scanned_injects", set())
            signs = {k: v for k, v in count_signs(lines).items() if v and k not in injected}
            if not signs:
                return
            entry = {"warnings": signs}
    record = record_of(config)
    if record is not None:                          # this process writes the report
        record.trailing.append((step, entry))
    elif hasattr(config, "workeroutput"):           # an xdist worker: the controller reads it at node down
        config.workeroutput.setdefault(TRAILING_OUTPUT, []).append((step, entry))


@pytest.fixture(autouse=True)
def _target_identity(request: pytest.FixtureRequest):
    """Each phase test's report carries who the target is (or why it failed), for the run record."""
    if "target" not in request.fixturenames:
        yield
        return
    from harness.targets.base import TargetError

    try:
        tgt = request.getfixturevalue("target")
    except TargetError as exc:
        name = getattr(getattr(request.node, "callspec", None), "params", {}).get("target", "local")
        request.node.user_properties.append(("target_error", {"name": name, "target_error": str(exc)}))
        raise
    if not getattr(tgt, "identity_reported", False):
        request.node.user_properties.append(("target", tgt.identity()))
        tgt.identity_reported = True
    yield


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """Records evidence for the report's four questions, attached to this test's report."""
    return Evidence(request.node.user_properties)


@pytest.fixture(scope="session")
def manifest(request: pytest.FixtureRequest):
    """The generated fixture videos and their expected outcomes (generated on first use)."""
    from fixtures.videos import ensure_fixtures

    return ensure_fixtures(large=request.config.getoption("--large"))


def pytest_report_header(config: pytest.Config) -> str:
    return f"rollout harness: report dir {config.getoption('--report-dir')}, pid {os.getpid()}"


@pytest.fixture(autouse=True)
def _early_warning_signs(request: pytest.FixtureRequest):
    """Counts the rollout plan's warning signs in the function logs written during each phase test.

    Nothing falls between two tests: the lines logged after one test's teardown and before the
    next test's setup (late CloudWatch delivery, an async retry) are scanned with the next test,
    as signs of the earlier test (its `injects` marker says which of them were on purpose)."""
    if "target" not in request.fixturenames:
        yield
        return
    from harness.judge.warnings_scan import count_signs

    tgt = request.getfixturevalue("target")
    if not getattr(tgt, "trailing_scan_registered", False):
        # on the session, after the target was set up: it runs at session teardown, before the target's own
        tgt.trailing_scan_registered = True
        request.session.addfinalizer(lambda: _scan_trailing_lines(request.config, tgt))
    sigv2_before = len(tgt.sigv2_requests() or [])
    try:
        logs = tgt.function_logs()
    except Exception as exc:  # the report says which logs were not scanned, and that is NO-GO
        request.node.user_properties.append(("warnings_unscanned", f"{type(exc).__name__}: {exc}"[:200]))
        tgt.scanned_upto = None
        yield
        return
    before = len(logs)
    upto, earlier_injected = getattr(tgt, "scanned_upto", None), getattr(tgt, "scanned_injects", set())
    if upto is not None and before > upto:
        _count(request, count_signs(logs[upto:before]), earlier_injected)
    yield
    sigv2 = (tgt.sigv2_requests() or [])[sigv2_before:]
    if sigv2:
        request.node.user_properties.append(("notices", {"sigv2": len(sigv2), "example": sigv2[0]}))
    marker = request.node.get_closest_marker("injects")
    injected = set(marker.args) if marker else set()
    try:
        all_lines = tgt.function_logs()
    except Exception as exc:
        request.node.user_properties.append(("warnings_unscanned", f"{type(exc).__name__}: {exc}"[:200]))
        tgt.scanned_upto = None
        return
    lines = all_lines[before:]
    tgt.scanned_upto, tgt.scanned_injects = len(all_lines), injected
    tgt.last_step = step_of_nodeid(request.node.nodeid)
    if request.node.stash.get(_CALL_FAILED, False) and lines:
        # a NO-GO carries the function's own words: the last lines it logged during this test
        request.node.user_properties.append(("log_tail", [line[:400] for line in lines[-LOG_TAIL_LINES:]]))
    _count(request, count_signs(lines), injected)


def _count(request: pytest.FixtureRequest, signs: dict, injected: set) -> None:
    counts = {k: v for k, v in signs.items() if v}
    request.node.user_properties.append(("warnings", {k: v for k, v in counts.items() if k not in injected}))
    request.node.user_properties.append(("injected_warnings", {k: v for k, v in counts.items() if k in injected}))
