"""The full job on Lambda: ``run_job`` with cached clients and the invocation's clock."""

from __future__ import annotations

import uuid
from typing import Any

from ..aws import client
from ..config import Config
from ..logs import configure_logging
from ..processing import run_job


def handler(event: Any, context: Any) -> dict:
    config = Config.from_env()
    configure_logging(config.log_level)
    # Async retries keep aws_request_id, which is what lets a redelivery take over its own claim.
    request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    return run_job(
        event,
        s3=client("s3"),
        dynamodb=client("dynamodb"),
        config=config,
        request_id=request_id,
        remaining_ms=getattr(context, "get_remaining_time_in_millis", None),
    )
