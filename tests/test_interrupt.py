"""Ctrl-C or SIGTERM mid-run: the report says "run interrupted at <test>", blames no step, and the run
leaves no process and no mount behind. Driven as a user would: a pytest subprocess and a signal."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]

SLOW_PHASES = '''
import subprocess, sys, time
import pytest

@pytest.fixture(scope="session")
def service():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    yield proc
    proc.terminate()
    proc.wait(10)

def test_started(service):
    print("STARTED", flush=True)

def test_slow(service):
    open("started.flag", "w").close()
    time.sleep(120)
'''


def _run_until(cmd: list[str], cwd: Path, ready, env: dict, sig: int, *, group: bool, timeout: float = 240):
    log = Path(env["TMPDIR"]).parent / "pytest.out"
    out = open(log, "w")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, f"the run ended before the signal:\n{log.read_text()[-3000:]}"
    assert ready(), f"the run never got going:\n{log.read_text()[-3000:]}"
    (os.killpg if group else os.kill)(proc.pid, sig)
    rc = proc.wait(timeout=120)
    return rc, log.read_text()


def _leftovers(marker: str) -> list[str]:
    found = []
    for p in psutil.process_iter(["pid", "cmdline", "environ"]):
        try:
            text = " ".join(p.info["cmdline"] or []) + " " + " ".join(f"{k}={v}" for k, v in (p.info["environ"] or {}).items())
        except (psutil.Error, TypeError):
            continue
        if marker in text and p.pid != os.getpid():
            found.append(f"{p.pid} {' '.join(p.info['cmdline'] or [])[:120]}")
    return found


def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update({"PYTHONPATH": str(REPO), "TMPDIR": str(tmp)})
    return env


@pytest.mark.parametrize("sig, xdist", [(signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGINT, True)],
                         ids=["sigterm-n0", "sigterm-n2", "sigint-n2"])
def test_a_signal_mid_test_writes_an_interrupted_report_and_stops_what_the_run_started(tmp_path, sig, xdist) -> None:
    project = tmp_path / "project"
    (project / "phases").mkdir(parents=True)
    (project / "conftest.py").write_text('pytest_plugins = ["harness.run.plugin", "harness.run.fixtures"]\n')
    (project / "tox.ini").write_text("[pytest]\n")
    (project / "phases" / "test_1a_step.py").write_text(SLOW_PHASES)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cmd = [sys.executable, "-m", "pytest", "phases", "-p", "no:cacheprovider", "--phase", "1A", "-s"]
    if xdist:
        cmd += ["-p", "xdist", "-n", "2"]
    # SIGTERM goes to the main process only (what `kill` and CI timeouts do); SIGINT to the group (Ctrl-C)
    rc, out = _run_until(cmd, project, lambda: (project / "started.flag").exists(), _env(tmp), sig,
                         group=sig == signal.SIGINT)
    data = json.loads((project / "reports" / "latest.json").read_text())
    assert rc == pytest.ExitCode.INTERRUPTED, out[-2000:]
    assert data["verdict"] == "NO-GO"
    assert "run interrupted at phases/test_1a_step.py::test_slow" in data["headline"], data["headline"]
    assert signal.Signals(sig).name in data["headline"]
    assert data["interrupted"] and not data["failures"], data
    time.sleep(0.5)
    assert _leftovers(str(tmp)) == [], "processes the run started are still running"


def test_sigterm_to_a_real_local_run_leaves_no_process_and_no_mount(tmp_path) -> None:
    """The embedded stack (moto, gateway, Lambda sandboxes, redis, Celery, uvicorn) on two xdist workers,
    stopped by SIGTERM to the pytest process once step 1A has started invoking functions."""
    tmp = Path(tempfile.mkdtemp(prefix="intr-", dir=tmp_path))
    reports = tmp_path / "reports"
    cmd = [sys.executable, "-m", "pytest", "phases/", "-m", "local", "--phase", "2", "-n", "2", "-p",
           "no:cacheprovider", "--report-dir", str(reports)]

    def sandboxes_running() -> bool:   # as root (CI): functions run in sandboxes whose plans live under tmp
        return any("sandbox_init" in " ".join(p) for p in _cmdlines(str(tmp)))

    rc, out = _run_until(cmd, REPO, sandboxes_running, _env(tmp), signal.SIGTERM, group=False)
    data = json.loads((reports / "latest.json").read_text())
    assert rc == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert "run interrupted at" in data["headline"] and "SIGTERM" in data["headline"], data["headline"]
    time.sleep(1)
    assert _leftovers(str(tmp)) == [], "processes the run started are still running"
    mounts = [line for line in Path("/proc/mounts").read_text().splitlines() if str(tmp) in line]
    assert mounts == [], f"mounts the run left behind: {mounts}"


def _cmdlines(marker: str) -> list[list[str]]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmdline = p.info["cmdline"] or []
        if marker in " ".join(cmdline):
            out.append(cmdline)
    return out
