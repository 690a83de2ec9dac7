"""The wire log: every write the function makes at the AWS boundary, with the attempt that made it.

The gateway sees every request. A function instance signs with its own session token (each
execution environment gets its own session, as on AWS), and the runtime knows which invocation
attempt that instance is running, so each write is attributed to a (request id, attempt) at the
moment it arrives. Whether it was a write is decided by the answer: a 2xx is a write; a refused
conditional write (ConditionalCheckFailed) or any other error is not. R1, R2 and R3 are proven
from this log, not from the final record (harness.judge.writers).
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from harness.local.awsreq import DYNAMODB_DELETES, DYNAMODB_WRITES, S3_DELETES, S3_WRITES

_TRACED = {"s3": frozenset(S3_WRITES + S3_DELETES), "dynamodb": frozenset(DYNAMODB_WRITES + DYNAMODB_DELETES)}
_DDB_TYPE = re.compile(rb'"__type"\s*:\s*"[^"#]*#?([A-Za-z]+)"')
_XML_CODE = re.compile(rb"<Code>([^<]+)</Code>")


@dataclass(frozen=True)
class WireEntry:
    at: float
    service: str
    operation: str
    resource: str          # the S3 key, or the DynamoDB request body (which names the item)
    status: int
    error: str | None      # the AWS error code of a refused request
    function: str | None
    instance: str | None
    request_id: str | None
    attempt: int | None

    @property
    def wrote(self) -> bool:
        return 200 <= self.status < 300


def is_write(service: str, operation: str) -> bool:
    return operation in _TRACED.get(service, ())


def error_code(body: bytes) -> str | None:
    m = _DDB_TYPE.search(body or b"") or _XML_CODE.search(body or b"")
    return m.group(1).decode("utf-8", "replace") if m else None


class WireLog:
    def __init__(self, limit: int = 200_000) -> None:
        self._entries: list[WireEntry] = []
        self._lock = threading.Lock()
        self._limit = limit

    def add(self, entry: WireEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > self._limit:
                del self._entries[: len(self._entries) - self._limit]

    def mentioning(self, text: str) -> list[WireEntry]:
        """The writes whose key or item names `text` (a job id), in arrival order."""
        with self._lock:
            return [e for e in self._entries if text in e.resource]


def entry(service: str, operation: str, resource: str, status: int, body: bytes, caller: dict | None) -> WireEntry:
    caller = caller or {}
    return WireEntry(time.time(), service, operation, resource, status,
                     None if 200 <= status < 300 else error_code(body), caller.get("function"),
                     caller.get("instance"), caller.get("request_id"), caller.get("attempt"))
