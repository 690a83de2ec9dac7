"""LocalTarget: the whole stack on loopback, provisioned from terraform, one per xdist worker.

moto is not safe to share between workers, so each worker gets its own moto
server, gateway, Lambda runtime and backend services on free ports.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager

import boto3

from harness.judge.lambda_logs import attempts
from harness.local.faults import FaultInjector, FaultRule
from harness.local.stack import HARNESS_CREDENTIALS, LocalStack, create_function, start_stack
from harness.runtime import LambdaRuntime
from harness.targets.base import Sources, Target, terraform_dir, tf_overrides  # noqa: F401  (option helpers)
from harness.tell.redact import redact

log = logging.getLogger("harness.local")
DESTINATION_GRACE_S = 15.0      # a failed job's on-failure record must have been consumed by then


# Lambda retries a failed asynchronous event "after about 1 minute, then after about 2 minutes"
# (docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html); the fast default keeps the
# validation short and --aws-timing restores AWS's spacing.
AWS_RETRY_DELAYS = (60.0, 120.0)
FAST_RETRY_DELAYS = (0.5, 1.0)


class LocalTarget(Target):
    """The embedded stack behind the Target interface, plus local-only capabilities."""

    local: LocalStack
    startup_s: float = 0.0

    @classmethod
    def start(cls, config) -> LocalTarget:
        import uuid

        run_id = uuid.uuid4().hex[:10]
        sources = Sources.from_config(config, run_id)
        spec = sources.load_stack()
        t0 = time.monotonic()
        cold = bool(config.getoption("--cold-start")) if config is not None else False
        cpu = (config.getoption("--cpu-scaling") if config is not None else "on") == "on"
        aws_timing = bool(config.getoption("--aws-timing")) if config is not None else False
        delays = AWS_RETRY_DELAYS if aws_timing else FAST_RETRY_DELAYS
        stack = start_stack(spec, package=sources.package(), layer=sources.layer(), warm=not cold, cpu_scaling=cpu,
                            async_retry_delays=delays)
        target = cls(name="local", stack=spec, session=boto3.Session(region_name=spec.region, **HARNESS_CREDENTIALS),
                     endpoint_url=stack.endpoint, backend_url=None, sources=sources, run_id=run_id)
        target.local = stack
        target.retry_slack = sum(delays) - sum(FAST_RETRY_DELAYS)   # what waits for a retried job add
        target.startup_s = time.monotonic() - t0
        target.start_backend_soon()
        return target

    # -- local-only capabilities ---------------------------------------------------------
    @property
    def faults(self) -> FaultInjector:
        return self.local.gateway.faults

    def wire_writes(self, text: str) -> list:
        return self.local.gateway.wire.mentioning(text)

    @contextmanager
    def fault(self, **rule):
        added = self.faults.add(FaultRule(**rule))
        try:
            yield added
        finally:
            self.faults.remove(added)

    @contextmanager
    def broken_function(self, key: str, how: str):
        """Break a deployed function for the duration: 'failing' (bad handler) or 'missing' (deleted)."""
        fn = self.stack.function(key)
        if how == "failing":
            self.lambda_.update_function_configuration(FunctionName=fn.name,
                                                       Handler="video_processor.handlers.no_such_module.handler")
            try:
                yield
            finally:
                self.lambda_.update_function_configuration(FunctionName=fn.name, Handler=fn.handler)
        elif how == "missing":
            self.lambda_.delete_function(FunctionName=fn.name)
            try:
                yield
            finally:
                create_function(self.local, fn)
        else:
            raise ValueError(f"broken_function how={how!r}: use 'failing' or 'missing'")

    @contextmanager
    def layer_without_ffmpeg(self):
        """A published layer version holding everything but bin/ffmpeg; yields its ARN, then deletes it."""
        import io
        import zipfile

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("bin/README.txt", "ffmpeg removed for the 'missing from the layer' drill\n")
        name = f"{self.run_id}-no-ffmpeg"
        resp = self.lambda_.publish_layer_version(LayerName=name, Content={"ZipFile": buf.getvalue()})
        try:
            yield resp["LayerVersionArn"]
        finally:
            try:
                self.lambda_.delete_layer_version(LayerName=name, VersionNumber=resp["Version"])
            except Exception:  # best effort: the stack is torn down with the run anyway
                log.warning("could not delete layer %s", name)

    @contextmanager
    def function_config(self, key: str, **changes):
        """Change a deployed function's configuration for the duration (Timeout, Environment, ...)."""
        from botocore.config import Config

        name = self.stack.function(key).name
        # no client-side validation: local faults may go below AWS minimums (e.g. 16 MB of /tmp)
        lam = self.session.client("lambda", endpoint_url=self.endpoint_url,
                                  config=Config(parameter_validation=False))
        cfg = lam.get_function_configuration(FunctionName=name)
        original = {k: cfg[k] for k in changes if k in cfg}
        if "Environment" in changes and "Environment" not in original:
            original["Environment"] = {"Variables": {}}
        if "Layers" in changes:   # the configuration lists layer objects; the update takes ARNs
            original["Layers"] = [layer["Arn"] for layer in cfg.get("Layers", [])]
        lam.update_function_configuration(FunctionName=name, **changes)
        try:
            yield
        finally:
            lam.update_function_configuration(FunctionName=name, **original)

    @contextmanager
    def reserved_concurrency(self, key: str, value: int | None):
        """Set (or with None remove) a deployed function's reserved concurrency for the duration."""
        name = self.stack.function(key).name
        original = self.lambda_.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")

        def put(v):
            if v is None:
                self.lambda_.delete_function_concurrency(FunctionName=name)
            else:
                self.lambda_.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=v)
        put(value)
        try:
            yield
        finally:
            put(original)

    @contextmanager
    def event_invoke_config(self, key: str, **changes):
        """Change a function's async invocation settings (MaximumEventAgeInSeconds, MaximumRetryAttempts)
        for the duration; local faults may go below AWS's minimums (an event age under 60 s)."""
        from botocore.config import Config

        name = self.stack.function(key).name
        lam = self.session.client("lambda", endpoint_url=self.endpoint_url, config=Config(parameter_validation=False))
        try:
            current = lam.get_function_event_invoke_config(FunctionName=name)
        except lam.exceptions.ResourceNotFoundException:
            current = None
        fields = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
        original = {k: current[k] for k in fields if current and current.get(k) is not None}
        lam.put_function_event_invoke_config(FunctionName=name, **{**original, **changes})
        try:
            yield
        finally:
            if current is None:
                lam.delete_function_event_invoke_config(FunctionName=name)
            else:
                lam.put_function_event_invoke_config(FunctionName=name, **original)

    def invocations_for_job(self, job_id: str, key: str = "video_processor", *, expect_some: bool = True) -> list:
        """What the runtime really ran for this job (attempts included). An attempt's effects (the job
        record it wrote) show before the attempt ends, so one still running is waited for (bounded by
        its timeout) rather than left out."""
        name = self.stack.function(key).name
        self.local.runtime.wait_recorded(name, job_id.encode(), timeout=self.stack.function(key).timeout_s + 10)
        return [r for r in self.local.runtime.records(name) if job_id.encode() in (r.event or b"")]

    def stuck_reason(self, job_id: str, status: str | None, request_id: str | None = None) -> str | None:
        if any(job_id.encode() in payload for payload in self.local.runtime.in_flight_events()):
            return None
        runs = [r for r in self.local.runtime.records() if job_id.encode() in (r.event or b"")]
        if not runs:
            return None
        last = runs[-1]
        try:
            destination = self.local.service.spec_for(last.function_name).on_failure
        except LookupError:
            destination = None
        if destination and last.outcome != "success" and time.time() - last.ended < DESTINATION_GRACE_S:
            return None     # Lambda's on-failure record is on its way to whoever marks the job
        said = redact(last.payload.decode("utf-8", "replace")[:300])
        logged = self.local.runtime.logs(last.function_name)
        lines = [ln for ln in logged if last.request_id in ln and not ln.startswith(("START", "END", "REPORT"))]
        quote = attempts(logged, last.request_id).last_error or (lines[-1] if lines else None)  # its error first
        tail = f"; its log: {redact(quote)[:300]}" if quote else ""
        return (f"job {job_id} is still {status or 'absent'} but its {len(runs)} invocation attempt(s) of "
                f"{last.function_name} ended; the last ended {last.outcome}"
                + (f" ({last.error_type})" if last.error_type else "") + f" and returned {said}{tail}")

    def runtime_records(self, job_ids, key: str = "video_processor") -> list:
        return [r for j in job_ids for r in self.invocations_for_job(j, key)]

    @property
    def runtime(self) -> LambdaRuntime:
        return self.local.runtime

    def start_backend_soon(self) -> None:
        """Start redis, the Celery worker and uvicorn in the background while step 1A runs."""
        import concurrent.futures

        from harness.local.services import start_backend

        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="backend-start")
        self._backend_future = pool.submit(start_backend, self.local, with_worker=True,
                                           backend_src=self.sources.backend_src)
        pool.shutdown(wait=False)

    def backend(self) -> str:
        """The served backend (steps 1B, 4A, 5A, 5B); a start-up failure is raised here, naming the service."""
        if self.backend_url is None:
            future = getattr(self, "_backend_future", None)
            if future is None:
                self.start_backend_soon()
                future = self._backend_future
            svc = future.result(timeout=180)
            self.local.services.append(svc)
            self.backend_service = svc
            self.backend_url = svc.url
        return self.backend_url

    def restart_backend(self, **env: str) -> None:
        """Set backend environment variables and restart its web process, as an operator would."""
        self.backend()
        self.backend_service.restart_web(**env)

    def identity(self) -> dict:
        return {"name": "local", "endpoint": self.local.endpoint, "region": self.stack.region,
                "account": self.stack.account, "workspace": self.stack.workspace,
                **self.sources.code_identity(),
                "storage_mode": self.local.runtime.storage_mode,
                "fidelity": self.local.runtime.fidelity(
                    tuple(sorted({fn.runtime for fn in self.stack.enabled_functions}))) + [self._signature_row()],
                "iam": "the gateway applies the role policy from terraform to every request the function signs",
                "startup_s": round(self.startup_s, 2)}


    def _signature_row(self) -> dict:
        gw = self.local.gateway
        if gw.function_secret is None:
            return {"behaviour": "signature verification", "enforced": "not enforced",
                    "how": "the gateway reads who signed each request but checks no signature"}
        return {"behaviour": "signature verification", "enforced": "service",
                "how": f"the gateway verifies every request the function role's key signs (SigV4 header and "
                       f"presigned, SigV2 presigned): signature, region, 15-minute skew, expiry; "
                       f"{gw.signatures_checked} checked, {len(gw.rejected)} refused so far (not verified: "
                       f"SigV2 in a header, aws-chunked chunk signatures, an S3 body against its signed hash)"}

    def sigv2_requests(self) -> list[str] | None:
        return list(self.local.gateway.sigv2)

    def function_logs(self, name: str | None = None) -> list[str]:
        return self.local.runtime.logs(name)

    def close(self) -> None:
        future = getattr(self, "_backend_future", None)
        if future is not None and self.backend_url is None:
            try:  # started but never used: stop it too
                self.local.services.append(future.result(timeout=180))
            except Exception:
                pass
        self.local.close()
