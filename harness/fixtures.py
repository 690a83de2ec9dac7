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

    name = getattr(request, "param", "local")
    tgt = open_target(name, request.config)
    try:
        _publish_identity(request.config, tgt.identity())
        yield tgt
    finally:
        tgt.close()


def _publish_identity(config: pytest.Config, identity: dict) -> None:
    from harness.plugin import gate_dir

    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    path = Path(gate_dir(config)) / f"target-{worker}.json"
    path.write_text(json.dumps(identity, default=str))


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
