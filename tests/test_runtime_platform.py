"""The platform AWS runs, in the kernel sandbox: frozen between invocations, ulimits, the function's own
environment, OOM attribution, billing.

Each test goes through a real instance: for the freeze, a background thread and a child process
started by a handler tick into /tmp; between two invocations, 1.5 s apart, neither ticks.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.runtime import LambdaRuntime
from harness.runtime.testing import make_spec, write_package

APP = """
import os, subprocess, threading, time

def _tick(path):
    while True:
        with open(path, "a") as f:
            f.write("t\\n")
        time.sleep(0.05)

def _n(path):
    try:
        return sum(1 for _ in open(path))
    except FileNotFoundError:
        return 0

def handler(event, context):
    if event.get("start"):
        threading.Thread(target=_tick, args=("/tmp/thread",), daemon=True).start()
        subprocess.Popen(["/bin/sh", "-c", "while true; do echo c >> /tmp/child; sleep 0.05; done"])
    return {"thread": _n("/tmp/thread"), "child": _n("/tmp/child")}
"""


@pytest.fixture()
def code(tmp_path: Path) -> Path:
    d = tmp_path / "code"
    write_package(d, {"app.py": APP})
    return d


@pytest.fixture()
def rt(tmp_path: Path):
    runtime = LambdaRuntime(tmp_path / "rt", isolation="kernel")
    yield runtime
    runtime.close()


def test_a_warm_instance_is_frozen_between_invocations(rt, code) -> None:
    spec = make_spec(code, "app.handler", memory_mb=256, timeout_s=10)
    rt.invoke(spec, b'{"start": true}')
    first = json.loads(rt.invoke(spec, b"{}").payload)        # the same warm, frozen-between instance
    time.sleep(1.5)
    second = json.loads(rt.invoke(spec, b"{}").payload)
    # between the two counts the instance was frozen: only what ran during the invokes themselves ticked
    assert second["thread"] - first["thread"] <= 3, (first, second)
    assert second["child"] - first["child"] <= 3, (first, second)


def test_the_fidelity_table_says_the_kernel_freezes(rt) -> None:
    rows = {r["behaviour"]: r for r in rt.fidelity(("python3.11",))}
    assert rows["freeze between invocations"]["enforced"] == "kernel"


LIMITS = """
import os, resource, threading, time

def handler(event, context):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    opened = []
    try:
        while len(opened) < 5000:
            opened.append(os.open("/dev/null", os.O_RDONLY))
        leaked = None
    except OSError as e:
        leaked = e.errno
    finally:
        for fd in opened:
            os.close(fd)
    started, error = 0, None
    stop = threading.Event()
    try:
        for _ in range(2000):
            threading.Thread(target=stop.wait, daemon=True).start()
            started += 1
    except RuntimeError as e:
        error = str(e)
    stop.set()
    return {"nofile": [soft, hard], "fds": len(opened), "fd_errno": leaked, "threads": started,
            "thread_error": error}
"""


def test_the_sandbox_has_lambdas_ulimits(tmp_path: Path, rt) -> None:
    """nofile 1024 and at most 1024 processes/threads per instance: a handler leaking a file descriptor
    per invocation fails within a burst, as on AWS (here 20000 and 96367 were the host's)."""
    code = tmp_path / "limits"
    write_package(code, {"app.py": LIMITS})
    body = json.loads(rt.invoke(make_spec(code, "app.handler", memory_mb=512, timeout_s=20), b"{}").payload)
    assert body["nofile"] == [1024, 1024], body
    assert body["fd_errno"] == 24 and body["fds"] < 1024, body          # EMFILE
    assert body["threads"] < 1024 and body["thread_error"], body


def test_a_functions_own_unreserved_variables_are_kept_as_aws_keeps_them(rt, tmp_path: Path) -> None:
    code = tmp_path / "envcode"
    write_package(code, {"app.py": "import os\n\ndef handler(e, c):\n    return dict(os.environ)\n"})
    mine = {"TZ": "Europe/Paris", "LANG": "C.UTF-8", "PATH": "/opt/mytools:/usr/bin:/bin",
            "LD_LIBRARY_PATH": "/opt/mylib", "PYTHONPATH": "/opt/extra", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "AWS_REGION": "eu-west-1"}
    env = json.loads(rt.invoke(make_spec(code, "app.handler", env=mine), b"{}").payload)
    kept = {k: v for k, v in mine.items() if k not in ("AWS_REGION", "LD_LIBRARY_PATH")}
    assert {k: env[k] for k in kept} == kept
    assert env["LD_LIBRARY_PATH"].split(":")[0] == "/opt/mylib"    # first; /var/lang/lib after it for libpython
    assert env["AWS_REGION"] == "us-east-1"           # reserved: never from the function's configuration


def test_billed_duration_includes_init_as_aws_bills_it_since_august_2025() -> None:
    from harness.runtime.instance import billed_ms

    assert billed_ms(812.2, None) == 813
    assert billed_ms(812.2, 240.5) == 1053           # a cold start: duration + init, rounded up
    assert billed_ms(0.1, None) == 1


OOM = """
import subprocess, sys

def child(event, context):
    proc = subprocess.run([sys.executable, "-c", "b = bytearray(600 * 1024 * 1024)\\nfor i in range(0, len(b), 4096): b[i] = 1"])
    return {"child_exit": proc.returncode}

def itself(event, context):
    blob = bytearray(600 * 1024 * 1024)
    for i in range(0, len(blob), 4096):
        blob[i] = 1
    return len(blob)
"""


def test_an_oom_kill_of_a_child_is_the_childs_and_of_the_runtime_is_runtime_out_of_memory(rt, tmp_path) -> None:
    """As on AWS: when the kernel kills a child (ffmpeg) the handler sees its exit -9 and answers; only the
    runtime process's own death is Runtime.OutOfMemory. 256 MB, a size Lambda allows."""
    code = tmp_path / "oom"
    write_package(code, {"app.py": OOM})
    res = rt.invoke(make_spec(code, "app.child", memory_mb=256, timeout_s=20, name="child"), b"{}")
    assert res.function_error is None and json.loads(res.payload) == {"child_exit": -9}, res.payload
    dead = rt.invoke(make_spec(code, "app.itself", memory_mb=256, timeout_s=20, name="itself"), b"{}")
    assert json.loads(dead.payload)["errorType"] == "Runtime.OutOfMemory", dead.payload
