"""Each function runs on a CPython of its declared runtime's version, found in documented places, or not at all."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.runtime import interpreters

HOST = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER = "3.13" if HOST != "3.13" else "3.12"


def test_overrides_parse_runtime_equals_path_and_refuse_anything_else() -> None:
    assert interpreters.parse_overrides(["python3.13=/a/python3.13,python3.12=/b"]) == {
        "python3.13": "/a/python3.13", "python3.12": "/b"}
    with pytest.raises(ValueError, match="'python3.13'.*RUNTIME=PATH"):
        interpreters.parse_overrides(["python3.13"])
    with pytest.raises(interpreters.InterpreterMissing, match="'node20'"):
        interpreters.parse_overrides(["node20=/usr/bin/node"])


def _exe(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def test_candidates_come_in_the_documented_order(tmp_path: Path) -> None:
    on_path = _exe(tmp_path / "bin" / "python3.13")
    pyenv = _exe(tmp_path / "pyenv" / "versions" / "3.13.1" / "bin" / "python3.13")
    _exe(tmp_path / "pyenv" / "versions" / "3.13.1t" / "bin" / "python3.13")      # free-threaded: not CPython's ABI
    uv = _exe(tmp_path / "uv" / "cpython-3.13.2-linux-x86_64-gnu" / "bin" / "python3.13")
    (tmp_path / "prov" / "python3.13").mkdir(parents=True)
    (tmp_path / "prov" / "python3.13" / "interpreter.json").write_text("{}")
    found = interpreters.candidates("python3.13", overrides={"python3.13": "/x/python"}, path_env=str(tmp_path / "bin"),
                                    pyenv_root=str(tmp_path / "pyenv"), uv_dir=str(tmp_path / "uv"),
                                    provisioned=tmp_path / "prov")
    assert [s for s, _ in found] == ["--python-for", "provisioned", "PATH", "pyenv", "uv"]
    assert [p for _, p in found][2:] == [on_path, pyenv, uv]


def test_an_override_of_the_wrong_version_is_refused_naming_both_versions() -> None:
    with pytest.raises(interpreters.InterpreterMissing) as err:
        interpreters.find(f"python{OTHER}", {f"python{OTHER}": sys.executable})
    assert f"--python-for python{OTHER}={sys.executable}" in str(err.value)
    assert f"is Python {HOST}" in str(err.value) and f"not {OTHER}" in str(err.value)


def test_no_interpreter_anywhere_is_one_line_naming_the_runtime_the_places_and_the_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(interpreters, "PROVISIONED", tmp_path)
    with pytest.raises(interpreters.InterpreterMissing) as err:
        interpreters.find("python3.9", {})
    line = str(err.value)
    assert "\n" not in line and line.startswith("runtime python3.9: no CPython 3.9 on this machine")
    assert interpreters.WHERE in line and "provision-python python3.9" in line and "--python-for python3.9=" in line


def test_the_host_interpreter_is_found_and_answers_its_own_version() -> None:
    found = interpreters.find(f"python{HOST}", {f"python{HOST}": sys.executable})
    assert found.minor == HOST and found.prefix == sys.base_prefix and found.source == "--python-for"


def test_a_run_whose_interpreter_is_another_version_is_no_go_at_1a_and_never_runs_on_it(tmp_path: Path) -> None:
    """--python-for pointing at the host's Python for the declared runtime: never run on it, one line why."""
    import json
    import subprocess

    if HOST == "3.13":
        pytest.skip("the host runs 3.13: no other version to plant")
    repo = Path(__file__).resolve().parents[1]
    reports = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_STEP_SUMMARY"))}
    proc = subprocess.run([sys.executable, "-m", "pytest", "phases/", "-m", "local", "-q", "-p", "no:cacheprovider",
                           "--phase", "1A", "--report-dir", str(reports), "--python-for",
                           f"python3.13={sys.executable}"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600)
    data = json.loads((reports / "latest.json").read_text())
    assert proc.returncode != 0 and data["verdict"] == "NO-GO", proc.stdout[-2000:]
    line = next(f for f in data["failures"] if "test_invoking_the_test_function_returns_hello" in f)
    assert "Sandbox.SetupFailed" in line and f"is Python {HOST}" in line and "not 3.13" in line, line


def test_provision_python_unpacks_debians_cpython_and_a_function_runs_on_it(tmp_path: Path, monkeypatch) -> None:
    """The fallback for a machine with no 3.13: Debian 13's CPython and glibc, apt with a private state."""
    import dataclasses

    from harness.runtime import awsruntime, provision
    from harness.runtime.runtime import LambdaRuntime
    from harness.runtime.testing import make_spec

    meta = provision.provision("python3.13", dest=tmp_path / "python", say=lambda _line: None)
    monkeypatch.setattr(interpreters, "PROVISIONED", tmp_path / "python")
    found = interpreters.find("python3.13", {})
    assert found.source == "provisioned" and found.minor == "3.13" and found.root == str(meta.parent / "root")
    env = awsruntime.ensure_runtime_env("python3.13", base=tmp_path / "rt", interpreter=found)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text(
        "import platform, shutil, ssl\n"
        "def handler(event, context):\n"
        "    return [platform.python_version(), platform.libc_ver()[1], shutil.which('curl'), ssl.OPENSSL_VERSION]\n")
    spec = dataclasses.replace(make_spec(tmp_path / "code"), runtime="python3.13")
    with LambdaRuntime(tmp_path / "work", isolation="kernel") as rt:
        rt._runtime_envs["python3.13"] = env
        result = rt.invoke(spec, b"{}")
    version, libc, curl, openssl = __import__("json").loads(result.payload)
    assert version.startswith("3.13.") and version == found.version, result.payload
    assert libc != __import__("platform").libc_ver()[1], "ran on the host's glibc, not the provisioned root's"
    assert curl is None and openssl.startswith("OpenSSL 3."), result.payload
