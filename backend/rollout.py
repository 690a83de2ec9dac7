"""Which path a new job takes during a progressive rollout: by weight, per job, stable.

A job goes to Lambda when `sha256(salt, job_id) mod 10000 < weight`, the weight in basis points
(0..10000). The hash is stable, so widening the weight only ever adds jobs to Lambda, and a retried
job keeps its path. The weight and the salt live in SSM Parameter Store
(`/<project>/rollout/lambda-weight` and `/<project>/rollout/salt`), read through a short cache:
changing the weight needs no redeploy.

USE_LAMBDA_PROCESSING stays the switch above the weight: `false` is the hard kill switch (weight 0
whatever SSM says), `true` sends every job to Lambda, unset lets the weight decide. A weight that is
not an integer in 0..10000 routes to Celery and logs one line naming the value.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("backend.rollout")

FULL = 10000          # basis points: 100 %


def bucket(salt: str, job_id: str) -> int:
    """The job's stable place in 0..9999 (pure)."""
    digest = hashlib.sha256(salt.encode() + b"\0" + job_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % FULL


def to_lambda(job_id: str, weight: int, salt: str) -> bool:
    return bucket(salt, job_id) < weight


def parse_weight(raw: object) -> tuple[int | None, str]:
    """(weight, "") for an integer in 0..10000, else (None, one line naming the value) (pure)."""
    text = str(raw).strip() if raw is not None else ""
    try:
        value = int(text)
    except ValueError:
        return None, f"rollout weight {raw!r} is not an integer number of basis points (0..10000)"
    if not 0 <= value <= FULL:
        return None, f"rollout weight {value} is outside 0..10000 basis points"
    return value, ""


@dataclass(frozen=True)
class Route:
    method: str            # lambda | celery
    weight: int            # the weight it was routed under, basis points
    by: str                # flag | kill-switch | weight | malformed-weight | unreadable-weight


def decide(job_id: str, flag: bool | None, weight_raw: object, salt: str) -> Route:
    """The path of one new job (pure): the flag first, then the weight."""
    if flag is False:
        return Route("celery", 0, "kill-switch")
    if flag is True:
        return Route("lambda", FULL, "flag")
    if weight_raw is None:
        return Route("celery", 0, "unreadable-weight")
    weight, problem = parse_weight(weight_raw)
    if weight is None:
        log.warning("job %s routed to Celery: %s", job_id, problem)
        return Route("celery", 0, "malformed-weight")
    return Route("lambda" if to_lambda(job_id, weight, salt) else "celery", weight, "weight")


class WeightReader:
    """The weight and salt from SSM, cached for `ttl` seconds; an unreadable parameter routes to Celery."""

    def __init__(self, ssm: Any, weight_name: str, salt_name: str, ttl: float = 5.0) -> None:
        self.ssm, self.weight_name, self.salt_name, self.ttl = ssm, weight_name, salt_name, ttl
        self._lock = threading.Lock()
        self._value: tuple[object, str] | None = None
        self._read_at = 0.0

    def current(self) -> tuple[object, str]:
        """(raw weight, salt); the raw weight is None when SSM could not be read."""
        with self._lock:
            if self._value is not None and time.monotonic() - self._read_at < self.ttl:
                return self._value
        try:
            got = self.ssm.get_parameters(Names=[self.weight_name, self.salt_name])
            values = {p["Name"]: p["Value"] for p in got.get("Parameters", [])}
            value = (values.get(self.weight_name), values.get(self.salt_name, ""))
            if self.weight_name not in values:
                log.warning("rollout weight parameter %s does not exist: routing to Celery", self.weight_name)
        except Exception as exc:   # SSM down or denied: the safe path, said once per read
            log.warning("rollout weight %s unreadable (%s): routing to Celery", self.weight_name, exc)
            value = (None, "")
        with self._lock:
            self._value, self._read_at = value, time.monotonic()
        return value
