"""Fault injection at the embedded AWS endpoint: errors and delays for matching requests.

Faults live in the gateway, outside the function, so the function under test
runs unchanged: it sees throttling, 5xx or a failed upload exactly as it would
from AWS. Rules match on service, operation and a key/table substring.

A rule may also exhaust the caller's memory: ``exhaust_memory=True`` fills the memory
cgroup of the instance that made the request, at whatever MemorySize it runs, until
the kernel's OOM killer takes its runtime process (made its first choice), as when
a function outgrows its memory. The request then proceeds as usual (the caller is gone).

A rule may also crash the caller: ``crash="SIGSEGV"`` makes the gateway send that
signal to the function instance process that made the matching request (found by
the client end of its connection, see LambdaRuntime.signal_client), and the request
never reaches the service, as when a process dies mid-upload.
"""
from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass, field

from harness.local.awsreq import AwsRequest

_S3_ERRORS = {"InternalError": 500, "SlowDown": 503, "AccessDenied": 403, "ServiceUnavailable": 503}
_DDB_ERRORS = {"ProvisionedThroughputExceededException": 400, "ThrottlingException": 400,
               "InternalServerError": 500, "RequestLimitExceeded": 400}


@dataclass
class FaultRule:
    service: str
    operation: str | tuple[str, ...] | None = None     # one operation, or any of several
    match: str | None = None          # substring of the S3 key, or of the DynamoDB request body
    error: str | None = None          # AWS error code; None means delay only
    skip: int = 0                     # let this many matching requests through first
    times: int | None = None          # fail this many times, then pass (None: always)
    delay_s: float = 0.0
    only_function: bool = True        # apply only to requests the function signs (its role's key)
    crash: str | None = None          # a signal name ("SIGSEGV"): kill the instance process that made the request
    exhaust_memory: bool = False      # fill the caller's memory cgroup: the kernel OOM-kills its runtime
    barrier: int = 0                  # hold each matching request until this many have arrived (a forced race)
    barrier_timeout_s: float = 10.0
    hits: int = 0
    seen: int = 0
    crashed: list[dict] = field(default_factory=list)   # whom the crash signal reached (function, pid, ...)
    released_together: int = 0        # barrier: how many requests waited until all had arrived
    id: int = field(default=0)
    _arrived: int = field(default=0, repr=False, compare=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False, compare=False)

    def wait_at_barrier(self) -> bool:
        """Hold this request until `barrier` matching requests have arrived (bounded): the deliveries'
        first calls are released together, so their race is forced, not left to chance."""
        with self._cond:
            self._arrived += 1
            self._cond.notify_all()
            met = self._cond.wait_for(lambda: self._arrived >= self.barrier, timeout=self.barrier_timeout_s)
            if met:
                self.released_together += 1
            return met

    def __post_init__(self) -> None:
        if self.crash is not None:
            name = self.crash.upper()
            name = name if name.startswith("SIG") else f"SIG{name}"
            if not isinstance(getattr(signal, name, None), signal.Signals):
                raise ValueError(f"crash={self.crash!r} is not a signal name (e.g. SIGSEGV)")
            self.crash = name

    @property
    def crash_signal(self) -> int | None:
        return int(getattr(signal, self.crash)) if self.crash else None

    def applies(self, req: AwsRequest, body: bytes) -> bool:
        if req.service != self.service:
            return False
        if self.only_function:
            from harness.local.iam import FUNCTION_ACCESS_KEY

            if req.access_key != FUNCTION_ACCESS_KEY:
                return False
        if self.operation and req.operation not in (
                (self.operation,) if isinstance(self.operation, str) else self.operation):
            return False
        if self.match:
            hay = req.key or ""
            if req.service == "dynamodb":
                hay = body.decode("utf-8", "replace")
            if self.match not in hay:
                return False
        return True


def error_response(req: AwsRequest, code: str, *, status: int | None = None,
                   message: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """The error answer each service gives, for an injected fault (default message) or a real refusal."""
    if req.service == "dynamodb":
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}",
                           "message": message or f"injected fault: {code}"}).encode()
        return status or _DDB_ERRORS.get(code, 400), {"Content-Type": "application/x-amz-json-1.0"}, body
    if req.service == "lambda":
        return (status or (403 if code == "AccessDenied" else 500),
                {"Content-Type": "application/json", "x-amzn-ErrorType": f"{code}Exception"},
                json.dumps({"Type": "User", "Message": message or f"injected fault or denied: {code}"}).encode())
    if req.service != "s3":
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{message or f'{code}: {req.service}:{req.operation}'}</Message></Error>"
                f"</ErrorResponse>").encode()
        return status or (403 if code == "AccessDenied" else 500), {"Content-Type": "text/xml"}, body
    body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
            f"<Message>{message or f'injected fault: {code}'}</Message><Key>{req.key or ''}</Key></Error>").encode()
    return status or _S3_ERRORS.get(code, 500), {"Content-Type": "application/xml"}, body


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._next = 1

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = self._next
            self._next += 1
            self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.id != rule.id]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def decide(self, req: AwsRequest, body: bytes) -> tuple[float, str | None]:
        """(delay seconds, error code or None) for this request."""
        rule = self.match(req, body)
        return (rule.delay_s, rule.error) if rule is not None else (0.0, None)

    def match(self, req: AwsRequest, body: bytes) -> FaultRule | None:
        """The rule that fires for this request (its hit counted), or None."""
        with self._lock:
            for rule in self._rules:
                if not rule.applies(req, body):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                rule.hits += 1
                return rule
        return None


def sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)
