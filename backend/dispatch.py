"""The Celery side of routing, behind a plain callable so tests can inject a recorder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.celery_app import TASK_NAME

Dispatcher = Callable[[dict[str, Any]], str]
"""Queues one processing event on the Celery path and returns the task id."""



class DispatchError(Exception):
    """The broker refused or could not be reached; the job was not queued."""


class CeleryDispatcher:
    """Default dispatcher: ``process_video_task.delay(event)``.

    ``celery_app`` lets a caller publish through another Celery app (e.g. one
    pointed at a test Redis) by task name, without re-importing backend.tasks.
    """

    def __init__(self, celery_app: Any = None) -> None:
        self._celery_app = celery_app

    def __call__(self, event: dict[str, Any]) -> str:
        try:
            if self._celery_app is not None:
                result = self._celery_app.send_task(TASK_NAME, args=[event])
            else:
                from backend.tasks import process_video_task  # lazy: web import needs no broker

                result = process_video_task.delay(event)
        except Exception as exc:  # kombu OperationalError, redis errors, ...
            raise DispatchError(f"could not queue Celery task {TASK_NAME}: {type(exc).__name__}: {exc}") from exc
        return str(result.id)
