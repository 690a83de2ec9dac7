"""Contract tests: synchronous invokes through real awslambdaric processes."""
from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from harness.runtime import LambdaRuntime
from harness.runtime.testing import make_spec, write_package

APP = """
import os, sys, time, uuid

INSTANCE = uuid.uuid4().hex   # one per execution environment

def handler(event, context):
    print("hello log line")
    return {"hello": event.get("name", "world"), "instance": INSTANCE, "request_id": context.aws_request_id,
            "function_name": context.function_name, "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis()}

def fail(event, context):
    raise ValueError("something broke")

def env(event, context):
    return {k: os.environ.get(k) for k in event["keys"]} | {"sys_path": sys.path, "cwd": os.getcwd()}

def remaining(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.3)
    return [first, context.get_remaining_time_in_millis()]

def crash(event, context):
    os._exit(3)

def call_home(event, context):
    import socket
    with socket.create_connection(("127.0.0.1", event["port"])) as conn:
        conn.sendall(b"PUT /segment_000 HTTP/1.1\\r\\n\\r\\n")
        return conn.recv(100).decode()   # the crash arrives while it waits for the answer

def huge(event, context):
    return "x" * (7 * 1024 * 1024)

def no_newline(event, context):
    sys.stdout.write("partial line")
    return None

def big_log(event, context):
    for i in range(400):
        print(f"line {i:04d} " + "x" * 40)
    return "ok"
"""


@pytest.fixture()
def rt(tmp_path: Path):
    runtime = LambdaRuntime(tmp_path / "rt", extra_env={"AWS_ACCESS_KEY_ID": "testing",
                                                        "AWS_SECRET_ACCESS_KEY": "testing"})
    yield runtime
    runtime.close()


@pytest.fixture()
def code(tmp_path: Path) -> Path:
    d = tmp_path / "code"
    write_package(d, {"app.py": APP})
    return d


def test_hello_payload(rt: LambdaRuntime, code: Path) -> None:
    res = rt.invoke(make_spec(code, memory_mb=256), json.dumps({"name": "lambda"}).encode(), request_id="rid-1")
    assert res.status_code == 200 and res.function_error is None and res.log_tail is None
    body = json.loads(res.payload)
    assert body["hello"] == "lambda"
    assert body["request_id"] == res.request_id == "rid-1"
    assert body["function_name"] == "fn" and body["memory"] == "256"
    [rec] = rt.records("fn")
    assert rec.outcome == "success" and rec.attempt == 1 and rec.init_duration_ms is not None


def test_unhandled_exception_has_aws_error_shape(rt: LambdaRuntime, code: Path) -> None:
    res = rt.invoke(make_spec(code, "app.fail"), b"{}")
    assert res.status_code == 200 and res.function_error == "Unhandled"
    body = json.loads(res.payload)
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "something broke"
    assert body["requestId"] == res.request_id
    assert any("raise ValueError" in frame for frame in body["stackTrace"])
    assert rt.records()[-1].outcome == "error" and rt.records()[-1].error_type == "ValueError"


@pytest.mark.parametrize("handler, etype, needle", [
    ("missing_module.handler", "Runtime.ImportModuleError", "missing_module"),
    ("app.not_there", "Runtime.HandlerNotFound", "not_there"),
])
def test_missing_handler_is_a_clear_error(rt: LambdaRuntime, code: Path, handler: str, etype: str,
                                          needle: str) -> None:
    res = rt.invoke(make_spec(code, handler), b"{}", log_type="Tail")
    assert res.function_error == "Unhandled"
    body = json.loads(res.payload)
    assert body["errorType"] == etype and needle in body["errorMessage"]
    assert etype in base64.b64decode(res.log_tail).decode()
    # the broken instance is discarded; a second call fails the same way, without hanging
    assert json.loads(rt.invoke(make_spec(code, handler), b"{}").payload)["errorType"] == etype


def test_remaining_time_follows_deadline(rt: LambdaRuntime, code: Path) -> None:
    first, later = json.loads(rt.invoke(make_spec(code, "app.remaining", timeout_s=5), b"{}").payload)
    assert 4000 < first <= 5000
    assert 200 <= first - later <= 1000


def test_warm_reuse_same_pid_and_faster(rt: LambdaRuntime, code: Path) -> None:
    spec = make_spec(code)
    t0 = time.perf_counter()
    a = json.loads(rt.invoke(spec, b"{}").payload)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = json.loads(rt.invoke(spec, b"{}").payload)
    warm = time.perf_counter() - t0
    assert a["instance"] == b["instance"]
    assert warm < cold
    recs = rt.records("fn")
    assert recs[0].init_duration_ms is not None and recs[1].init_duration_ms is None


def test_config_change_or_cold_mode_gets_new_instance(tmp_path: Path, rt: LambdaRuntime, code: Path) -> None:
    a = json.loads(rt.invoke(make_spec(code), b"{}").payload)["instance"]
    b = json.loads(rt.invoke(make_spec(code, memory_mb=256), b"{}").payload)["instance"]
    c = json.loads(rt.invoke(make_spec(code, memory_mb=256, code_sha256="v2"), b"{}").payload)["instance"]
    assert len({a, b, c}) == 3
    with LambdaRuntime(tmp_path / "cold", warm=False) as cold_rt:
        p1 = json.loads(cold_rt.invoke(make_spec(code), b"{}").payload)["instance"]
        p2 = json.loads(cold_rt.invoke(make_spec(code), b"{}").payload)["instance"]
    assert p1 != p2


def test_tail_logs_have_start_end_report(rt: LambdaRuntime, code: Path) -> None:
    res = rt.invoke(make_spec(code), b"{}", log_type="Tail")
    text = base64.b64decode(res.log_tail).decode()
    rid = res.request_id
    assert f"START RequestId: {rid} Version: $LATEST" in text
    assert "hello log line" in text
    assert f"END RequestId: {rid}" in text
    report = next(line for line in text.splitlines() if line.startswith("REPORT"))
    for field in (f"RequestId: {rid}", "Duration: ", "Billed Duration: ", "Memory Size: 128 MB",
                  "Max Memory Used: ", "Init Duration: "):
        assert field in report
    assert text.index("START") < text.index("hello log line") < text.index("END") < text.index("REPORT")
    logs = rt.logs("fn")
    assert any(line.startswith(f"REPORT RequestId: {rid}") for line in logs)


def test_tail_is_last_4kb(rt: LambdaRuntime, code: Path) -> None:
    res = rt.invoke(make_spec(code, "app.big_log"), b"{}", log_type="Tail")
    raw = base64.b64decode(res.log_tail)
    assert len(raw) == 4096
    assert raw.decode().rstrip("\n").splitlines()[-1].startswith("REPORT")
    assert "line 0399" in raw.decode() and "line 0000" not in raw.decode()


def test_fallback_environment_matches_lambda(tmp_path: Path, code: Path) -> None:
    """Without kernel isolation (reduced fidelity) the environment is still AWS's, plus the fallback's paths."""
    rt = LambdaRuntime(tmp_path / "plain", isolation="none", extra_env={"AWS_ACCESS_KEY_ID": "testing"})
    request_close = rt.close
    opt = tmp_path / "opt"
    write_package(opt / "python", {"layer_mod.py": "X = 1\n"})
    (opt / "bin").mkdir()
    keys = ["LAMBDA_TASK_ROOT", "_HANDLER", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
            "AWS_EXECUTION_ENV", "PATH", "TMPDIR", "FFMPEG_PATH", "MY_VAR", "AWS_ACCESS_KEY_ID",
            "AWS_LAMBDA_RUNTIME_API"]
    spec = make_spec(code, "app.env", env={"MY_VAR": "v", "AWS_REGION": "eu-west-1"}, opt_dir=opt)
    env = json.loads(rt.invoke(spec, json.dumps({"keys": keys}).encode()).payload)
    assert env["LAMBDA_TASK_ROOT"] == str(code.resolve()) == env["cwd"]
    assert env["_HANDLER"] == "app.env"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"  # reserved: function env can't override
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["PATH"].split(":")[0] == str(opt.resolve() / "bin")
    assert env["FFMPEG_PATH"] == str(opt.resolve() / "bin" / "ffmpeg")
    assert env["MY_VAR"] == "v" and env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert Path(env["TMPDIR"]).is_dir() and str(tmp_path / "plain") in env["TMPDIR"]
    assert str(opt.resolve() / "python") in env["sys_path"]
    # the function's own FFMPEG_PATH wins
    spec2 = make_spec(code, "app.env", env={"FFMPEG_PATH": "/custom/ffmpeg"}, opt_dir=opt)
    assert json.loads(rt.invoke(spec2, b'{"keys": ["FFMPEG_PATH"]}').payload)["FFMPEG_PATH"] == "/custom/ffmpeg"
    request_close()


def test_close_is_idempotent_and_kills_instances(tmp_path: Path, code: Path) -> None:
    import psutil
    runtime = LambdaRuntime(tmp_path / "rt2")
    runtime.invoke(make_spec(code), b"{}")
    pid = runtime.records()[-1].pid    # the instance's process on the host
    assert psutil.pid_exists(pid)
    runtime.close()
    runtime.close()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(RuntimeError):
        runtime.invoke(make_spec(code), b"{}")


def test_runtime_exit_is_reported_and_instance_replaced(rt: LambdaRuntime, code: Path) -> None:
    res = rt.invoke(make_spec(code, "app.crash"), b"{}")
    assert res.function_error == "Unhandled"
    assert json.loads(res.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {res.request_id} Error: Runtime exited with error: exit status 3"}
    again = rt.invoke(make_spec(code, "app.crash"), b"{}")
    assert rt.records()[0].pid != rt.records()[1].pid and again.function_error == "Unhandled"


def test_sync_response_over_6mb_is_an_error(rt: LambdaRuntime, code: Path) -> None:
    res = rt.invoke(make_spec(code, "app.huge"), b"{}")
    assert res.function_error == "Unhandled"
    assert json.loads(res.payload)["errorType"] == "Function.ResponseSizeTooLarge"


def test_output_without_newline_is_logged(rt: LambdaRuntime, code: Path) -> None:
    res = rt.invoke(make_spec(code, "app.no_newline"), b"{}", log_type="Tail")
    assert res.payload == b"null"
    assert "partial line" in base64.b64decode(res.log_tail).decode().splitlines()


def test_signal_names_read_as_lambda_writes_them() -> None:
    import signal

    from harness.runtime.instance import signal_text

    assert signal_text(signal.SIGSEGV) == "segmentation fault"
    assert signal_text(signal.SIGKILL) == "killed"
    assert signal_text(signal.SIGABRT) == "aborted"
    assert signal_text(63) == "signal 63"


def test_a_crash_of_the_process_behind_a_request_is_a_runtime_exit_error(rt: LambdaRuntime, code: Path) -> None:
    """The fault hook of the AWS endpoint: SIGSEGV to whichever instance process holds the client end of
    a connection. Lambda reports it as Runtime.ExitError ... signal: segmentation fault, and replaces the
    instance."""
    import signal
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    hits: list[dict | None] = []

    def serve() -> None:
        conn, peer = server.accept()
        with conn:
            conn.recv(100)
            hits.append(rt.signal_client(peer, port, signal.SIGSEGV))
            try:
                conn.sendall(b"HTTP/1.1 500 too late\r\n\r\n")
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    spec = make_spec(code, "app.call_home", timeout_s=10)
    res = rt.invoke(spec, json.dumps({"port": port}).encode())
    t.join(10)
    server.close()
    assert hits and hits[0] is not None, "no instance process held the connection"
    assert hits[0]["function"] == "fn" and hits[0]["signal"] == signal.SIGSEGV
    assert res.function_error == "Unhandled"
    assert json.loads(res.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {res.request_id} Error: Runtime exited with error: signal: segmentation fault"}
    report = [line for line in rt.logs("fn") if line.startswith(f"REPORT RequestId: {res.request_id}")]
    assert report and report[0].endswith("Status: error\tError Type: Runtime.ExitError"), report
    rec = rt.records("fn")[-1]
    assert rec.outcome == "error" and rec.error_type == "Runtime.ExitError"
    assert rt.signal_client(("127.0.0.1", 1), port, signal.SIGSEGV) is None   # nobody holds that one
