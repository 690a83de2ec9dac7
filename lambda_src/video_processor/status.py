"""Job status rules (pure): QUEUED -> PROCESSING -> COMPLETED | FAILED, QUEUED -> FAILED.

Never backwards; COMPLETED and FAILED are terminal. ``None`` stands for "no
record yet": a job may be created QUEUED, or directly PROCESSING by a claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from .errors import TransitionRefused

QUEUED = "QUEUED"
PROCESSING = "PROCESSING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
ALL_STATUSES = (QUEUED, PROCESSING, COMPLETED, FAILED)
TERMINAL = frozenset({COMPLETED, FAILED})

ALLOWED: Mapping[str | None, frozenset[str]] = {
    None: frozenset({QUEUED, PROCESSING}),
    QUEUED: frozenset({PROCESSING, FAILED}),
    PROCESSING: frozenset({COMPLETED, FAILED}),
    COMPLETED: frozenset(),
    FAILED: frozenset(),
}


def can_transition(current: str | None, target: str) -> bool:
    """True when ``current -> target`` is allowed (unknown statuses allow nothing)."""
    return target in ALLOWED.get(current, frozenset())


def check_transition(job_id: str, current: str | None, target: str) -> None:
    """Raise TransitionRefused (naming from/to) unless the transition is allowed."""
    if not can_transition(current, target):
        raise TransitionRefused(job_id, current, target)


class ClaimDecision(str, Enum):
    """What a delivery of a job should do, given the stored record."""

    CLAIM = "claim"  # no record, or QUEUED: take it
    TAKEOVER = "takeover"  # PROCESSING by this same request id (async retry): clean up and redo
    DUPLICATE = "duplicate"  # someone else has it, or it is finished: do nothing


def decide_claim(record: Mapping[str, Any] | None, request_id: str) -> ClaimDecision:
    """Pure decision behind the claim; the conditional write then enforces it."""
    if record is None:
        return ClaimDecision.CLAIM
    status = record.get("status")
    if status == QUEUED:
        return ClaimDecision.CLAIM
    if status == PROCESSING and record.get("request_id") == request_id:
        return ClaimDecision.TAKEOVER
    return ClaimDecision.DUPLICATE
