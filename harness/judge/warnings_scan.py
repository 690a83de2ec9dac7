"""The rollout plan's early warning signs, counted in function logs (pure)."""
from __future__ import annotations

import re

SIGNS = {
    "lambda_timeout": re.compile(r"Task timed out after|Sandbox\.Timedout"),
    "memory_limit": re.compile(r"Runtime\.OutOfMemory|MemoryError"),
    "s3_permission_denied": re.compile(r"AccessDenied|Access Denied"),
    "dynamodb_throttling": re.compile(r"ProvisionedThroughputExceeded|ThrottlingException"),
}
_REPORT = re.compile(r"Memory Size: (\d+) MB\s+Max Memory Used: (\d+) MB")
NEAR_LIMIT = 0.9


def count_signs(lines: list[str]) -> dict[str, int]:
    counts = {name: 0 for name in SIGNS}
    for line in lines:
        for name, pattern in SIGNS.items():
            if pattern.search(line):
                counts[name] += 1
        m = _REPORT.search(line)
        if m and int(m.group(2)) >= NEAR_LIMIT * int(m.group(1)):
            counts["memory_limit"] += 1
    return counts
