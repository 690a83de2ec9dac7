"""Error classification (pure) and a small bounded exponential-backoff helper.

botocore's own "standard" retries run first inside each call; this helper adds
a few attempts around whole operations (e.g. an upload) so a throttling burst
longer than botocore's window does not fail the job.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Literal, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from .errors import VideoProcessorError

T = TypeVar("T")
Kind = Literal["transient", "permanent"]

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "BandwidthLimitExceeded",
        "InternalError",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "TransactionInProgressException",
    }
)


def classify(exc: BaseException) -> Kind:
    """Whether retrying the failed operation can help.

    Walks the exception chain (boto3's S3UploadFailedError wraps the ClientError)
    and answers for the first link it recognises; unknown errors are permanent
    so bugs are not retried.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = _classify_one(current)
        if kind is not None:
            return kind
        current = current.__cause__ or current.__context__
    return "permanent"


def _classify_one(exc: BaseException) -> Kind | None:
    if isinstance(exc, VideoProcessorError):
        return "permanent" if exc.permanent else "transient"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {}) or {}
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in TRANSIENT_CODES:
            return "transient"
        if isinstance(status, int) and (status >= 500 or status == 429):
            return "transient"
        if code.isdigit() and (int(code) >= 500 or int(code) == 429):
            return "transient"
        return "permanent"  # NoSuchKey, 404, AccessDenied, ValidationException, ...
    if isinstance(exc, (BotocoreConnectionError, HTTPClientError)):
        return "transient"  # EndpointConnectionError, ReadTimeoutError, ConnectionClosedError, ...
    if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout, subprocess.TimeoutExpired)):
        return "transient"
    return None


def backoff_delays(attempts: int, base: float = 0.1, cap: float = 2.0) -> Iterator[float]:
    """Upper bounds of the sleeps between ``attempts`` tries: base, 2*base, ... capped."""
    for n in range(max(attempts - 1, 0)):
        yield min(cap, base * (2**n))


def retry_transient(
    operation: Callable[[], T],
    *,
    attempts: int = 4,
    base: float = 0.1,
    cap: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
) -> T:
    """Run ``operation``; on a transient error sleep (jittered, bounded) and try again.

    Permanent errors and the last transient one propagate unchanged.
    """
    delays = list(backoff_delays(attempts, base, cap))
    for attempt in range(attempts):
        try:
            return operation()
        except Exception as exc:
            if attempt >= len(delays) or classify(exc) != "transient":
                raise
            delay = delays[attempt] * (0.5 + rand() / 2)
            if on_retry is not None:
                on_retry(exc, attempt + 1, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
