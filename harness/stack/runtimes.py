"""Lambda's Python runtimes and their dates: which ones a function may still be deployed on (pure).

Source: "Supported runtimes" and the Python page of the Lambda developer guide
(docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html, lambda-python.html), as of 2026-12-01.
After "block create" AWS refuses new functions on the runtime, after "block update" it refuses code
updates: a rollout can no longer ship a fix. 1A fails a runtime past either date and warns within
WARN_DAYS of deprecation. Update a row when AWS publishes new dates.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

AS_OF = date(2026, 12, 1)
SOURCE = "docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html (as of 2026-12-01)"
WARN_DAYS = 180


@dataclass(frozen=True)
class Lifecycle:
    runtime: str
    os: str
    deprecation: date
    block_create: date
    block_update: date


TABLE = {r.runtime: r for r in (
    Lifecycle("python3.13", "Amazon Linux 2023", date(2029, 6, 30), date(2029, 7, 31), date(2029, 8, 31)),
    Lifecycle("python3.12", "Amazon Linux 2023", date(2028, 10, 31), date(2028, 11, 30), date(2029, 1, 10)),
    Lifecycle("python3.11", "Amazon Linux 2", date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31)),
    Lifecycle("python3.10", "Amazon Linux 2", date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31)),
    Lifecycle("python3.9", "Amazon Linux 2", date(2025, 12, 15), date(2026, 2, 3), date(2026, 3, 9)),
)}


def judge(runtime: str, today: date) -> tuple[bool, str]:
    """(ok, one line) for a declared runtime on a given day."""
    row = TABLE.get(runtime)
    if row is None:
        return False, (f"runtime {runtime!r} is not in the table of Lambda Python runtimes "
                       f"({', '.join(sorted(TABLE))}; harness/stack/runtimes.py, {SOURCE})")
    if today >= row.block_update:
        return False, (f"{runtime} ({row.os}): AWS blocks function updates since {row.block_update} "
                       f"(deprecated {row.deprecation}): move to {newest()}")
    if today >= row.block_create:
        return False, (f"{runtime} ({row.os}): AWS blocks new functions since {row.block_create} and updates from "
                       f"{row.block_update}: move to {newest()}")
    if today >= row.deprecation:
        return True, (f"warning: {runtime} ({row.os}) is deprecated since {row.deprecation}; new functions are "
                      f"blocked from {row.block_create}: move to {newest()}")
    left = (row.deprecation - today).days
    if left <= WARN_DAYS:
        return True, f"warning: {runtime} ({row.os}) is deprecated on {row.deprecation}, in {left} days"
    return True, f"{runtime} ({row.os}) is supported until {row.deprecation} ({SOURCE})"


def newest() -> str:
    return max(TABLE.values(), key=lambda r: r.deprecation).runtime
