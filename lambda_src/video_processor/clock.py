"""``updated_at`` timestamps: ISO-8601 UTC with microseconds, strictly increasing per record.

Each stamp is at least 1 us after the stamp already on the record (passed as
``after``), so two writes in the same microsecond, or a writer whose clock is
behind the previous writer's, still move ``updated_at`` forward. No
process-wide state: one record with a skewed stamp must not skew the others.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_ONE_US = timedelta(microseconds=1)


def format_ts(moment: datetime) -> str:
    """``2026-11-28T22:31:37.123456Z``; fixed width, so strings sort like times."""
    return moment.astimezone(UTC).strftime(FORMAT)


def parse_ts(text: str) -> datetime:
    """Inverse of ``format_ts``."""
    return datetime.strptime(text, FORMAT).replace(tzinfo=UTC)


def next_timestamp(after: str | None = None, now: datetime | None = None) -> str:
    """max(now, after + 1 us), formatted."""
    moment = now or datetime.now(UTC)
    if after:
        try:
            moment = max(moment, parse_ts(after) + _ONE_US)
        except ValueError:
            pass  # a foreign format on the record cannot be ordered against; use the clock
    return format_ts(moment)
