"""A tiny phases/ project for pytester: the real harness plugin, fake phase modules, its report read back."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def make_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, conftest_extra: str = "") -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["harness.run.plugin"]\n' + conftest_extra)
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    (pytester.path / "phases").mkdir()
    return pytester


def write_phases(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    for name, body in files.items():
        (pytester.path / "phases" / name).write_text(body)


def latest(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "latest.json").read_text())
