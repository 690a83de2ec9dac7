"""Value types shared by the runtime modules."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FunctionSpec:
    """What a deployed function is: code, handler and configuration."""

    name: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: float
    ephemeral_mb: int
    env: Mapping[str, str]
    code_dir: Path
    opt_dir: Path | None
    reserved_concurrency: int | None = None
    max_retry_attempts: int = 2       # async: retries after the first attempt (EventInvokeConfig; AWS default 2)
    max_event_age_s: int = 21600      # async: an event older than this is dropped, not retried
    on_failure: str | None = None     # async: destination ARN for an event that failed for good
    code_sha256: str = ""  # instances are reused only while name + code_sha256 + config are unchanged

    def instance_key(self) -> tuple:
        """Everything that, when changed, makes AWS start fresh execution environments."""
        return (
            self.name, self.code_sha256, self.handler, self.runtime, self.memory_mb,
            float(self.timeout_s), self.ephemeral_mb, tuple(sorted(dict(self.env).items())),
            str(Path(self.code_dir).resolve()), str(Path(self.opt_dir).resolve()) if self.opt_dir else None,
        )


@dataclass
class InvokeResult:
    """The outcome of Invoke as the Lambda API reports it."""

    status_code: int            # 200 sync, 202 async accepted, 204 dry run
    payload: bytes              # the response payload (or the AWS error JSON)
    function_error: str | None  # "Unhandled" when the function failed, else None
    log_tail: str | None        # base64 of the last 4 KB of logs when requested
    request_id: str


@dataclass(frozen=True)
class InvocationRecord:
    """One attempt of one invocation, for assertions about what really ran."""

    function_name: str
    request_id: str
    invocation_type: str        # "RequestResponse" | "Event"
    attempt: int                # 1..3 (async retries keep the request id)
    started: float              # epoch seconds
    ended: float
    outcome: str                # "success"|"error"|"timeout"|"oom"|"storage"|"throttled"
    error_type: str | None
    duration_ms: float
    max_memory_mb: int
    max_tmp_bytes: int
    init_duration_ms: float | None = None   # set on a cold start
    pid: int | None = None                  # the instance process that ran it
    cpu_throttled_ms: float | None = None   # the kernel's CFS throttled time in this attempt (sandbox only)
    payload: bytes = field(default=b"", repr=False)          # what the function returned
    event: bytes = field(default=b"", repr=False)            # what it was invoked with


class TooManyRequests(Exception):
    """Reserved concurrency reached for a synchronous invoke (HTTP 429)."""

    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"

    def __init__(self, function_name: str) -> None:
        super().__init__(f"Rate Exceeded. ({self.reason}: {function_name})")
        self.function_name = function_name
