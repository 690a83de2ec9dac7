"""Step 1: prove the package deploys and the runtime invokes it."""

from __future__ import annotations

from typing import Any


def handler(event: Any, context: Any) -> dict:
    return {"statusCode": 200, "body": "Hello from Lambda"}
