"""One execution environment: the official runtime client in a Lambda-shaped sandbox.

With kernel isolation (the default where the host allows it) the instance is a
process tree in its own mount and PID namespace, with the package read-only at
/var/task, the layers at /opt, a sized tmpfs at /tmp, a memory cgroup at
MemorySize and a CPU quota in proportion to memory (harness.runtime.sandbox).
Without it, it is a plain process whose memory and /tmp are polled: the
"reduced fidelity" fallback. Either way it talks to a private RuntimeApiServer
and the instance enforces the timeout while it waits.
"""
from __future__ import annotations

import fcntl
import itertools
import json
import logging
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import awsruntime, limits
from .api_server import Invocation, RuntimeApiServer
from .sandbox import SETUP_FAILED, Sandbox, Settings
from .spec import FunctionSpec

log = logging.getLogger(__name__)

INIT_TIMEOUT_S = 10.0      # AWS's init phase limit for on-demand functions
HANDOFF_TIMEOUT_S = 10.0   # a ready runtime must pick an invocation up within this
MAX_SYNC_RESPONSE = 6 * 1024 * 1024 + 100   # 6291556 bytes, AWS's sync response limit

# The fallback adds TMPDIR and HOME of its own, so a function cannot point them elsewhere.
RESERVED_ENV = awsruntime.RESERVED_ENV | {"TMPDIR", "HOME"}


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


FREEZE_WAIT_S = 1.0              # how long the runtime may take to ask for its next event before the freeze
_ATTEMPTS = itertools.count(1)   # one number per attempt, across instances: what the wire log tells apart


@dataclass
class Attempt:
    """What one invocation attempt on one instance produced."""

    outcome: str                 # success | error | timeout | oom | storage
    payload: bytes
    error_type: str | None
    started: float               # epoch seconds
    ended: float
    duration_ms: float
    max_memory_mb: int
    max_tmp_bytes: int
    init_duration_ms: float | None
    pid: int
    healthy: bool                # may the instance serve again?
    cpu_throttled_ms: float | None = None   # time the CPU quota held it back (sandbox only)
    lines: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome != "success"


class Instance:
    """A started runtime process plus its Runtime API server and /tmp stand-in."""

    def __init__(self, spec: FunctionSpec, *, root: Path, extra_env: Mapping[str, str], region: str,
                 account: str, poll_interval: float, storage_mode: str,
                 on_log: Callable[[str], None], python: str = sys.executable,
                 isolation: Settings | None = None,
                 runtime_env: awsruntime.RuntimeEnv | None = None) -> None:
        self.spec = spec
        self.key = spec.instance_key()
        self.id = uuid.uuid4().hex[:12]
        self.dir = Path(root) / f"{spec.name}-{self.id}"
        self.tmp = self.dir / "tmp"
        self.home = self.dir / "home"
        self.region = region
        self.account = account
        self.poll_interval = poll_interval
        self.storage_mode = storage_mode
        self._extra_env = dict(extra_env)
        self._python = python
        self.isolation = isolation
        self.runtime_env = runtime_env
        self.sandbox: Sandbox | None = None
        self._on_log = on_log
        self._lock = threading.Lock()        # guards _capture and the line buffer
        self._read_lock = threading.Lock()   # held whenever someone reads the pipe
        self._partial = b""
        self._capture: list[str] = []
        self._closed = False
        self._life_lock = threading.Lock()
        self._mounted = False
        self._tmp_base = 0          # bytes a fresh /tmp file system already counts as used (ext4's metadata)
        self.invocations = 0
        self.current: tuple[str, int] | None = None    # (request id, attempt number) of the running invocation
        self.freeze_between = True      # freeze the sandbox between invocations (the runtime may turn it off)
        self.frozen = False
        self.peak_mem = 0
        self.peak_tmp = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.server: RuntimeApiServer | None = None
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"

    # -- lifecycle -------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else -1

    def pids(self) -> list[int]:
        """Host pids of every process of this instance (the runtime and what it started)."""
        if self.sandbox is not None and self.sandbox.cgroup is not None:
            return self.sandbox.cgroup.pids()
        return [p.pid for p in limits.tree(self.pid)] if self.proc is not None else []

    @property
    def alive(self) -> bool:
        return not self._closed and self.proc is not None and self.proc.poll() is None

    def sandbox_environment(self, api_address: str) -> dict[str, str]:
        """Exactly what AWS sets, the function's own variables, and the role's credentials."""
        spec = self.spec
        return awsruntime.aws_environment(
            runtime=spec.runtime or "python3.13", handler=spec.handler, name=spec.name,
            memory_mb=spec.memory_mb, region=self.region, log_stream=self.log_stream,
            api_address=api_address, credentials=self._extra_env, function_env=dict(spec.env))

    def environment(self, api_address: str) -> dict[str, str]:
        """The fallback's process environment, built from scratch like the Lambda sandbox's."""
        spec = self.spec
        code = str(Path(spec.code_dir).resolve())
        opt = str(Path(spec.opt_dir).resolve()) if spec.opt_dir else str(self.dir / "opt")
        py = f"python{sys.version_info.major}.{sys.version_info.minor}"
        env = {
            "PATH": os.pathsep.join([f"{opt}/bin", str(Path(self._python).parent),
                                     "/usr/local/bin", "/usr/bin", "/bin"]),
            "LD_LIBRARY_PATH": os.pathsep.join([code, f"{code}/lib", f"{opt}/lib"]),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": os.pathsep.join([code, f"{opt}/python/lib/{py}/site-packages", f"{opt}/python"]),
            "PYTHONDONTWRITEBYTECODE": "1",   # /var/task is read-only on AWS
        }
        env.update(self._extra_env)
        for k, v in dict(spec.env).items():
            if k not in RESERVED_ENV:
                env[k] = str(v)
        env.update({
            "LAMBDA_TASK_ROOT": code,
            "_HANDLER": spec.handler,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime or 'python3.13'}",
            "AWS_LAMBDA_RUNTIME_API": api_address,
            "TMPDIR": str(self.tmp),
            "HOME": str(self.home),   # empty: no host ~/.aws leaks into the function
        })
        env.setdefault("FFMPEG_PATH", f"{opt}/bin/ffmpeg")
        return env

    def start(self) -> None:
        """Mount /tmp, start the API server, spawn the runtime. Serialised with close()."""
        with self._life_lock:
            if self._closed:
                raise RuntimeError("instance closed before it started (runtime shutting down)")
            self._start()

    def _start(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.tmp, 0o1777)   # the sandbox user writes /tmp, as on AWS
        if self.storage_mode == "ext4":
            self._mounted = limits.mount_ext4(self.tmp, self.spec.ephemeral_mb, self.dir / "tmp.ext4")
            if not self._mounted:
                log.warning("ext4 /tmp failed for %s; a sized tmpfs instead", self.dir)
                self.storage_mode = "tmpfs"
        if self.storage_mode == "tmpfs":
            self._mounted = limits.mount_tmpfs(self.tmp, self.spec.ephemeral_mb)
            if not self._mounted:
                log.warning("tmpfs mount failed for %s; polling /tmp size instead", self.dir)
                self.storage_mode = "poll"
        if self._mounted:
            self._tmp_base = limits.dir_usage_bytes(self.tmp, tmpfs=True)
        self.server = RuntimeApiServer()
        self._emit(f"INIT_START Runtime Version: {_runtime_version(self.spec.runtime)}\t"
                   f"Runtime Version ARN: arn:aws:lambda:{self.region}::runtime:local")
        self.started_at = time.monotonic()
        if self.isolation is not None and self.runtime_env is not None:
            self.sandbox = Sandbox(self.dir, memory_mb=self.spec.memory_mb, settings=self.isolation)
            self.proc = self.sandbox.spawn(
                code_dir=self.spec.code_dir, opt_dir=self.spec.opt_dir, tmp_dir=self.tmp,
                env=self.runtime_env, handler=self.spec.handler,
                environment=self.sandbox_environment(self.server.address))
        else:
            self.proc = subprocess.Popen(
                [self._python, "-m", "awslambdaric", self.spec.handler],
                cwd=str(Path(self.spec.code_dir).resolve()), env=self.environment(self.server.address),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True,
            )
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        threading.Thread(target=self._reader, name=f"lambda-log-{self.id}", daemon=True).start()

    def kill(self) -> None:
        if self.sandbox is not None:
            self.sandbox.thaw()         # a frozen tree would hold its SIGKILL until thawed
        if self.proc is not None and self.proc.poll() is None:
            limits.kill_tree(self.proc.pid)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        elif self.proc is not None:
            limits.kill_tree(self.proc.pid)  # orphaned children of an exited runtime
        if self.sandbox is not None:
            self.sandbox.kill()

    def close(self) -> None:
        """Kill the tree, stop the server, unmount and delete the sandbox dir."""
        with self._life_lock:
            if self._closed:
                return
            self._closed = True
        self.kill()
        self._drain()
        if self.server is not None:
            self.server.close()
        if self.proc is not None and self.proc.stdout is not None:
            try:
                self.proc.stdout.close()
            except OSError:
                pass
        if self.sandbox is not None:
            self.sandbox.close()
        if self._mounted:
            limits.unmount(self.tmp)
            self._mounted = False
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- logs ------------------------------------------------------------------
    def _emit(self, line: str) -> None:
        with self._lock:
            self._capture.append(line)
        self._on_log(line)

    def _feed(self, data: bytes, final: bool = False) -> None:
        buf = self._partial + data
        *lines, self._partial = buf.split(b"\n")
        if final and self._partial:
            lines.append(self._partial)
            self._partial = b""
        for raw in lines:
            self._emit(raw.decode("utf-8", errors="replace"))

    def _read_available(self) -> bool:
        """Read what the pipe holds right now; False on EOF. Caller holds _read_lock."""
        if self.proc is None or self.proc.stdout is None or self.proc.stdout.closed:
            return False
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return True
            except (OSError, ValueError):
                return False
            if not data:
                self._feed(b"", final=True)
                return False
            self._feed(data)

    def _reader(self) -> None:
        """Forward the process's stdout+stderr line by line for its whole life."""
        while not self._closed and self.proc is not None and self.proc.stdout is not None:
            try:
                ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            with self._read_lock:
                if not self._read_available():
                    return

    def _drain(self) -> None:
        """Pull everything already written to the pipe, so an invocation's logs are complete."""
        with self._read_lock:
            self._read_available()
            if self._partial:
                self._feed(b"", final=True)

    # -- limits ----------------------------------------------------------------
    def _check_limits(self) -> str | None:
        tmp = max(0, limits.dir_usage_bytes(self.tmp, tmpfs=self._mounted) - self._tmp_base)
        self.peak_tmp = max(self.peak_tmp, tmp)
        if not self._mounted and tmp > self.spec.ephemeral_mb * limits.MB:
            return "storage"
        if self.sandbox is not None:
            # the kernel enforces the limit; its counters say whether it had to
            self.peak_mem = max(self.peak_mem, self.sandbox.peak_bytes())
            if self.sandbox.oom_killed():
                if self._runtime_survives_oom():
                    # the kernel killed a child (ffmpeg), not the runtime: the handler sees the child's exit
                    # -9 and carries on, as on AWS; Runtime.OutOfMemory is for the runtime's own death
                    self.sandbox.rebase_oom()
                    self._emit_host(f"the kernel OOM-killed a child process of {self.spec.name} (the runtime lives)")
                    return None
                return "oom"
            return None
        pid = self.pid
        mem = max(limits.tree_rss_bytes(pid), limits.peak_rss_bytes(pid))
        self.peak_mem = max(self.peak_mem, mem)
        if mem > self.spec.memory_mb * limits.MB:
            return "oom"
        return None

    def _runtime_survives_oom(self, grace_s: float = 1.0) -> bool:
        """After an OOM kill in the group: is the runtime process (the one running bootstrap.py) alive?
        A killed runtime is gone, or a zombie, within the grace; a child's kill leaves it running."""

        end = time.monotonic() + grace_s
        while True:
            if self.proc is None or self.proc.poll() is not None:
                return False
            runtime = [pid for pid in self.pids() if _is_runtime(pid)]
            if not runtime:
                return False
            if time.monotonic() >= end:
                return True
            time.sleep(0.02)

    def _emit_host(self, text: str) -> None:
        log.info("%s", text)

    def _watch(self, event: threading.Event, deadline: float) -> str | None:
        """Wait for event while enforcing limits: None, or 'timeout'|'oom'|'storage'|'exit'."""
        while True:
            remaining = deadline - time.monotonic()
            if event.wait(max(0.0, min(self.poll_interval, remaining))):
                return None
            violation = self._check_limits()
            if violation:
                return violation
            if self.proc is None or self.proc.poll() is not None:
                return None if event.is_set() else "exit"
            if time.monotonic() >= deadline:
                return None if event.is_set() else "timeout"

    # -- invoke ----------------------------------------------------------------
    def run(self, request_id: str, payload: bytes, *, function_arn: str, trace_id: str,
            sync: bool) -> Attempt:
        """Run one invocation to completion; never blocks past timeout + init bound."""
        assert self.server is not None and self.proc is not None
        spec = self.spec
        cold = self.invocations == 0
        self.invocations += 1
        if not cold:
            with self._lock:
                self._capture = []
        wall0 = time.time()
        init_ms: float | None = None

        violation: str | None = None
        if cold:
            violation = self._watch(self.server.ready, self.started_at + INIT_TIMEOUT_S)
            if self.server.ready_at is not None:
                init_ms = (self.server.ready_at - self.started_at) * 1000
            if self.sandbox is not None:
                self.sandbox.init_done()
        throttled0 = self.sandbox.throttled_us() if self.sandbox is not None else None
        inv = Invocation(request_id=request_id, payload=payload, function_arn=function_arn,
                         timeout_s=spec.timeout_s, trace_id=trace_id)
        t0 = time.monotonic()
        if violation is None and self.server.init_error is not None:
            return self._finish_init_error(inv, wall0, init_ms)
        self._emit(f"START RequestId: {request_id} Version: $LATEST")
        self.current = (request_id, next(_ATTEMPTS))
        if self.sandbox is not None:
            self.sandbox.thaw()         # frozen since the last invocation: an event is handed over
        if violation is None:
            self.server.submit(inv)
            violation = self._watch(inv.handed_out, time.monotonic() + HANDOFF_TIMEOUT_S)
        if violation is None:
            t0 = inv.handed_out_at
            violation = self._watch(inv.done, inv.handed_out_at + spec.timeout_s)
        if violation in (None, "exit") and self._check_limits() == "oom":
            violation = "oom"   # the kernel (or the peak RSS) shows it went over between two polls
        t1 = time.monotonic()
        throttled_ms = None
        if throttled0 is not None and self.sandbox is not None:
            throttled_ms = max(0, self.sandbox.throttled_us() - throttled0) / 1000
        if violation is not None:
            self.kill()
        elif self.sandbox is not None and self.freeze_between:
            # AWS freezes the environment once the runtime asks for the next event: what the handler
            # left running (threads, children) stops until the next invoke
            self.server.waiting.wait(FREEZE_WAIT_S)
            self.frozen = self.sandbox.freeze()
        self._drain()

        duration_ms = (t1 - t0) * 1000
        if violation == "timeout":
            duration_ms = spec.timeout_s * 1000
        error_type: str | None = None
        healthy = violation is None
        if violation is None and inv.response is not None:
            outcome, body = "success", inv.response
            if sync and len(body) > MAX_SYNC_RESPONSE:
                outcome, error_type = "error", "Function.ResponseSizeTooLarge"
                body = _json({"errorMessage": f"Response payload size exceeded maximum allowed payload size "
                                              f"({MAX_SYNC_RESPONSE} bytes).",
                              "errorType": error_type})
        elif violation is None:
            outcome, body, error_type = "error", inv.error or b"{}", inv.error_type
            if error_type in ("OSError", None) and b"No space left on device" in body:
                outcome = "storage"   # real ENOSPC from the sized tmpfs
        else:
            outcome, error_type, body = self._violation_error(violation, request_id)
            if violation == "timeout":
                self._emit(f"{utc_stamp()} {request_id} Task timed out after {spec.timeout_s:.2f} seconds")
        self.current = None
        self._emit(f"END RequestId: {request_id}")
        self._emit(self._report(request_id, duration_ms, init_ms, outcome, error_type, violation))
        with self._lock:
            lines = list(self._capture)
            self._capture = []
        return Attempt(outcome=outcome, payload=body, error_type=error_type, started=wall0,
                       ended=time.time(), duration_ms=duration_ms,
                       max_memory_mb=math.ceil(self.peak_mem / limits.MB),
                       max_tmp_bytes=self.peak_tmp, init_duration_ms=init_ms, pid=self.pid,
                       healthy=healthy and self.alive, lines=lines, cpu_throttled_ms=throttled_ms)

    def _violation_error(self, violation: str, rid: str) -> tuple[str, str, bytes]:
        spec = self.spec
        if violation == "timeout":
            return "timeout", "Sandbox.Timedout", _json({
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {rid} Error: Task timed out after {spec.timeout_s:.2f} seconds"})
        if violation == "oom":
            return "oom", "Runtime.OutOfMemory", _json({
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed"})
        if violation == "storage":
            return "storage", "Runtime.EphemeralStorageExceeded", _json({
                "errorType": "Runtime.EphemeralStorageExceeded",
                "errorMessage": f"RequestId: {rid} Error: ephemeral storage (/tmp) exceeded the "
                                f"{spec.ephemeral_mb} MB limit; runtime killed"})
        code = self.proc.returncode if self.proc is not None else None
        if code == SETUP_FAILED and self.sandbox is not None:
            with self._lock:
                why = next((ln for ln in reversed(self._capture) if ln.startswith("sandbox:")), "sandbox: failed")
            return "error", "Sandbox.SetupFailed", _json({
                "errorType": "Sandbox.SetupFailed",
                "errorMessage": f"RequestId: {rid} Error: the local sandbox could not start: {why}"})
        status = f"signal: {signal_text(-code)}" if code is not None and code < 0 else f"exit status {code}"
        return "error", "Runtime.ExitError", _json({
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: {status}"})

    def _finish_init_error(self, inv: Invocation, wall0: float, init_ms: float | None) -> Attempt:
        """The handler could not be loaded: AWS returns the init error as the invoke's error."""
        assert self.server is not None
        self.kill()
        self._drain()
        body = self.server.init_error or b"{}"
        etype = self.server.init_error_type
        rid = inv.request_id
        self._emit(f"INIT_REPORT Init Duration: {init_ms or 0:.2f} ms\tPhase: init\tStatus: error\t"
                   f"Error Type: {etype}")
        self._emit(f"START RequestId: {rid} Version: $LATEST")
        self._emit(f"END RequestId: {rid}")
        self._emit(self._report(rid, 0.0, init_ms, "error", etype, "init"))
        with self._lock:
            lines = list(self._capture)
            self._capture = []
        return Attempt(outcome="error", payload=body, error_type=etype, started=wall0, ended=time.time(),
                       duration_ms=0.0, max_memory_mb=math.ceil(self.peak_mem / limits.MB),
                       max_tmp_bytes=self.peak_tmp, init_duration_ms=init_ms, pid=self.pid,
                       healthy=False, lines=lines)

    def _report(self, rid: str, duration_ms: float, init_ms: float | None, outcome: str,
                error_type: str | None, violation: str | None) -> str:
        parts = [f"REPORT RequestId: {rid}", f"Duration: {duration_ms:.2f} ms",
                 f"Billed Duration: {billed_ms(duration_ms, init_ms)} ms",
                 f"Memory Size: {self.spec.memory_mb} MB",
                 f"Max Memory Used: {math.ceil(self.peak_mem / limits.MB)} MB"]
        if init_ms is not None:
            parts.append(f"Init Duration: {init_ms:.2f} ms")
        if violation == "timeout":
            parts.append("Status: timeout")
        elif violation is not None:
            parts += ["Status: error", f"Error Type: {error_type}"]
        return "\t".join(parts)


def _is_runtime(pid: int) -> bool:
    """Whether pid is a live (not zombie) process running the runtime's bootstrap."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and any("bootstrap.py" in part for part in proc.cmdline())
    except psutil.Error:
        return False


def billed_ms(duration_ms: float, init_ms: float | None) -> int:
    """What AWS bills for an on-demand invocation: its duration plus the init phase of a cold start,
    rounded up to the millisecond ("Lambda will begin billing for the INIT phase", effective 2025-08-01:
    aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/)."""
    return max(1, math.ceil(duration_ms + (init_ms or 0.0)))


# How Lambda words a runtime's death by signal: Go's os/exec ProcessState text, e.g.
# "Runtime exited with error: signal: segmentation fault" (Go's syscall signal names, Linux).
_GO_SIGNAL_TEXT = {
    signal.SIGHUP: "hangup", signal.SIGINT: "interrupt", signal.SIGQUIT: "quit",
    signal.SIGILL: "illegal instruction", signal.SIGTRAP: "trace/breakpoint trap", signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error", signal.SIGFPE: "floating point exception", signal.SIGKILL: "killed",
    signal.SIGUSR1: "user defined signal 1", signal.SIGSEGV: "segmentation fault",
    signal.SIGUSR2: "user defined signal 2", signal.SIGPIPE: "broken pipe", signal.SIGALRM: "alarm clock",
    signal.SIGTERM: "terminated", signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
}


def signal_text(signum: int) -> str:
    """'segmentation fault' for 11: the words Lambda's error message uses (pure)."""
    try:
        return _GO_SIGNAL_TEXT.get(signal.Signals(signum), f"signal {signum}")
    except ValueError:
        return f"signal {signum}"


def _runtime_version(runtime: str) -> str:
    """AWS prints e.g. 'python:3.11.v29'; we mark ours as local."""
    name = runtime or "python3.13"
    return f"python:{name[len('python'):]}.local" if name.startswith("python") else f"{name}.local"


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode()
