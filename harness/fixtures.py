"""Fixtures the phase modules use: the target, the evidence recorder, the fixture manifest."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.evidence import Evidence


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest):
    """The deployed system under test, local or aws (parametrized by the plugin)."""
    from harness.targets import open_target

    from harness.targets.base import TargetError

    name = getattr(request, "param", "local")
    try:
        tgt = open_target(name, request.config)
    except TargetError as exc:
        _publish(request.config, "target-error", {"name": name, "target_error": str(exc)})
        if not hasattr(request.config, "workerinput"):
            pytest.exit(f"NO-GO: {name} target not validated: {exc}", returncode=1)
        raise
    try:
        _publish_identity(request.config, tgt.identity())
        yield tgt
    finally:
        tgt.close()


def _publish_identity(config: pytest.Config, identity: dict) -> None:
    _publish(config, "target", identity)


def _publish(config: pytest.Config, prefix: str, data: dict) -> None:
    """Side files reach the controller's report whichever worker wrote them."""
    from harness.plugin import gate_dir

    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    path = Path(gate_dir(config)) / f"{prefix}-{worker}.json"
    path.write_text(json.dumps(data, default=str))


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
    """Counts the rollout plan's warning signs in the function logs written during each phase test."""
    if "target" not in request.fixturenames:
        yield
        return
    from harness.warnings_scan import count_signs

    tgt = request.getfixturevalue("target")
    sigv2_before = len(tgt.sigv2_requests() or [])
    try:
        before = len(tgt.function_logs())
    except Exception:  # log access is best effort; the report says when logs were not scanned
        yield
        return
    yield
    sigv2 = (tgt.sigv2_requests() or [])[sigv2_before:]
    if sigv2:
        request.node.user_properties.append(("notices", {"sigv2": len(sigv2), "example": sigv2[0]}))
    try:
        lines = tgt.function_logs()[before:]
    except Exception:
        return
    counts = {k: v for k, v in count_signs(lines).items() if v}
    marker = request.node.get_closest_marker("injects")
    injected = set(marker.args) if marker else set()
    request.node.user_properties.append(("warnings", {k: v for k, v in counts.items() if k not in injected}))
    request.node.user_properties.append(("injected_warnings", {k: v for k, v in counts.items() if k in injected}))
