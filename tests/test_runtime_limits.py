"""Contract tests: timeout, memory and ephemeral-storage limits are enforced like AWS."""
from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import psutil
import pytest

from harness.runtime import LambdaRuntime
from harness.runtime.testing import make_spec, write_package

APP = """
import os, subprocess, time

def sleepy(event, context):
    subprocess.Popen(["sleep", event["marker"]])
    time.sleep(30)
    return "never"

def hog(event, context):
    blob = "x" * (event["mb"] * 1024 * 1024)   # touched pages: real RSS
    time.sleep(event.get("hold", 0))
    return len(blob)

def fill_tmp(event, context):
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "fill.bin")
    chunk = b"\\0" * (1024 * 1024)
    with open(path, "wb") as f:
        for _ in range(event["mb"]):
            f.write(chunk)
            f.flush()
            time.sleep(event.get("pace", 0))
    return os.path.getsize(path)

def tmp_size(event, context):
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "fill.bin")
    return os.path.getsize(path) if os.path.exists(path) else -1
"""


@pytest.fixture()
def code(tmp_path: Path) -> Path:
    d = tmp_path / "code"
    write_package(d, {"app.py": APP})
    return d


@pytest.fixture()
def rt(tmp_path: Path):
    runtime = LambdaRuntime(tmp_path / "rt")
    yield runtime
    runtime.close()


def _sleepers(marker: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        if p.info["cmdline"] == ["sleep", marker] and p.status() != psutil.STATUS_ZOMBIE:
            out.append(p)
    return out


def test_timeout_kills_tree_and_reports_like_aws(rt: LambdaRuntime, code: Path) -> None:
    marker = f"61.{time.time_ns() % 10**6}"      # a process only this test starts
    t0 = time.monotonic()
    res = rt.invoke(make_spec(code, "app.sleepy", timeout_s=1), json.dumps({"marker": marker}).encode(),
                    log_type="Tail")
    elapsed = time.monotonic() - t0
    assert 1.0 <= elapsed < 3.0
    assert res.function_error == "Unhandled"
    assert json.loads(res.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {res.request_id} Error: Task timed out after 1.00 seconds"}
    deadline = time.monotonic() + 3
    while _sleepers(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _sleepers(marker), "the handler's child process outlived the timeout"
    tail = base64.b64decode(res.log_tail).decode()
    assert re.search(rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {res.request_id} Task timed out after 1.00 seconds$",
                     tail, re.MULTILINE)
    assert "Status: timeout" in tail
    rec = rt.records()[-1]
    assert rec.outcome == "timeout" and rec.error_type == "Sandbox.Timedout"
    # the killed instance is discarded: the next call gets a fresh process
    res2 = rt.invoke(make_spec(code, "app.tmp_size", timeout_s=1), b"{}")
    assert res2.function_error is None and rt.records()[-1].pid != rec.pid


@pytest.mark.parametrize("hold", [1.0, 0.0], ids=["held", "transient"])
def test_memory_over_limit_is_oom(rt: LambdaRuntime, code: Path, hold: float) -> None:
    res = rt.invoke(make_spec(code, "app.hog", memory_mb=128, timeout_s=10),
                    json.dumps({"mb": 300, "hold": hold}).encode(), log_type="Tail")
    assert res.function_error == "Unhandled"
    assert json.loads(res.payload) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {res.request_id} Error: Runtime exited with error: signal: killed"}
    rec = rt.records()[-1]
    assert rec.outcome == "oom" and rec.max_memory_mb >= 128
    assert f"Max Memory Used: {rec.max_memory_mb} MB" in base64.b64decode(res.log_tail).decode()


def test_memory_under_limit_is_fine(rt: LambdaRuntime, code: Path) -> None:
    res = rt.invoke(make_spec(code, "app.hog", memory_mb=256, timeout_s=10), b'{"mb": 50}')
    assert res.function_error is None and json.loads(res.payload) == 50 * 1024 * 1024
    assert 50 < rt.records()[-1].max_memory_mb < 256


def test_ephemeral_storage_limit(rt: LambdaRuntime, code: Path) -> None:
    spec = make_spec(code, "app.fill_tmp", ephemeral_mb=16, timeout_s=10)
    res = rt.invoke(spec, b'{"mb": 40}')
    assert res.function_error == "Unhandled"
    body = json.loads(res.payload)
    rec = rt.records()[-1]
    assert rec.outcome == "storage"
    if rt.storage_mode in ("ext4", "tmpfs"):   # a real ENOSPC, as on AWS
        assert body["errorType"] == "OSError" and "No space left on device" in body["errorMessage"]
        assert rec.max_tmp_bytes >= 14 * 1024 * 1024
    else:
        assert body["errorType"] == "Runtime.EphemeralStorageExceeded"
    # within the limit works, and /tmp is private per instance and survives warm invokes
    ok = rt.invoke(make_spec(code, "app.fill_tmp", ephemeral_mb=16, timeout_s=10, name="fn2"), b'{"mb": 4}')
    assert json.loads(ok.payload) == 4 * 1024 * 1024
    size = rt.invoke(make_spec(code, "app.tmp_size", ephemeral_mb=16, timeout_s=10, name="fn2"), b"{}")
    assert json.loads(size.payload) == -1   # handler change -> new instance -> empty /tmp


def test_ephemeral_storage_poll_mode(tmp_path: Path, code: Path) -> None:
    with LambdaRuntime(tmp_path / "poll", storage="poll", poll_interval=0.02) as runtime:
        assert runtime.storage_mode == "poll"
        res = runtime.invoke(make_spec(code, "app.fill_tmp", ephemeral_mb=16, timeout_s=10),
                             b'{"mb": 64, "pace": 0.01}')
        body = json.loads(res.payload)
        assert res.function_error == "Unhandled"
        assert body["errorType"] == "Runtime.EphemeralStorageExceeded"
        assert body["errorMessage"].startswith(f"RequestId: {res.request_id} Error:")
        rec = runtime.records()[-1]
        assert rec.outcome == "storage" and rec.max_tmp_bytes > 16 * 1024 * 1024


def test_storage_mode_is_reported(rt: LambdaRuntime) -> None:
    assert rt.storage_mode in ("ext4", "tmpfs", "poll")


def test_tmp_is_a_disk_so_400_mb_of_it_fits_beside_512_mb_of_memory(rt: LambdaRuntime, code: Path) -> None:
    """AWS never charges /tmp to MemorySize; a tmpfs here did, and OOM-killed this correct function."""
    assert rt.storage_mode == "ext4", f"storage mode {rt.storage_mode}: no loop-mounted ext4 /tmp on this host"
    spec = make_spec(code, "app.fill_tmp", memory_mb=512, ephemeral_mb=512, timeout_s=60, name="disk")
    res = rt.invoke(spec, b'{"mb": 400}')
    assert res.function_error is None, res.payload
    assert json.loads(res.payload) == 400 * 1024 * 1024
    assert rt.records()[-1].max_tmp_bytes >= 400 * 1024 * 1024
