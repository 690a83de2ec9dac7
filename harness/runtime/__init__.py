"""A faithful local AWS Lambda runtime: real awslambdaric processes, real limits."""
from __future__ import annotations

from .runtime import LambdaRuntime
from .spec import FunctionSpec, InvocationRecord, InvokeResult, TooManyRequests

__all__ = ["FunctionSpec", "InvocationRecord", "InvokeResult", "LambdaRuntime", "TooManyRequests"]
