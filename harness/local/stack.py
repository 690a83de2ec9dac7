"""The embedded AWS of one process: a moto server behind the gateway, the Lambda runtime and service,
provisioned with exactly what terraform declares, through the public APIs."""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from harness.local.faults import FaultInjector  # noqa: F401  (re-exported for callers of the stack)
from harness.local.gateway import Gateway
from harness.local.iam import FUNCTION_ACCESS_KEY
from harness.local.lambda_service import LambdaService
from harness.local.net import free_port
from harness.runtime import LambdaRuntime
from harness.stack import build
from harness.stack.terraform import StackSpec, env_strings

log = logging.getLogger("harness.local")
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server access log
HARNESS_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
FUNCTION_SECRET = "local-function-role-secret"


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
    gateway = Gateway(moto_port, policy=spec.policy, region=spec.region, account=spec.account,
                      function_secret=FUNCTION_SECRET)
    runtime = LambdaRuntime(work_dir / "runtime", warm=warm, region=spec.region,
                            async_retry_delays=tuple(async_retry_delays),
                            endpoint_url=gateway.url, cpu_scaling=cpu_scaling, isolation=isolation,
                            deliver=destination_sender(gateway.url, spec.region),
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


def destination_sender(endpoint: str, region: str):
    """Sends an on-failure record as Lambda does: SendMessage signed with the function's own role, so the
    gateway's IAM check decides whether the role may (the queue URL is looked up with the harness's key)."""
    import threading

    lock = threading.Lock()
    clients: dict = {}

    def send(arn: str, body: bytes) -> None:
        with lock:
            if not clients:
                clients["admin"] = boto3.client("sqs", endpoint_url=endpoint, region_name=region,
                                                **HARNESS_CREDENTIALS)
                clients["role"] = boto3.client("sqs", endpoint_url=endpoint, region_name=region,
                                               aws_access_key_id=FUNCTION_ACCESS_KEY,
                                               aws_secret_access_key=FUNCTION_SECRET)
        url = clients["admin"].get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        clients["role"].send_message(QueueUrl=url, MessageBody=body.decode())
    return send


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
    if spec.parameters:
        ssm = stack.client("ssm")
        for name, value in spec.parameters.items():
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    if spec.queues:
        sqs = stack.client("sqs")
        for name in spec.queues.values():
            sqs.create_queue(QueueName=name)
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
        args["Environment"] = {"Variables": env_strings(fn.env)}
    if fn.layers:
        args["Layers"] = [stack.layer_arns[a] for a in fn.layers]
    lam.create_function(**args)
    if fn.reserved_concurrency is not None:
        lam.put_function_concurrency(FunctionName=fn.name, ReservedConcurrentExecutions=fn.reserved_concurrency)
    if (fn.max_retry_attempts, fn.max_event_age_s, fn.on_failure) != (2, 21600, None):
        extra = {"DestinationConfig": {"OnFailure": {"Destination": fn.on_failure}}} if fn.on_failure else {}
        lam.put_function_event_invoke_config(FunctionName=fn.name, MaximumRetryAttempts=fn.max_retry_attempts,
                                             MaximumEventAgeInSeconds=fn.max_event_age_s, **extra)
