"""Every failure the processor reports, one class each.

Lambda reports a raised exception's class name as ``errorType``, so the names
are part of the contract. ``permanent`` says whether retrying the same input
can succeed (False) or is pointless (True).
"""

from __future__ import annotations

# Sentinel: an error rebuilt from its message alone (Celery's JSON result
# backend does ``cls(*args)`` with args == (message,)) must not raise TypeError.
_FROM_MESSAGE = object()


class VideoProcessorError(Exception):
    """Base class of every error this package raises on purpose."""

    permanent: bool = True


class ConfigError(VideoProcessorError):
    """A required environment variable is missing or an optional one is malformed."""

    permanent = True


class InvalidEvent(VideoProcessorError):
    """The invocation event fails validation; nothing was written."""

    permanent = True

    def __init__(self, field: str, value: object = _FROM_MESSAGE, reason: str = "") -> None:
        if value is _FROM_MESSAGE:
            self.field, self.value, self.reason = "", None, field
            super().__init__(field)
            return
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field}: {_show(value)} ({reason})")

    def __reduce__(self) -> tuple:
        return (self.__class__, (self.field, self.value, self.reason) if self.field else self.args)


class SourceNotFound(VideoProcessorError):
    """The source object does not exist in the video bucket."""

    permanent = True


class EmptyFile(VideoProcessorError):
    """The source object exists but holds zero bytes: nothing to cut."""

    permanent = True


class InvalidMedia(VideoProcessorError):
    """ffmpeg could not cut the source (non-zero exit or no segments produced)."""

    permanent = True


class StorageExhausted(VideoProcessorError):
    """The function's ephemeral storage (/tmp) filled up while writing segments."""

    permanent = True


class FfmpegUnavailable(VideoProcessorError):
    """The configured ffmpeg binary is missing or cannot be executed."""

    permanent = True


class TransitionRefused(VideoProcessorError):
    """A job status change is not allowed from the record's current status."""

    permanent = True

    def __init__(
        self, job_id: str, from_status: object = _FROM_MESSAGE, to_status: str = "", detail: str = ""
    ) -> None:
        if from_status is _FROM_MESSAGE:
            self.job_id, self.from_status, self.to_status, self.detail = "", None, "", ""
            super().__init__(job_id)
            return
        self.job_id = job_id
        self.from_status = from_status  # type: ignore[assignment]
        self.to_status = to_status
        self.detail = detail
        suffix = f": {detail}" if detail else ""
        super().__init__(f"job {job_id}: transition {from_status or 'NONE'} -> {to_status} refused{suffix}")

    def __reduce__(self) -> tuple:
        if not self.job_id:
            return (self.__class__, self.args)
        return (self.__class__, (self.job_id, self.from_status, self.to_status, self.detail))


class OutputVerificationFailed(VideoProcessorError):
    """After uploading, the outputs listed under the job prefix differ from what was written."""

    permanent = False


class TransientError(VideoProcessorError):
    """An AWS call kept failing with throttling/5xx/connection errors after bounded retries."""

    permanent = False


class TimeoutGuard(VideoProcessorError):
    """The Lambda deadline minus the safety margin was reached; work was stopped."""

    permanent = True


def _show(value: object, limit: int = 80) -> str:
    """repr() of an offending value, truncated so log lines and messages stay short."""
    text = repr(value)
    if len(text) > limit:
        return text[: limit - 3] + "..."
    return text
