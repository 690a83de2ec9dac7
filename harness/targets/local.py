"""LocalTarget: the whole stack on loopback, provisioned from terraform, one per xdist worker.

moto is not safe to share between workers, so each worker gets its own moto
server, gateway, Lambda runtime and backend services on free ports.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from harness.local.faults import FaultInjector, FaultRule
from harness.local.gateway import Gateway
from harness.local.iam import FUNCTION_ACCESS_KEY
from harness.local.net import free_port
from harness.local.lambda_service import LambdaService
from harness.runtime import LambdaRuntime
from harness.stack import build
from harness.stack.terraform import StackSpec, load_stack
from harness.targets.base import Target, TargetError

log = logging.getLogger("harness.local")
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server access log
REPO = Path(__file__).resolve().parents[2]
HARNESS_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
FUNCTION_SECRET = "local-function-role-secret"


def terraform_dir(config) -> Path:
    custom = config.getoption("--terraform-dir") if config is not None else None
    return Path(custom).resolve() if custom else REPO / "terraform"


def tf_overrides(config) -> dict:
    out = {}
    for item in config.getoption("--tf-var") if config is not None else []:
        if "=" not in item:
            raise TargetError(f"--tf-var {item!r} must be NAME=VALUE")
        name, value = item.split("=", 1)
        out[name.strip()] = value
    return out


@dataclass
class LocalStack:
    """The running embedded AWS (moto + gateway + runtime), without the target helpers."""

    spec: StackSpec
    work_dir: Path
    moto: object
    gateway: Gateway
    runtime: LambdaRuntime
    service: LambdaService
    package: build.Artifact
    layer: build.Artifact
    layer_arn: str = ""
    layer_arns: dict = field(default_factory=dict)
    services: list = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return self.gateway.url

    def client(self, name: str):
        return boto3.client(name, endpoint_url=self.endpoint, region_name=self.spec.region, **HARNESS_CREDENTIALS)

    def close(self) -> None:
        for svc in reversed(self.services):
            try:
                svc.close()
            except Exception:  # keep closing the rest
                log.exception("stopping %s failed", svc)
        self.runtime.close()
        self.gateway.close()
        try:
            self.moto.stop()
        except Exception:
            pass
        shutil.rmtree(self.work_dir, ignore_errors=True)


def start_stack(spec: StackSpec, *, work_dir: Path | None = None, async_retry_delays=(0.5, 1.0),
                warm: bool = True, package: build.Artifact | None = None,
                layer: build.Artifact | None = None, cpu_scaling: bool = True,
                isolation: str = "auto") -> LocalStack:
    from moto.server import ThreadedMotoServer

    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="rollout-local-"))
    package = package or build.build_package()
    layer = layer or build.build_layer()
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    gateway = Gateway(moto_port, policy=spec.policy, region=spec.region, account=spec.account)
    runtime = LambdaRuntime(work_dir / "runtime", warm=warm, region=spec.region,
                            async_retry_delays=tuple(async_retry_delays),
                            endpoint_url=gateway.url, cpu_scaling=cpu_scaling, isolation=isolation,
                            extra_env={"AWS_ACCESS_KEY_ID": FUNCTION_ACCESS_KEY,
                                       "AWS_SECRET_ACCESS_KEY": FUNCTION_SECRET,
                                       "AWS_SESSION_TOKEN": "local-session-token"})
    service = LambdaService(moto_port, work_dir / "lambda", runtime, region=spec.region,
                            credentials=HARNESS_CREDENTIALS)
    gateway.lambda_service = service
    stack = LocalStack(spec, work_dir, moto, gateway, runtime, service, package, layer)
    try:
        provision(stack)
        from harness.local.logship import LogShipper

        stack.services.append(LogShipper(runtime, stack.client("logs")))
    except Exception:
        stack.close()
        raise
    return stack


def provision(stack: LocalStack) -> None:
    """Create exactly what terraform declares, through the public APIs."""
    spec = stack.spec
    s3, ddb, iam, lam = (stack.client(n) for n in ("s3", "dynamodb", "iam", "lambda"))
    s3.create_bucket(Bucket=spec.bucket)
    table = spec.table
    key_schema = [{"AttributeName": table.hash_key, "KeyType": "HASH"}]
    if table.range_key:
        key_schema.append({"AttributeName": table.range_key, "KeyType": "RANGE"})
    kwargs = {"TableName": table.name, "KeySchema": key_schema,
              "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in table.attributes.items()]}
    if table.billing_mode == "PAY_PER_REQUEST":
        kwargs["BillingMode"] = "PAY_PER_REQUEST"
    else:
        kwargs["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    ddb.create_table(**kwargs)
    assume = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "lambda.amazonaws.com"}}]}
    iam.create_role(RoleName=spec.role_name, AssumeRolePolicyDocument=json.dumps(assume))
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": st.sid or f"S{i}", "Effect": st.effect, "Action": list(st.actions), "Resource": list(st.resources)}
        for i, st in enumerate(spec.policy)]}
    iam.put_role_policy(RoleName=spec.role_name, PolicyName=f"{spec.role_name}-policy",
                        PolicyDocument=json.dumps(policy))
    layer_arns = {}
    for address, decl in spec.layers.items():
        resp = lam.publish_layer_version(LayerName=decl.name, Content={"ZipFile": stack.layer.path.read_bytes()},
                                         CompatibleRuntimes=list(decl.runtimes))
        layer_arns[address] = resp["LayerVersionArn"]
        stack.layer_arn = resp["LayerVersionArn"]
    stack.layer_arns = layer_arns
    for fn in spec.enabled_functions:
        create_function(stack, fn)


def create_function(stack: LocalStack, fn) -> None:
    lam = stack.client("lambda")
    args = {"FunctionName": fn.name, "Runtime": fn.runtime, "Role": stack.spec.role_arn, "Handler": fn.handler,
            "Code": {"ZipFile": stack.package.path.read_bytes()}, "MemorySize": fn.memory_mb,
            "Timeout": fn.timeout_s, "EphemeralStorage": {"Size": fn.ephemeral_mb}, "Publish": False}
    if fn.env:
        args["Environment"] = {"Variables": {k: str(v) for k, v in fn.env.items()}}
    if fn.layers:
        args["Layers"] = [stack.layer_arns[a] for a in fn.layers]
    lam.create_function(**args)
    if fn.reserved_concurrency is not None:
        lam.put_function_concurrency(FunctionName=fn.name, ReservedConcurrentExecutions=fn.reserved_concurrency)


class LocalTarget(Target):
    """The embedded stack behind the Target interface, plus local-only capabilities."""

    local: LocalStack

    @classmethod
    def start(cls, config) -> "LocalTarget":
        workspace = config.getoption("--tf-workspace") if config is not None else None
        spec = load_stack(terraform_dir(config), workspace=workspace, overrides=tf_overrides(config))
        t0 = time.monotonic()
        probe = cls(name="local", stack=spec, session=boto3.Session(region_name=spec.region, **HARNESS_CREDENTIALS),
                    endpoint_url=None, backend_url=None)
        probe.configure_sources(config)
        cold = bool(config.getoption("--cold-start")) if config is not None else False
        cpu = (config.getoption("--cpu-scaling") if config is not None else "on") == "on"
        stack = start_stack(spec, package=probe.package(), layer=probe.layer(), warm=not cold, cpu_scaling=cpu)
        session = boto3.Session(region_name=spec.region, **HARNESS_CREDENTIALS)
        target = cls(name="local", stack=spec, session=session, endpoint_url=stack.endpoint, backend_url=None,
                     run_id=probe.run_id)
        target.configure_sources(config)
        target.local = stack
        target.startup_s = time.monotonic() - t0
        target.start_backend_soon()
        return target

    # -- local-only capabilities ---------------------------------------------------------
    @property
    def faults(self) -> FaultInjector:
        return self.local.gateway.faults

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

    def invocations_for_job(self, job_id: str, key: str = "video_processor", *, expect_some: bool = True) -> list:
        """What the runtime really ran for this job (attempts included)."""
        name = self.stack.function(key).name
        return [r for r in self.local.runtime.records(name) if job_id.encode() in (r.event or b"")]

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
                                           backend_src=getattr(self, "backend_src", None))
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

    def identity(self) -> dict:
        return {"name": "local", "endpoint": self.local.endpoint, "region": self.stack.region,
                "account": self.stack.account, "workspace": self.stack.workspace,
                "package_sha256": self.local.package.sha256, "layer_sha256": self.local.layer.sha256,
                "storage_mode": self.local.runtime.storage_mode,
                "fidelity": self.local.runtime.fidelity(
                    tuple(sorted({fn.runtime for fn in self.stack.enabled_functions}))),
                "iam": "the gateway applies the role policy from terraform to every request the function signs",
                "startup_s": round(getattr(self, "startup_s", 0.0), 2)}


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
