"""Small adapters over boto3 clients: Lambda invoke, job store, presigned URLs.

Clients are injected so tests can hand in moto-backed or stubbed clients; the
adapters only translate between AWS shapes and the backend's own.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from video_processor.core import HASH_KEY, QUEUED, format_ts


def utc_now_iso() -> str:
    """The job record's timestamp format, from the processing core (one definition)."""
    return format_ts(datetime.now(UTC))


class AwsCallError(Exception):
    """A botocore transport/config error, tagged with the AWS operation it broke."""

    def __init__(self, service: str, operation: str, cause: BotoCoreError) -> None:
        super().__init__(f"{service} {operation}: {cause}")
        self.service = service
        self.operation = operation
        self.cause = cause


def call_aws(client: Any, operation: str, **kwargs: Any) -> Any:
    """Call ``client.<operation>`` so non-ClientError failures still name the operation."""
    method = getattr(client, _snake(operation))
    try:
        return method(**kwargs)
    except BotoCoreError as exc:
        service = getattr(getattr(getattr(client, "meta", None), "service_model", None), "service_name", "aws")
        raise AwsCallError(service, operation, exc) from exc


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _region() -> str | None:
    """AWS_REGION first (Lambda's own variable), then boto3's usual lookup."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


# Invoke is not idempotent for RequestResponse, so keep retries low; async
# (Event) duplicates are harmless because run_job claims the job conditionally.
LAMBDA_CLIENT_CONFIG = BotoConfig(
    connect_timeout=5, read_timeout=70, retries={"mode": "standard", "max_attempts": 2}
)
DEFAULT_CLIENT_CONFIG = BotoConfig(
    connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3}
)
# SigV4 presigned URLs (botocore may still default S3 presigning to SigV2).
S3_CLIENT_CONFIG = DEFAULT_CLIENT_CONFIG.merge(BotoConfig(signature_version="s3v4"))
_CLIENT_CONFIGS = {"lambda": LAMBDA_CLIENT_CONFIG, "s3": S3_CLIENT_CONFIG}


def make_client(service: str, **kwargs: Any) -> Any:
    """A boto3 client as the backend uses it (timeouts, retries, SigV4); endpoint from env."""
    import boto3

    kwargs.setdefault("region_name", _region())
    kwargs.setdefault("config", _CLIENT_CONFIGS.get(service, DEFAULT_CLIENT_CONFIG))
    try:
        return boto3.client(service, **kwargs)
    except BotoCoreError as exc:  # e.g. NoRegionError
        raise AwsCallError(service, "CreateClient", exc) from exc


class AwsClients:
    """Lazily built boto3 clients (importing the app must not need AWS config)."""

    def __init__(self, *, s3: Any = None, dynamodb: Any = None, lambda_client: Any = None, ssm: Any = None) -> None:
        self._clients: dict[str, Any] = {"s3": s3, "dynamodb": dynamodb, "lambda": lambda_client, "ssm": ssm}
        self._lock = threading.Lock()

    def _get(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = self._clients[service] = make_client(service)
        return client

    @property
    def s3(self) -> Any:
        return self._get("s3")

    @property
    def dynamodb(self) -> Any:
        return self._get("dynamodb")

    @property
    def lambda_client(self) -> Any:
        return self._get("lambda")

    @property
    def ssm(self) -> Any:
        return self._get("ssm")


# --------------------------------------------------------------------------- Lambda


@dataclass(frozen=True)
class SyncInvokeResult:
    status_code: int
    payload: Any
    request_id: str | None
    executed_version: str | None


class LambdaFunctionError(Exception):
    """The function ran and raised (FunctionError set); carries the decoded error payload."""

    def __init__(self, function_name: str, function_error: str, payload: Any, request_id: str | None) -> None:
        self.function_name = function_name
        self.function_error = function_error
        self.payload = payload
        self.request_id = request_id
        if isinstance(payload, dict):
            self.error_type = str(payload.get("errorType") or function_error)
            self.error_message = str(payload.get("errorMessage") or "")
        else:
            self.error_type = function_error
            self.error_message = str(payload)
        super().__init__(f"{self.error_type}: {self.error_message}")


class LambdaInvokeError(Exception):
    """Invoke returned something other than the expected status (e.g. not 202 for Event)."""

    def __init__(self, function_name: str, message: str) -> None:
        super().__init__(message)
        self.function_name = function_name


def _decode_payload(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace")


class LambdaInvoker:
    """Sync (RequestResponse) and async (Event) invokes over an injected client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def invoke_sync(self, function_name: str, payload: Any) -> SyncInvokeResult:
        resp = call_aws(
            self._client,
            "Invoke",
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
        body = resp.get("Payload")
        decoded = _decode_payload(body.read() if body is not None else b"")
        request_id = resp.get("ResponseMetadata", {}).get("RequestId")
        if resp.get("FunctionError"):
            raise LambdaFunctionError(function_name, resp["FunctionError"], decoded, request_id)
        return SyncInvokeResult(
            status_code=int(resp.get("StatusCode", 0)),
            payload=decoded,
            request_id=request_id,
            executed_version=resp.get("ExecutedVersion"),
        )

    def invoke_async(self, function_name: str, payload: Any) -> str | None:
        """Queue an Event invoke; returns Lambda's request id (the one its START/REPORT log lines carry).
        Anything but 202 is an error the caller must handle."""
        resp = call_aws(
            self._client,
            "Invoke",
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps(payload).encode(),
        )
        status = int(resp.get("StatusCode", 0))
        if status != 202:
            raise LambdaInvokeError(
                function_name, f"async invoke of {function_name} returned StatusCode {status}, expected 202"
            )
        return resp.get("ResponseMetadata", {}).get("RequestId")


# --------------------------------------------------------------------------- jobs


class JobExistsError(Exception):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} already exists")
        self.job_id = job_id


_ser = TypeSerializer()
_deser = TypeDeserializer()


def _to_ddb(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, list):
        return [_to_ddb(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_ddb(v) for k, v in value.items()}
    return value


def _from_ddb(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (list, tuple)):
        return [_from_ddb(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_from_ddb(v) for v in value)
    if isinstance(value, dict):
        return {k: _from_ddb(v) for k, v in value.items()}
    return value


class JobStore:
    """Job records in DynamoDB (hash key ``video_id`` = job id)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def create(self, job_id: str, *, s3_key: str, processing_method: str, rollout_weight: int | None = None,
               routed_by: str | None = None) -> dict[str, Any]:
        """Write the QUEUED record; conditional so a reused job id is a conflict, not an overwrite. It carries
        the path and, when routing chose it, the weight it was routed under and how (backend/rollout.py)."""
        now = utc_now_iso()
        item = {
            HASH_KEY: job_id,
            "status": QUEUED,
            "created_at": now,
            "updated_at": now,
            "s3_key": s3_key,
            "processing_method": processing_method,
        }
        if rollout_weight is not None:
            item["rollout_weight"] = rollout_weight
            item["routed_by"] = routed_by or "weight"
        try:
            call_aws(
                self._client,
                "PutItem",
                TableName=self._table,
                Item={k: _ser.serialize(_to_ddb(v)) for k, v in item.items()},
                ConditionExpression=f"attribute_not_exists({HASH_KEY})",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise JobExistsError(job_id) from exc
            raise
        return item

    def get(self, job_id: str) -> dict[str, Any] | None:
        resp = call_aws(
            self._client,
            "GetItem",
            TableName=self._table,
            Key={HASH_KEY: {"S": job_id}},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        if not item:
            return None
        return {k: _from_ddb(_deser.deserialize(v)) for k, v in item.items()}

    def update(self, job_id: str, fields: dict[str, Any], *, only_if_status: str | None = None) -> bool:
        """SET fields (+updated_at). With only_if_status, returns False instead of
        overwriting a job some processor already moved on (e.g. claimed it)."""
        fields = {**fields, "updated_at": utc_now_iso()}
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": _ser.serialize(_to_ddb(v)) for i, v in enumerate(fields.values())}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Key": {HASH_KEY: {"S": job_id}},
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if only_if_status is not None:
            names["#st"] = "status"
            values[":expected"] = {"S": only_if_status}
            kwargs["ConditionExpression"] = f"attribute_exists({HASH_KEY}) AND #st = :expected"
        try:
            call_aws(self._client, "UpdateItem", **kwargs)
        except ClientError as exc:
            if only_if_status is not None and exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_stale(self, job_id: str, seen_updated_at: str, reason: str) -> bool:
        """PROCESSING -> FAILED only if the record is exactly the one judged stale (same updated_at):
        a COMPLETED that lands meanwhile is never overwritten, and a stale write never clobbers it."""
        fields = {"status": "FAILED", "error_message": reason, "updated_at": utc_now_iso()}
        names = {f"#f{i}": k for i, k in enumerate(fields)} | {"#st": "status", "#up": "updated_at"}
        values = {f":v{i}": _ser.serialize(_to_ddb(v)) for i, v in enumerate(fields.values())}
        values |= {":processing": {"S": "PROCESSING"}, ":seen": {"S": seen_updated_at}}
        try:
            call_aws(self._client, "UpdateItem", TableName=self._table, Key={HASH_KEY: {"S": job_id}},
                     UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                     ConditionExpression="#st = :processing AND #up = :seen",
                     ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_failed(self, job_id: str, reason: str) -> bool:
        """FAILED only while still QUEUED: never clobber a job a processor has claimed."""
        return self.update(job_id, {"status": "FAILED", "error_message": reason}, only_if_status=QUEUED)


# --------------------------------------------------------------------------- S3


def split_output_ref(ref: str, default_bucket: str) -> tuple[str, str]:
    """Output refs are keys; tolerate ``s3://bucket/key`` too."""
    if ref.startswith("s3://"):
        bucket, _, key = ref[5:].partition("/")
        return bucket, key
    return default_bucket, ref


def presign_get(s3: Any, bucket: str, key: str, expires: int) -> str:
    return call_aws(
        s3,
        "GeneratePresignedUrl",
        ClientMethod="get_object",
        Params={"Bucket": bucket, "Key": key},
        ExpiresIn=expires,
    )
