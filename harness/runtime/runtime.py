"""LambdaRuntime: invoke functions as AWS does, with real processes and real limits.

It owns the warm pools of instances, reserved-concurrency slots, the async
event queue with the function's retry policy (1 + MaximumRetryAttempts attempts,
same request id, none after MaximumEventAgeInSeconds; a throttled event stays
queued and is retried until it is that old; reserved concurrency 0 sends it to
the on-failure destination at once), and the records/logs that tests assert on.
"""
from __future__ import annotations

import atexit
import base64
import json
import logging
import os
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from pathlib import Path

from . import awsruntime, fidelity, limits, sandbox
from .destination import destination_record
from .instance import Attempt, Instance
from .spec import FunctionSpec, InvocationRecord, InvokeResult, TooManyRequests

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"
TAIL_BYTES = 4096
MAX_LOG_LINES = 200_000
# A throttled async event goes back to Lambda's queue and is retried "from 1 second after the first
# attempt to a maximum of 5 minutes", for up to MaximumEventAgeInSeconds
# (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html). Locally the
# queued event retries at the moments a retry could succeed instead of on a timer: when a slot frees
# and when the function's configuration changes (configuration_changed), so a saturated function's
# queue drains no slower than AWS's and costs nothing while it waits; at its maximum age it goes to
# the on-failure destination as EventAgeExceeded.


class LambdaRuntime:
    """Runs Lambda functions locally as separate awslambdaric processes."""

    def __init__(self, work_dir: Path, *, extra_env: Mapping[str, str] = {}, async_retry_delays: tuple[float, float] = (1.0, 2.0),
                 warm: bool = True, region: str = "us-east-1", poll_interval: float = 0.05,
                 storage: str = "auto", account_id: str = ACCOUNT_ID, isolation: str = "auto",
                 cpu_scaling: bool = True, endpoint_url: str | None = None,
                 deliver: Callable[[str, bytes], None] | None = None, freeze: bool = True) -> None:
        """extra_env: the role's credentials (AWS_ACCESS_KEY_ID...), which AWS sets too.
        endpoint_url: where the function's SDK calls go (a shared config file in the
        sandbox; AWS_ENDPOINT_URL in the fallback). isolation: auto | kernel | none."""
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.extra_env = dict(extra_env)
        self.endpoint_url = endpoint_url
        self.cpu_scaling = cpu_scaling
        self.freeze = freeze            # freeze instances between invocations (off only to measure what it costs)
        self.deliver = deliver          # (destination ARN, record JSON) -> None: the on-failure destination
        self.async_retry_delays = tuple(async_retry_delays)
        self.warm = warm
        self.region = region
        self.account_id = account_id
        self.poll_interval = poll_interval
        if storage not in ("auto", "ext4", "tmpfs", "poll"):
            raise ValueError(f"storage must be auto|ext4|tmpfs|poll, not {storage!r}")
        self.storage_mode = (limits.probe_storage_mode(self.work_dir, prefer=storage) if storage != "poll"
                             else "poll")
        if storage in ("ext4", "tmpfs") and self.storage_mode != storage:
            raise RuntimeError(f"{storage} storage requested but this host gives {self.storage_mode}")
        log.info("lambda runtime: ephemeral storage mode = %s", self.storage_mode)
        if isolation not in ("auto", "kernel", "none"):
            raise ValueError(f"isolation must be auto|kernel|none, not {isolation!r}")
        if isolation == "none":
            self.capability = sandbox.Capability(False, None, "isolation turned off (isolation='none')")
        else:
            self.capability = sandbox.probe(self.work_dir)
        if isolation == "kernel" and not self.capability.kernel:
            raise RuntimeError(f"kernel isolation requested but not available: {self.capability.reason}")
        self.isolation = (sandbox.Settings(self.capability, endpoint_url, cpu_scaling)
                          if self.capability.kernel else None)
        if self.isolation is None and isolation == "auto":
            log.warning("lambda runtime: REDUCED FIDELITY, plain processes with polled limits: %s",
                        self.capability.reason)
        self._runtime_envs: dict[str, awsruntime.RuntimeEnv] = {}
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._closed = threading.Event()
        self._idle: dict[tuple, list[Instance]] = defaultdict(list)
        self._instances: set[Instance] = set()
        self._by_token: dict[str, Instance] = {}    # session token -> the instance it was issued to
        self._latest_key: dict[str, tuple] = {}
        self._running: dict[str, int] = defaultdict(int)
        self._pending_async = 0
        self._inflight: dict[str, bytes] = {}     # async events not finished yet (retries included)
        self._attempts: dict[int, tuple[str, bytes]] = {}   # attempts running now: (function, event)
        self._config_gen: dict[str, int] = defaultdict(int)  # bumped by configuration_changed
        self._records: list[InvocationRecord] = []
        self._logs: deque[tuple[str, str]] = deque(maxlen=MAX_LOG_LINES)
        atexit.register(self.close)

    # -- public API ----------------------------------------------------------
    def invoke(self, spec: FunctionSpec, payload: bytes, *, invocation_type: str = "RequestResponse",
               log_type: str = "None", request_id: str | None = None,
               refresh: Callable[[], FunctionSpec] | None = None) -> InvokeResult:
        """Invoke like the Lambda Invoke API; raises TooManyRequests when throttled.
        refresh: the function's configuration now; a queued async event that was throttled runs
        with what it says (AWS runs it with the configuration of the moment it finally runs)."""
        if self._closed.is_set():
            raise RuntimeError("LambdaRuntime is closed")
        rid = request_id or str(uuid.uuid4())
        payload = bytes(payload or b"")
        if invocation_type == "DryRun":
            return InvokeResult(204, b"", None, None, rid)
        if invocation_type == "Event":
            with self._cond:
                self._pending_async += 1
                self._inflight[rid] = payload
            threading.Thread(target=self._async_event, args=(spec, payload, rid, refresh),
                             name=f"lambda-event-{rid[:8]}", daemon=True).start()
            return InvokeResult(202, b"", None, None, rid)
        if invocation_type != "RequestResponse":
            raise ValueError(f"unknown invocation type {invocation_type!r}")
        if not self._try_acquire(spec):
            self._record_throttle(spec, rid, "RequestResponse", 1, payload)
            raise TooManyRequests(spec.name)
        try:
            att = self._attempt(spec, payload, rid, "RequestResponse", 1)
        finally:
            self._release(spec)
        tail = None
        if log_type == "Tail":
            text = "".join(line + "\n" for line in att.lines).encode("utf-8", errors="replace")
            tail = base64.b64encode(text[-TAIL_BYTES:]).decode("ascii")
        return InvokeResult(200, att.payload, "Unhandled" if att.failed else None, tail, rid)

    def wait_idle(self, timeout: float) -> bool:
        """True once every accepted async event has finished (retries included)."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._pending_async > 0:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def in_flight_events(self) -> list[bytes]:
        """Payloads of async events still queued, running or waiting to retry."""
        with self._lock:
            return list(self._inflight.values())

    def wait_recorded(self, function_name: str, needle: bytes, timeout: float) -> bool:
        """Wait until no attempt of the function whose event contains needle is running, so
        records() holds every attempt that has started: an attempt's effects (a job record it wrote)
        are visible before the attempt ends. False when one still runs after timeout."""
        end = time.monotonic() + timeout
        with self._cond:
            while any(name == function_name and needle in event for name, event in self._attempts.values()):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def configuration_changed(self, function_name: str) -> None:
        """The function's configuration (reserved concurrency, event invoke config, code...) changed:
        its throttled async events look again at once."""
        with self._cond:
            self._config_gen[function_name] += 1
            self._cond.notify_all()

    def caller(self, session_token: str | None) -> dict | None:
        """The execution environment a request was signed in, and the attempt it was running then."""
        inst = self._by_token.get(session_token or "")
        if inst is None:
            return None
        current = inst.current
        return {"function": inst.spec.name, "instance": inst.id,
                "request_id": current[0] if current else None, "attempt": current[1] if current else None}

    def signal_client(self, peer: tuple[str, int], server_port: int, signum: int) -> dict | None:
        """Send signum to the instance process that holds the client end of a TCP connection
        (peer -> server_port): how a fault at the AWS endpoint crashes the very process that made
        the request, as a real crash would. None when no instance process holds it."""
        with self._lock:
            instances = [inst for inst in self._instances if inst.alive]
        for inst in instances:
            pid = limits.socket_owner(inst.pids(), peer, server_port)
            if pid is None:
                continue
            try:
                os.kill(pid, signum)
            except OSError as e:
                log.warning("signal %s to pid %s of instance %s failed: %s", signum, pid, inst.id, e)
                return None
            limits.wait_gone(pid, 2.0)    # dead before the caller answers the request it made
            return {"function": inst.spec.name, "instance": inst.id, "pid": pid, "runtime_pid": inst.pid,
                    "signal": signum}
        return None

    def exhaust_client_memory(self, peer: tuple[str, int], server_port: int) -> dict | None:
        """Fill the memory cgroup of the instance whose process holds this connection until the kernel
        OOM-kills that process (Sandbox.exhaust_memory). None when no sandboxed instance holds it."""
        with self._lock:
            instances = [inst for inst in self._instances if inst.alive and inst.sandbox is not None]
        for inst in instances:
            pid = limits.socket_owner(inst.pids(), peer, server_port)
            if pid is None:
                continue
            killed = inst.sandbox.exhaust_memory(pid)
            return {"function": inst.spec.name, "instance": inst.id, "pid": pid, "oom_killed": killed}
        return None

    def records(self, function_name: str | None = None) -> list[InvocationRecord]:
        with self._lock:
            return [r for r in self._records if function_name is None or r.function_name == function_name]

    def logs(self, function_name: str | None = None) -> list[str]:
        with self._lock:
            return [line for name, line in self._logs if function_name is None or name == function_name]

    def close(self) -> None:
        """Kill every instance, stop every server, unmount every tmpfs. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._cond:
            instances = list(self._instances)
            self._instances.clear()
            self._idle.clear()
            self._cond.notify_all()
        for inst in instances:
            try:
                inst.close()
            except Exception:
                log.exception("closing instance %s", inst.id)
        try:
            atexit.unregister(self.close)
        except Exception:
            pass

    def __enter__(self) -> LambdaRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def in_flight(self, function_name: str) -> int:
        """Invocations of the function running right now (what reserved concurrency limits)."""
        with self._lock:
            return self._running.get(function_name, 0)

    def runtime_env(self, runtime: str) -> awsruntime.RuntimeEnv:
        """The runtime's own site-packages for a declared runtime (built once, on first use)."""
        runtime = runtime or "python3.13"
        with self._lock:
            env = self._runtime_envs.get(runtime)
        if env is None:
            env = awsruntime.ensure_runtime_env(runtime)
            with self._lock:
                self._runtime_envs[runtime] = env
        return env

    def fidelity(self, runtimes: tuple[str, ...] = ()) -> list[dict]:
        """How this runtime enforces each Lambda behaviour: the report's fidelity table."""
        envs: list = []
        for r in runtimes if self.isolation else ():
            try:
                envs.append(self.runtime_env(r))
            except awsruntime.RuntimeEnvError as e:
                envs.append(str(e))
        return fidelity.rows(self.capability, cpu_scaling=self.cpu_scaling, storage_mode=self.storage_mode,
                             poll_interval=self.poll_interval, runtime_envs=envs,
                             retry_delays=self.async_retry_delays)

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    # -- concurrency -----------------------------------------------------------
    def _try_acquire(self, spec: FunctionSpec) -> bool:
        with self._cond:
            limit = spec.reserved_concurrency
            if limit is not None and self._running[spec.name] >= limit:
                return False
            self._running[spec.name] += 1
            return True

    def _acquire_until(self, spec: FunctionSpec, until: float, generation: int) -> str:
        """Wait for a slot for a queued async event: 'slot' (taken), 'changed' (the function's configuration
        changed since `generation`), 'expired' (until, monotonic, passed first) or 'closed'."""
        with self._cond:
            while not self._closed.is_set():
                limit = spec.reserved_concurrency
                if limit is None or self._running[spec.name] < limit:
                    self._running[spec.name] += 1
                    return "slot"
                if self._config_gen[spec.name] != generation:
                    return "changed"
                left = until - time.monotonic()
                if left <= 0:
                    return "expired"
                self._cond.wait(min(left, 0.2))
            return "closed"

    def _release(self, spec: FunctionSpec) -> None:
        with self._cond:
            self._running[spec.name] -= 1
            self._cond.notify_all()

    # -- async -----------------------------------------------------------------
    def _async_event(self, spec: FunctionSpec, payload: bytes, rid: str,
                     refresh: Callable[[], FunctionSpec] | None = None) -> None:
        try:
            queued = time.monotonic()
            attempts = 1 + max(0, int(spec.max_retry_attempts))
            attempt, ran = 1, 0
            att: Attempt | None = None
            with self._lock:
                seen = self._config_gen[spec.name]
            while True:
                if self._closed.is_set():
                    return
                expires = queued + spec.max_event_age_s
                if spec.reserved_concurrency == 0:
                    # Since 2021-08 AWS sends an async event of a function with reserved concurrency 0
                    # to its DLQ / on-failure destination at once, without retries (dropped without one).
                    self._record_throttle(spec, rid, "Event", attempt, payload)
                    log.info("async event %s of %s: reserved concurrency 0, not retried", rid, spec.name)
                    self._send_to_destination(spec, rid, payload, att, "ZeroReservedConcurrency", ran)
                    return
                got = self._acquire_until(spec, expires, seen)
                if got == "closed":
                    return
                if got == "changed":
                    # still queued: it will run (or not) with the configuration of this moment
                    with self._lock:
                        seen = self._config_gen[spec.name]
                    spec = self._refreshed(spec, refresh)
                    continue
                if got == "expired":
                    self._record_throttle(spec, rid, "Event", attempt, payload)
                    log.info("async event %s of %s: throttled until older than %s s", rid, spec.name,
                             spec.max_event_age_s)
                    self._send_to_destination(spec, rid, payload, att, "EventAgeExceeded", ran)
                    return
                try:
                    att = self._attempt(spec, payload, rid, "Event", attempt)
                finally:
                    self._release(spec)
                ran += 1
                if not att.failed:
                    return
                if attempt == attempts:
                    self._send_to_destination(spec, rid, payload, att, "RetriesExhausted", ran)
                    return
                delay = self.async_retry_delays[min(attempt - 1, len(self.async_retry_delays) - 1)]
                if self._closed.wait(delay):
                    return
                attempt += 1
                if time.monotonic() - queued > spec.max_event_age_s:
                    log.info("async event %s of %s dropped: older than %s s", rid, spec.name, spec.max_event_age_s)
                    self._send_to_destination(spec, rid, payload, att, "EventAgeExceeded", ran)
                    return
        except Exception:
            if not self._closed.is_set():
                log.exception("async event %s of %s failed in the harness", rid, spec.name)
        finally:
            with self._cond:
                self._pending_async -= 1
                self._inflight.pop(rid, None)
                self._cond.notify_all()

    def _refreshed(self, spec: FunctionSpec, refresh: Callable[[], FunctionSpec] | None) -> FunctionSpec:
        if refresh is None:
            return spec
        try:
            return refresh()
        except Exception as e:
            log.info("async event of %s: configuration not refreshed: %s", spec.name, e)
            return spec

    def _send_to_destination(self, spec: FunctionSpec, rid: str, payload: bytes, att: Attempt | None,
                             condition: str, count: int) -> None:
        """Lambda's on-failure destination record, in the documented shape:
        https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
        count: the attempts that ran the function (0 when it never ran)."""
        if not spec.on_failure or self.deliver is None:
            return
        record = destination_record(self.function_arn(spec.name), rid, payload,
                                    att.payload if att is not None else None, condition, count)
        try:
            self.deliver(spec.on_failure, record)
        except Exception:
            log.exception("on-failure destination %s of %s: delivery failed", spec.on_failure, spec.name)
            self._log(spec.name, f"on-failure destination {spec.on_failure}: delivery failed for {rid}")

    # -- instances -------------------------------------------------------------
    def _checkout(self, spec: FunctionSpec) -> Instance:
        key = spec.instance_key()
        stale: list[Instance] = []
        # built outside the lock (pip on first use); RuntimeEnvError when no interpreter of its version
        runtime_env = self.runtime_env(spec.runtime) if self.isolation else None
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("LambdaRuntime is closed")
            if self._latest_key.get(spec.name) != key:
                self._latest_key[spec.name] = key
                for k in [k for k in self._idle if k[0] == spec.name and k != key]:
                    stale += self._idle.pop(k)
            pool = self._idle.get(key, [])
            inst = None
            while pool:
                cand = pool.pop()
                if cand.alive:
                    inst = cand
                    break
                stale.append(cand)
            if inst is None:
                extra = dict(self.extra_env)
                if self.isolation is None and self.endpoint_url:
                    extra["AWS_ENDPOINT_URL"] = self.endpoint_url
                # each execution environment its own session, as AWS gives it: the wire log's caller
                token = extra["AWS_SESSION_TOKEN"] = f"local-session-{uuid.uuid4().hex}"
                inst = Instance(spec, root=self.work_dir / "instances", extra_env=extra,
                                region=self.region, account=self.account_id,
                                poll_interval=self.poll_interval, storage_mode=self.storage_mode,
                                on_log=lambda line, n=spec.name: self._log(n, line),
                                isolation=self.isolation,
                                runtime_env=runtime_env)
                inst.freeze_between = self.freeze
                self._instances.add(inst)
                self._by_token[token] = inst
        for s in stale:
            self._discard(s)
        if inst.proc is None:
            try:
                inst.start()
            except BaseException:
                self._discard(inst)
                raise
        return inst

    def _checkin(self, inst: Instance, healthy: bool) -> None:
        with self._lock:
            keep = (healthy and self.warm and not self._closed.is_set()
                    and self._latest_key.get(inst.spec.name) == inst.key)
            if keep:
                self._idle[inst.key].append(inst)
                return
        self._discard(inst)

    def _discard(self, inst: Instance) -> None:
        with self._lock:
            self._instances.discard(inst)
        inst.close()

    def _attempt(self, spec: FunctionSpec, payload: bytes, rid: str, itype: str, attempt: int) -> Attempt:
        # Registered before the function can run, and swapped for its record under one lock: whoever
        # sees an effect of the attempt (a job it marked COMPLETED) finds it running or recorded.
        token = object()
        with self._lock:
            self._attempts[id(token)] = (spec.name, payload)
        record: InvocationRecord | None = None
        try:
            try:
                inst = self._checkout(spec)
            except awsruntime.RuntimeEnvError as e:
                att = _setup_failed(rid, str(e))
                record = _record_of(spec, rid, itype, attempt, att, payload)
                self._log(spec.name, f"RequestId: {rid} Error: {e}")
                return att
            try:
                att = inst.run(rid, payload, function_arn=self.function_arn(spec.name),
                               trace_id=f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                               sync=itype == "RequestResponse")
            except BaseException:
                self._discard(inst)
                raise
            self._checkin(inst, att.healthy)
            record = _record_of(spec, rid, itype, attempt, att, payload)
            return att
        finally:
            with self._cond:
                self._attempts.pop(id(token), None)
                if record is not None:
                    self._records.append(record)
                self._cond.notify_all()

    # -- bookkeeping -----------------------------------------------------------
    def _record_throttle(self, spec: FunctionSpec, rid: str, itype: str, attempt: int, event: bytes = b"") -> None:
        now = time.time()
        self._add_record(InvocationRecord(
            function_name=spec.name, request_id=rid, invocation_type=itype, attempt=attempt, started=now,
            ended=now, outcome="throttled", error_type="TooManyRequestsException", duration_ms=0.0,
            max_memory_mb=0, max_tmp_bytes=0, event=event))

    def _add_record(self, rec: InvocationRecord) -> None:
        with self._lock:
            self._records.append(rec)

    def _log(self, function_name: str, line: str) -> None:
        with self._lock:
            self._logs.append((function_name, line))


def _record_of(spec: FunctionSpec, rid: str, itype: str, attempt: int, att: Attempt, event: bytes) -> InvocationRecord:
    return InvocationRecord(
        function_name=spec.name, request_id=rid, invocation_type=itype, attempt=attempt,
        started=att.started, ended=att.ended, outcome=att.outcome, error_type=att.error_type,
        duration_ms=att.duration_ms, max_memory_mb=att.max_memory_mb, max_tmp_bytes=att.max_tmp_bytes,
        init_duration_ms=att.init_duration_ms, pid=att.pid, payload=att.payload,
        event=event, cpu_throttled_ms=att.cpu_throttled_ms)


def _setup_failed(rid: str, why: str) -> Attempt:
    """The invocation never started: no interpreter or runtime environment for the declared runtime."""
    now = time.time()
    body = json.dumps({"errorType": "Sandbox.SetupFailed",
                       "errorMessage": f"RequestId: {rid} Error: the local sandbox could not start: {why}"}).encode()
    return Attempt(outcome="error", payload=body, error_type="Sandbox.SetupFailed", started=now, ended=now,
                   duration_ms=0.0, max_memory_mb=0, max_tmp_bytes=0, init_duration_ms=None, pid=-1,
                   healthy=False)
