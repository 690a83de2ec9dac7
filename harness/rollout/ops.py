"""What the rollout controller does to the world, through a target's AWS APIs (local or aws alike).

The weight is the SSM parameter terraform declares (`/<project>/rollout/lambda-weight`); the
finished jobs come from the job table: each record carries the weight it was routed under
(`rollout_weight`), how (`routed_by`), its path (`processing_method`), its status and its times.
A job counts for a step only when it was routed by that step's weight: jobs routed in the cache's
few seconds after a change, under the old weight, never judge the new one. Durations are the
record's processing_duration_seconds (see _processing_seconds).
"""
from __future__ import annotations

from datetime import UTC, datetime

from harness.rollout.controller import Event, PreflightFailed, check_weight

TERMINAL = ("COMPLETED", "FAILED")


def parameter_names(stack) -> tuple[str, str]:
    """(weight, salt) parameter names terraform declares, found by their path ending."""
    params = getattr(stack, "parameters", {}) or {}
    weight = next((n for n in params if n.endswith("/rollout/lambda-weight")), None)
    salt = next((n for n in params if n.endswith("/rollout/salt")), None)
    if weight is None or salt is None:
        raise PreflightFailed(f"terraform in {stack.tf_dir} declares no /<project>/rollout/lambda-weight and "
                              "/<project>/rollout/salt SSM parameters (terraform/rollout.tf)")
    return weight, salt


def _stamp(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return None


def _processing_seconds(job: dict) -> float | None:
    """What the judge compares: the record's processing_duration_seconds (CONTRACT J, claim to COMPLETED),
    measured alike on both paths. A Lambda job's cold start and either path's queueing are not in it: for
    video jobs of minutes they are noise, and for a drill's second-long jobs they would be the whole signal."""
    value = job.get("processing_duration_seconds")
    try:
        return float(value) if value is not None and float(value) > 0 else None
    except (TypeError, ValueError):
        return None


class TargetOps:
    def __init__(self, target, *, backend_url: str | None = None) -> None:
        self.target = target
        kw = {"endpoint_url": target.endpoint_url} if target.endpoint_url else {}
        self.ssm = target.session.client("ssm", **kw)
        self.weight_name, self.salt_name = parameter_names(target.stack)
        self.backend_url = backend_url

    def preflight(self) -> None:
        """The parameter is readable, holds a weight and is writable; the table and the processor answer;
        the backend answers. The first failure raises PreflightFailed with one line; nothing changes."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            current = self.weight()
            self.ssm.put_parameter(Name=self.weight_name, Value=str(current), Type="String", Overwrite=True)
        except (ClientError, BotoCoreError) as e:
            raise PreflightFailed(f"rollout weight {self.weight_name} is not readable and writable: {e}") from None
        try:
            self.target.dynamodb.describe_table(TableName=self.target.table)
            self.target.lambda_.get_function(FunctionName=self.target.function_name("video_processor"))
        except (ClientError, BotoCoreError) as e:
            raise PreflightFailed(f"the job table or the processor does not answer: {e}") from None
        if self.backend_url:
            import requests

            try:
                requests.get(f"{self.backend_url}/api/health", timeout=10).raise_for_status()
            except requests.RequestException as e:
                raise PreflightFailed(f"backend {self.backend_url} does not answer /api/health: {e}") from None

    def weight(self) -> int:
        raw = self.ssm.get_parameter(Name=self.weight_name)["Parameter"]["Value"]
        try:
            return check_weight(raw)
        except ValueError as e:
            raise PreflightFailed(f"{self.weight_name} holds {raw!r}: {e}") from None

    def set_weight(self, weight: int) -> None:
        self.ssm.put_parameter(Name=self.weight_name, Value=str(check_weight(weight)), Type="String", Overwrite=True)

    def finished(self, *, weight: int, since: float, seen: set[str]) -> list[Event]:
        """Jobs routed by this weight, created since the step began, that have finished; oldest first."""
        from boto3.dynamodb.types import TypeDeserializer

        des, out = TypeDeserializer(), []
        since_iso = datetime.fromtimestamp(since, UTC).isoformat()
        kwargs = {"TableName": self.target.table, "ConsistentRead": True,
                  "FilterExpression": "rollout_weight = :w AND routed_by = :by AND created_at >= :t",
                  "ExpressionAttributeValues": {":w": {"N": str(weight)}, ":by": {"S": "weight"},
                                                ":t": {"S": since_iso}}}
        for page in self.target.dynamodb.get_paginator("scan").paginate(**kwargs):
            for item in page.get("Items", []):
                job = {k: des.deserialize(v) for k, v in item.items()}
                job_id = job[self.target.stack.table.hash_key]
                if job_id in seen or job.get("status") not in TERMINAL:
                    continue
                t0, t1 = _stamp(job.get("created_at")), _stamp(job.get("updated_at"))
                seconds = _processing_seconds(job) or (t1 - t0 if t0 is not None and t1 is not None and t1 > t0
                                                       else None)
                out.append((t1 or 0.0, Event(job_id=job_id, path=job.get("processing_method", "celery"),
                                             ok=job.get("status") == "COMPLETED", seconds=seconds)))
        return [e for _, e in sorted(out, key=lambda p: (p[0], p[1].job_id))]


class JobStream:
    """Real jobs at a steady rate through the backend's upload-complete API, as users would send them,
    all of one uploaded source; the rollout routes each by the weight."""

    def __init__(self, api, *, key: str, new_job_id, rate: float) -> None:
        import threading

        self.api, self.key, self.new_job_id, self.interval = api, key, new_job_id, 1.0 / rate
        self.jobs: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rollout-job-stream", daemon=True)

    def __enter__(self) -> JobStream:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        import time

        next_at = time.monotonic()
        while not self._stop.is_set():
            job_id = self.new_job_id()
            try:
                self.api.upload_complete(self.key, job_id)
                self.jobs.append(job_id)
            except Exception as e:        # said by the drill: a submission that failed is a lost job
                self.errors.append(f"{job_id}: {type(e).__name__}: {e}"[:300])
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))
