"""Module-level cached boto3 clients for the handlers (reused across warm invocations).

Endpoints and region come from the standard environment (AWS_ENDPOINT_URL,
AWS_REGION, ...), which boto3 reads itself.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

# Bounded retries in botocore's "standard" mode; our retry_transient adds a few more around whole operations.
BOTO_CONFIG = BotoConfig(
    retries={"max_attempts": 4, "mode": "standard"},
    connect_timeout=5,
    read_timeout=60,
)
# SigV4 presigned URLs: SigV2 query auth is not accepted in newer regions.
S3_CONFIG = BOTO_CONFIG.merge(BotoConfig(signature_version="s3v4"))


@functools.cache
def client(service: str) -> Any:
    """A boto3 client with bounded standard-mode retries, created on first use."""
    return boto3.client(service, config=S3_CONFIG if service == "s3" else BOTO_CONFIG)
