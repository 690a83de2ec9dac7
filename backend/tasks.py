"""Celery app and the processing task (the pre-Lambda path, and the fallback).

Start a worker with::

    PYTHONPATH=lambda_src celery -A backend.tasks worker --pool=solo -l INFO

The task calls the same ``video_processor.processing.run_job`` as the Lambda
function, so both paths write identical job records (processing_method differs).
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals

from backend.aws import AwsClients
from backend.dispatch import TASK_NAME
from backend.settings import Settings


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


settings = Settings()
celery_app = make_celery(settings)
app = celery_app  # `celery -A backend.tasks` looks for `app`

_clients = AwsClients()


def processor_config(s: Settings) -> Any:
    from video_processor.core import Config

    return Config(
        bucket=s.AWS_BUCKET_NAME,
        table=s.DYNAMODB_TABLE_NAME,
        ffmpeg_path=s.FFMPEG_PATH,
        timeout_margin_ms=10000,
        log_level="INFO",
    )


@signals.worker_init.connect
def _check_processor_importable(**_: Any) -> None:
    """Fail at worker start, not on the first job, when lambda_src is not on PYTHONPATH."""
    import video_processor.core  # noqa: F401


@celery_app.task(name=TASK_NAME, bind=True)
def process_video_task(self: Any, event: dict[str, Any]) -> dict[str, Any]:
    """Run the shared processing core for one job; returns run_job's result dict."""
    from video_processor.core import run_job

    return run_job(
        event,
        s3=_clients.s3,
        dynamodb=_clients.dynamodb,
        config=processor_config(settings),
        request_id=str(self.request.id),
        remaining_ms=None,
        processing_method="celery",
    )
