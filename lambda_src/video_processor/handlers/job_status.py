"""Step: apply one job status transition through the conditional-write adapter."""

from __future__ import annotations

from typing import Any

from ..aws import client
from ..config import Config
from ..events import parse_status_event
from ..jobs import JobStore
from ..logs import configure_logging, stage


def apply_status(event: Any, *, dynamodb: Any, config: Config, request_id: str | None = None) -> dict:
    """Raises TransitionRefused (naming from/to) when the rules or a concurrent write forbid it."""
    request = parse_status_event(event)
    with stage(request.job_id, "job_status", target=request.status) as info:
        previous, updated_at = JobStore(dynamodb, config.table).transition(
            request.job_id, request.status, error_message=request.error_message,
            request_id=request_id, processing_method="lambda" if request_id else None,
        )
        info["previous_status"] = previous
    return {"job_id": request.job_id, "previous_status": previous, "status": request.status, "updated_at": updated_at}


def handler(event: Any, context: Any) -> dict:
    config = Config.from_env()
    configure_logging(config.log_level)
    return apply_status(event, dynamodb=client("dynamodb"), config=config,
                        request_id=getattr(context, "aws_request_id", None))
