"""The Celery app's configuration and the processing task's name: what the publisher and the worker share.

The web side (backend.dispatch) publishes by this name; the worker (backend.tasks) registers the task
under it. Neither imports the other for it, so the import graph has no circle.
"""

from __future__ import annotations

from celery import Celery

from backend.settings import Settings

TASK_NAME = "backend.tasks.process_video_task"


def make_celery(settings: Settings) -> Celery:
    """Redis is both broker and result backend."""
    app = Celery(settings.PROJECT_NAME, broker=settings.REDIS_URL, backend=settings.REDIS_URL)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # Publishing must fail fast when Redis is down, so the API can answer 503.
        broker_transport_options={"max_retries": 1, "socket_connect_timeout": 3},
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5},
        # The publisher subscribes to the result channel; by default that retries 20x1s.
        result_backend_transport_options={
            "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
        },
        redis_socket_connect_timeout=3,
    )
    return app
