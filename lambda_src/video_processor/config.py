"""The only module that reads environment variables.

Every variable is read with a literal ``environ["X"]`` (required) or
``environ.get("X", default)`` (optional) call so a static scan can list them.
Endpoints are not configured here: boto3 reads AWS_ENDPOINT_URL & co. itself,
so the same code runs against the local emulator and real AWS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["Config", "ConfigError", "read_ffmpeg_path", "read_log_level"]

DEFAULT_FFMPEG_PATH = "/opt/bin/ffmpeg"
DEFAULT_TIMEOUT_MARGIN_MS = 10000
DEFAULT_LOG_LEVEL = "INFO"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Config:
    """Deployment settings; built once per invocation from the environment."""

    bucket: str
    table: str
    ffmpeg_path: str = DEFAULT_FFMPEG_PATH
    timeout_margin_ms: int = DEFAULT_TIMEOUT_MARGIN_MS
    log_level: str = DEFAULT_LOG_LEVEL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Config:
        """Read the environment; a missing/empty required variable raises ConfigError naming it."""
        try:
            bucket = environ["VIDEO_BUCKET"]
        except KeyError:
            raise ConfigError("missing required environment variable VIDEO_BUCKET") from None
        try:
            table = environ["JOBS_TABLE"]
        except KeyError:
            raise ConfigError("missing required environment variable JOBS_TABLE") from None
        if not bucket.strip():
            raise ConfigError("environment variable VIDEO_BUCKET is empty")
        if not table.strip():
            raise ConfigError("environment variable JOBS_TABLE is empty")
        raw_margin = environ.get("TIMEOUT_MARGIN_MS", str(DEFAULT_TIMEOUT_MARGIN_MS))
        return cls(
            bucket=bucket,
            table=table,
            ffmpeg_path=read_ffmpeg_path(environ),
            timeout_margin_ms=_parse_margin(raw_margin),
            log_level=read_log_level(environ),
        )


def read_ffmpeg_path(environ: Mapping[str, str] = os.environ) -> str:
    """FFMPEG_PATH alone, for the ffmpeg check step (which needs no bucket or table)."""
    return environ.get("FFMPEG_PATH", DEFAULT_FFMPEG_PATH) or DEFAULT_FFMPEG_PATH


def read_log_level(environ: Mapping[str, str] = os.environ) -> str:
    """LOG_LEVEL alone, normalised to upper case; unknown names raise ConfigError."""
    level = (environ.get("LOG_LEVEL", DEFAULT_LOG_LEVEL) or DEFAULT_LOG_LEVEL).strip().upper()
    if level not in _LOG_LEVELS:
        raise ConfigError(f"environment variable LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {level!r}")
    return level


def _parse_margin(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"environment variable TIMEOUT_MARGIN_MS must be an integer, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"environment variable TIMEOUT_MARGIN_MS must be >= 0, got {value}")
    return value
