"""FastAPI app factory. ``uvicorn backend.app:app`` serves the module-level app."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from backend import routes_jobs, routes_test
from backend.aws import AwsClients
from backend.dispatch import CeleryDispatcher, Dispatcher
from backend.errors import install_error_handlers
from backend.settings import Settings

log = logging.getLogger("backend.app")


def create_app(
    settings: Settings | None = None,
    *,
    dispatcher: Dispatcher | None = None,
    aws: AwsClients | None = None,
) -> FastAPI:
    """Build the app around injected settings, Celery dispatcher and AWS clients.

    Everything lives on ``app.state`` (settings, dispatcher, aws) and is read
    per request, so tests and the drill endpoint can flip flags on a live app.
    Test endpoints are not even registered unless ENABLE_TEST_ENDPOINTS.
    """
    settings = settings if settings is not None else Settings()
    app = FastAPI(title=f"{settings.PROJECT_NAME} backend")
    app.state.settings = settings
    app.state.dispatcher = dispatcher if dispatcher is not None else CeleryDispatcher()
    app.state.aws = aws if aws is not None else AwsClients()
    install_error_handlers(app)
    app.include_router(routes_jobs.router)
    if settings.ENABLE_TEST_ENDPOINTS:
        app.include_router(routes_test.router)
        log.warning("test endpoints enabled (ENABLE_TEST_ENDPOINTS=true)")
    if settings.FAILURE_QUEUE_URL:
        _consume_failures(app, settings)
    return app


def _consume_failures(app: FastAPI, settings: Settings) -> None:
    """Start the on-failure destination consumer with the app, stop it with the app."""
    from backend.aws import JobStore, make_client
    from backend.failures import FailureConsumer, output_cleaner

    state: dict = {}

    @app.on_event("startup")
    def _start() -> None:
        store = JobStore(app.state.aws.dynamodb, settings.DYNAMODB_TABLE_NAME)
        state["consumer"] = FailureConsumer(
            make_client("sqs"), settings.FAILURE_QUEUE_URL, store,
            cleanup=output_cleaner(app.state.aws.s3, settings.AWS_BUCKET_NAME)).start()

    @app.on_event("shutdown")
    def _stop() -> None:
        if "consumer" in state:
            state["consumer"].stop()


app = create_app()
