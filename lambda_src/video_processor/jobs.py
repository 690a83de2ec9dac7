"""DynamoDB adapter for job records (hash key ``video_id`` = job_id).

Every write is conditional, so the rules in ``status.py`` hold even with
concurrent deliveries: decisions are made on a consistent read and the write
only lands if the record is still exactly what was read (status and
``updated_at`` act as an optimistic lock). A lost race re-reads and re-decides.
Transient errors are retried with ``retry_transient``; everything else
propagates to the caller, which owns the error policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from . import clock
from .errors import TransientError, TransitionRefused
from .retry import retry_transient
from .status import (
    COMPLETED,
    FAILED,
    PROCESSING,
    QUEUED,
    ClaimDecision,
    check_transition,
    decide_claim,
)

MAX_RACE_ATTEMPTS = 3
# The table's hash key; the harness compares it with terraform's aws_dynamodb_table.
HASH_KEY = "video_id"
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Claim:
    """Outcome of ``JobStore.claim``; ``updated_at`` is the stamp this claim wrote (None if skipped)."""

    decision: ClaimDecision
    record: Mapping[str, Any] | None
    updated_at: str | None

    @property
    def previous_status(self) -> str | None:
        return None if self.record is None else self.record.get("status")


def is_conditional_failure(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class JobStore:
    """Job records in one table, through an injected low-level dynamodb client."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    # -- reads -------------------------------------------------------------
    def get(self, job_id: str) -> dict[str, Any] | None:
        """Strongly consistent read: decisions must not act on a stale status."""
        response = retry_transient(
            lambda: self._db.get_item(TableName=self._table, Key=_key(job_id), ConsistentRead=True)
        )
        item = response.get("Item")
        if not item:
            return None
        return {name: _deserializer.deserialize(value) for name, value in item.items()}

    # -- the claim ---------------------------------------------------------
    def claim(self, job_id: str, request_id: str, processing_method: str) -> Claim:
        """QUEUED/absent -> PROCESSING (or same-request takeover); DUPLICATE writes nothing."""
        for _ in range(MAX_RACE_ATTEMPTS):
            record = self.get(job_id)
            decision = decide_claim(record, request_id)
            if decision is ClaimDecision.DUPLICATE:
                return Claim(decision, record, None)
            now = clock.next_timestamp(_updated_at(record))
            values: dict[str, Any] = {
                ":processing": {"S": PROCESSING},
                ":rid": {"S": request_id},
                ":method": {"S": processing_method},
                ":now": {"S": now},
            }
            if record is None:
                condition = "attribute_not_exists(video_id)"
            elif decision is ClaimDecision.CLAIM:
                condition = "#s = :queued AND " + _unchanged(record, values)
                values[":queued"] = {"S": QUEUED}
            else:  # TAKEOVER: still PROCESSING under this very request id
                condition = "#s = :processing AND request_id = :rid AND " + _unchanged(record, values)
            try:
                self._update(
                    job_id,
                    "SET #s = :processing, request_id = :rid, processing_method = :method, "
                    "updated_at = :now, created_at = if_not_exists(created_at, :now)",
                    condition,
                    values,
                )
            except ClientError as exc:
                if is_conditional_failure(exc):
                    continue  # somebody wrote in between: re-read and decide again
                raise
            return Claim(decision, record, now)
        raise TransientError(f"job {job_id}: claim kept losing races after {MAX_RACE_ATTEMPTS} attempts")

    # -- owner writes after the claim -----------------------------------------
    def complete(
        self,
        job_id: str,
        request_id: str,
        *,
        after: str | None,
        output_keys: Sequence[str],
        processing_duration_seconds: float,
    ) -> str:
        """PROCESSING (ours) -> COMPLETED with the outputs; returns the new updated_at."""
        now = clock.next_timestamp(after)
        values = {
            ":processing": {"S": PROCESSING},
            ":completed": {"S": COMPLETED},
            ":rid": {"S": request_id},
            ":now": {"S": now},
            ":outputs": {"L": [{"S": key} for key in output_keys]},
            ":count": {"N": str(len(output_keys))},
            ":duration": {"N": f"{processing_duration_seconds:.3f}"},
        }
        try:
            self._update(
                job_id,
                "SET #s = :completed, updated_at = :now, output_s3_urls = :outputs, "
                "segments_created = :count, processing_duration_seconds = :duration "
                "REMOVE error_message",
                "#s = :processing AND request_id = :rid",
                values,
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            record = self.get(job_id)
            # A retried call whose first attempt landed is success, not a refusal.
            if record and record.get("status") == COMPLETED and record.get("request_id") == request_id:
                return str(record.get("updated_at"))
            raise TransitionRefused(job_id, _status(record), COMPLETED, "record is not PROCESSING by this request") from None
        return now

    def fail(self, job_id: str, reason: str, *, after: str | None = None, request_id: str | None = None) -> str:
        """QUEUED/PROCESSING -> FAILED with a one-line reason; never touches COMPLETED."""
        now = clock.next_timestamp(after)
        values = {
            ":queued": {"S": QUEUED},
            ":processing": {"S": PROCESSING},
            ":failed": {"S": FAILED},
            ":now": {"S": now},
            ":reason": {"S": reason},
        }
        condition = "#s IN (:queued, :processing)"
        if request_id is not None:
            condition += " AND request_id = :rid"
            values[":rid"] = {"S": request_id}
        try:
            self._update(job_id, "SET #s = :failed, updated_at = :now, error_message = :reason", condition, values)
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            record = self.get(job_id)
            if record and record.get("status") == FAILED and record.get("error_message") == reason:
                return str(record.get("updated_at"))
            raise TransitionRefused(job_id, _status(record), FAILED, "record changed or is terminal") from None
        return now

    # -- explicit transition (job_status step) ----------------------------------
    def transition(
        self,
        job_id: str,
        target: str,
        *,
        error_message: str | None = None,
        request_id: str | None = None,
        processing_method: str | None = None,
    ) -> tuple[str | None, str]:
        """Apply one allowed transition; returns (previous_status, updated_at)."""
        for _ in range(MAX_RACE_ATTEMPTS):
            record = self.get(job_id)
            current = _status(record)
            check_transition(job_id, current, target)
            now = clock.next_timestamp(_updated_at(record))
            values: dict[str, Any] = {":to": {"S": target}, ":now": {"S": now}}
            sets = ["#s = :to", "updated_at = :now", "created_at = if_not_exists(created_at, :now)"]
            if target == FAILED:
                values[":reason"] = {"S": error_message or "marked FAILED"}
                sets.append("error_message = :reason")
            if target == PROCESSING and request_id:
                values[":rid"] = {"S": request_id}
                sets.append("request_id = :rid")
                if processing_method:
                    values[":method"] = {"S": processing_method}
                    sets.append("processing_method = :method")
            if record is None:
                condition = "attribute_not_exists(video_id)"
            else:
                values[":from"] = {"S": str(current)}
                condition = "#s = :from AND " + _unchanged(record, values)
            try:
                self._update(job_id, "SET " + ", ".join(sets), condition, values)
            except ClientError as exc:
                if is_conditional_failure(exc):
                    continue
                raise
            return current, now
        raise TransitionRefused(job_id, None, target, "record kept changing concurrently")

    # -- plumbing --------------------------------------------------------------
    def _update(self, job_id: str, expression: str, condition: str, values: dict[str, Any]) -> None:
        names = {"#s": "status"} if "#s" in expression + condition else None
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(job_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        retry_transient(lambda: self._db.update_item(**kwargs))


def _key(job_id: str) -> dict[str, Any]:
    return {HASH_KEY: {"S": job_id}}


def _status(record: Mapping[str, Any] | None) -> str | None:
    return None if record is None else record.get("status")


def _updated_at(record: Mapping[str, Any] | None) -> str | None:
    value = None if record is None else record.get("updated_at")
    return value if isinstance(value, str) else None


def _unchanged(record: Mapping[str, Any], values: dict[str, Any]) -> str:
    """Optimistic-lock clause: the record still carries the updated_at we read."""
    previous = _updated_at(record)
    if previous is None:
        return "attribute_not_exists(updated_at)"
    values[":prev"] = {"S": previous}
    return "updated_at = :prev"
