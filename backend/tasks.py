"""Celery app and the processing task (the pre-Lambda path, and the fallback).

Start a worker with::

    PYTHONPATH=lambda_src celery -A backend.tasks worker --pool=solo -l INFO

The task calls the same ``video_processor.processing.run_job`` as the Lambda
function, so both paths write identical job records (processing_method differs).
"""

from __future__ import annotations

from typing import Any

from celery import signals

from backend.aws import AwsClients
from backend.celery_app import TASK_NAME, make_celery
from backend.settings import Settings

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
