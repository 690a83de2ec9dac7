"""What a function's own log lines say about its invocations (pure).

Lambda writes `START RequestId: <id> ...` when an invocation begins and `END RequestId: <id>` when it
ends, on every runtime, on AWS and in the local runtime alike. Read in the order they were written
(CloudWatch orders events by time), the number of STARTs not yet ENDed at any point is how many
invocations ran at once: the function's own account, independent of any emulator's counters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_START = re.compile(r"^START RequestId: (\S+)")
_END = re.compile(r"^END RequestId: (\S+)")


@dataclass(frozen=True)
class Concurrency:
    peak: int                 # most invocations open at once
    invocations: int          # STARTs seen
    unended: tuple[str, ...]  # request ids STARTed but never ENDed (still running, or the log is cut)
    orphan_ends: int          # ENDs whose START is not in these lines (the window began mid-invocation)


def concurrency(lines: list[str]) -> Concurrency:
    open_: dict[str, None] = {}
    peak = starts = orphans = 0
    for line in lines:
        m = _START.match(line)
        if m:
            starts += 1
            open_[m.group(1)] = None
            peak = max(peak, len(open_))
            continue
        m = _END.match(line)
        if m:
            if m.group(1) in open_:
                del open_[m.group(1)]
            else:
                orphans += 1
    return Concurrency(peak=peak, invocations=starts, unended=tuple(open_), orphan_ends=orphans)


_FAILED_REPORT = re.compile(r"\tStatus: (?!success)")
_ERROR_LINE = re.compile(r"\[ERROR\]|Traceback|Exception|Error[:\s]|errorMessage|Task timed out")


@dataclass(frozen=True)
class Attempts:
    reports: tuple[str, ...]       # the REPORT line of each ended attempt of one request id, in order
    last_failed: bool              # the last attempt ended in an error or a timeout
    last_error: str | None         # the last error-looking line the function logged for that request
    running: bool                  # an attempt has STARTed and not yet REPORTed


def attempts(lines: list[str], request_id: str) -> Attempts:
    """What one request id's attempts left in the log: Lambda writes START/END/REPORT for each attempt
    (async retries keep the request id); the lines between a START and its END are the function's own."""
    reports: list[str] = []
    last_error = None
    inside = errored = running = False
    for line in lines:
        if line.startswith(f"START RequestId: {request_id}"):
            inside, errored, running = True, False, True
        elif line.startswith(f"END RequestId: {request_id}"):
            inside = False
        elif line.startswith(f"REPORT RequestId: {request_id}"):
            reports.append(line)
            errored = errored or bool(_FAILED_REPORT.search(line))
            running = False
        elif (inside or request_id in line) and _ERROR_LINE.search(line) and not line.startswith(("START", "END")):
            last_error, errored = line.strip(), True
    return Attempts(tuple(reports), bool(reports) and errored, last_error, running)
