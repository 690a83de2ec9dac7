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
