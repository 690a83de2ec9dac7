"""Structured logs: one JSON line per stage on stdout.

CloudWatch (and the local emulator) capture stdout; JSON keeps each line
queryable with ``{"job_id", "stage", "duration_ms", "level", ...}``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LOGGER_NAME = "video_processor"
_HANDLER_MARK = "_video_processor_json"


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at emit time (test capture, Lambda, Celery)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class JsonFormatter(logging.Formatter):
    """Render ``record.fields`` (set by ``log_event``) as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {"level": record.levelname}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        else:
            payload["message"] = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            payload.setdefault("error", _one_line(record.exc_info[1]))
        return json.dumps(payload, default=str, sort_keys=False)


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def configure_logging(level: str = "INFO") -> logging.Logger:
    """Attach one stdout JSON handler (idempotent) and set the level.

    propagate=False so the Lambda runtime's root handler does not print a
    second, non-JSON copy of every line.
    """
    logger = get_logger()
    if not any(getattr(h, _HANDLER_MARK, False) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        setattr(handler, _HANDLER_MARK, True)
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def log_event(job_id: str | None, stage: str, level: int = logging.INFO, **fields: Any) -> None:
    """Emit one structured line."""
    get_logger().log(level, stage, extra={"fields": {"job_id": job_id, "stage": stage, **fields}})


@contextmanager
def stage(job_id: str | None, name: str, **fields: Any) -> Iterator[dict[str, Any]]:
    """Time a stage and log it once; the yielded dict adds fields to that line."""
    extra: dict[str, Any] = dict(fields)
    started = time.monotonic()
    try:
        yield extra
    except BaseException as exc:
        duration = int((time.monotonic() - started) * 1000)
        log_event(
            job_id, name, logging.ERROR, duration_ms=duration, outcome="error",
            error_type=type(exc).__name__, error=_one_line(exc), **extra,
        )
        raise
    duration = int((time.monotonic() - started) * 1000)
    log_event(job_id, name, logging.INFO, duration_ms=duration, outcome="ok", **extra)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:500]
