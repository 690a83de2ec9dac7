"""Per-request access to what create_app stored on app.state (settings, clients, dispatcher)."""

from __future__ import annotations

from fastapi import Request

from backend.aws import AwsClients, JobStore, LambdaInvoker
from backend.dispatch import Dispatcher
from backend.errors import ApiError
from backend.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_clients(request: Request) -> AwsClients:
    return request.app.state.aws


def get_dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


def require(settings: Settings, name: str) -> str:
    """A missing bucket/table is a deployment problem: say which variable, as a 503."""
    value = getattr(settings, name)
    if not value:
        raise ApiError(503, f"{name} is not configured on this backend", setting=name)
    return value


def get_store(request: Request) -> JobStore:
    settings = get_settings(request)
    return JobStore(get_clients(request).dynamodb, require(settings, "DYNAMODB_TABLE_NAME"))


def get_weights(request: Request):
    """The rollout weight reader of this process (one per app: its cache is shared by every request)."""
    state = request.app.state
    reader = getattr(state, "weights", None)
    if reader is None:
        from backend.rollout import WeightReader

        settings = get_settings(request)
        reader = state.weights = WeightReader(get_clients(request).ssm, settings.ROLLOUT_WEIGHT_PARAMETER,
                                              settings.ROLLOUT_SALT_PARAMETER, settings.ROLLOUT_CACHE_SECONDS)
    return reader.current


def get_lambda(request: Request) -> LambdaInvoker:
    return LambdaInvoker(get_clients(request).lambda_client)
