"""AwsTarget: a real account (or any AWS-compatible endpoint), names from terraform outputs.

Credentials come from the standard chain (AWS_PROFILE, AWS_REGION, ...), and
AWS_ENDPOINT_URL is honoured by boto3 itself. Names come from `terraform output
-json` in terraform/ or from a file in that format (ROLLOUT_TF_OUTPUTS).
Everything the run writes lives under its run prefix and is deleted at the end.
"""
from __future__ import annotations

import atexit
import dataclasses
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from harness.judge.lambda_logs import attempts
from harness.targets.base import Sources, Target, TargetError
from harness.tell.redact import redact

PROD_NAME = re.compile(r"(^|[-_])(prod|production|live)([-_]|$)", re.IGNORECASE)
# terraform's test_function_names output key -> the function's logical key, the for_each key of
# aws_lambda_function.test (one map: `serve` writes it too)
OUTPUT_FUNCTIONS = {"hello": "video_processor_test", "ffmpeg_check": "ffmpeg_check", "s3_roundtrip": "s3_roundtrip",
                    "segment": "segment_test", "job_status": "job_status"}


EMULATED_ACCOUNTS = {"123456789012", "000000000000"}     # moto's and LocalStack's default accounts
AWS_HOST = re.compile(r"(^|\.)(amazonaws\.com|amazonaws\.com\.cn|api\.aws)$")
LOG_PAGE_CAP = 10000


class LogsNotScanned(RuntimeError):
    """CloudWatch Logs could not be read whole: the warning-sign scan fails closed."""


def emulated_endpoint(env: dict, endpoints: dict[str, str], account: str | None) -> str | None:
    """Why this 'aws' run is not the real AWS, in words, or None (pure).

    Any AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<SERVICE>, any client endpoint whose host is not AWS's,
    and the account ids emulators answer with each make the run emulated."""
    import ipaddress
    from urllib.parse import urlsplit

    found = []
    for name in sorted(env):
        if name == "AWS_ENDPOINT_URL" or name.startswith("AWS_ENDPOINT_URL_"):
            if env[name]:
                found.append(f"{name}={env[name]}")
    for service, url in sorted(endpoints.items()):
        host = urlsplit(url).hostname or ""
        try:
            private = ipaddress.ip_address(host).is_private or ipaddress.ip_address(host).is_loopback
        except ValueError:
            private = host == "localhost"
        if private or not AWS_HOST.search(host):
            text = f"{service} at {url}"
            if not any(url in f for f in found):
                found.append(text)
    if account in EMULATED_ACCOUNTS:
        found.append(f"account {account}")
    return "; ".join(found) or None


def read_outputs(tf_dir: Path) -> tuple[dict, str]:
    """terraform outputs as {name: value}, and where they came from."""
    path = os.environ.get("ROLLOUT_TF_OUTPUTS")
    if path:
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise TargetError(f"ROLLOUT_TF_OUTPUTS={path}: cannot read terraform outputs: {exc}") from exc
        return {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in raw.items()}, path
    exe = shutil.which("terraform")
    if not exe:
        raise TargetError("no terraform outputs: set ROLLOUT_TF_OUTPUTS to a `terraform output -json` file "
                          "(no terraform binary on PATH)")
    proc = subprocess.run([exe, "output", "-json"], cwd=tf_dir, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not proc.stdout.strip() or proc.stdout.strip() == "{}":
        raise TargetError("no deployed stack: `terraform output -json` in terraform/ gave nothing "
                          f"({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no state'}); "
                          "deploy it or set ROLLOUT_TF_OUTPUTS")
    raw = json.loads(proc.stdout)
    return {k: v["value"] for k, v in raw.items()}, "terraform output -json"


class AwsTarget(Target):
    @classmethod
    def connect(cls, config) -> AwsTarget:
        import uuid

        run_id = uuid.uuid4().hex[:10]
        sources = Sources.from_config(config, run_id)
        outputs, source = read_outputs(sources.terraform_dir)
        spec = sources.load_stack()
        stage = str(outputs.get("stage") or spec.workspace)
        if (PROD_NAME.search(stage) or PROD_NAME.search(spec.workspace)) and not config.getoption("--allow-prod"):
            raise TargetError(f"refusing to validate against stage/workspace {stage!r}, which looks like production; "
                              "pass --allow-prod if you mean it")
        spec = _apply_outputs(spec, outputs)
        session = boto3.Session()
        region = session.region_name or os.environ.get("AWS_REGION") or spec.region
        session = boto3.Session(region_name=region)
        try:
            ident = session.client("sts").get_caller_identity()
        except (NoCredentialsError, ClientError, BotoCoreError) as exc:
            raise TargetError(f"no usable AWS credentials ({exc}); set AWS_PROFILE or the standard variables") from exc
        target = cls(name="aws", stack=spec, session=session, endpoint_url=None,
                     backend_url=config.getoption("--backend-url") if config is not None else None,
                     sources=sources, run_id=run_id)
        try:
            target.s3.head_bucket(Bucket=spec.bucket)
            target.dynamodb.describe_table(TableName=spec.table.name)
        except (ClientError, BotoCoreError) as exc:
            raise TargetError(f"no deployed stack: bucket {spec.bucket} / table {spec.table.name} from {source} "
                              f"are not reachable ({exc})") from exc
        target.account = ident.get("Account", "?")
        target.region = region
        target.emulated = emulated_endpoint(
            dict(os.environ), {svc: session.client(svc).meta.endpoint_url
                               for svc in ("s3", "lambda", "dynamodb", "sts", "logs")}, target.account)
        target.outputs_source = source
        target.outputs = outputs
        atexit.register(target.cleanup)
        return target

    emulated: str | None = None

    def identity(self) -> dict:
        return {"name": "aws", "account": self.account, "region": self.region, "emulated": self.emulated,
                "endpoint": os.environ.get("AWS_ENDPOINT_URL", "AWS default endpoints"),
                "outputs": self.outputs_source, "workspace": self.stack.workspace, "run_id": self.run_id,
                **self.sources.code_identity(),
                "package_note": "sha256 of the package built from this checkout (deployed code is compared "
                                "by CodeSha256 in step 1A)"}

    def function_logs(self, name: str | None = None) -> list[str]:
        """CloudWatch Logs of this run's functions since the run started.

        Fails closed: a read or permission error, or more lines than the page cap, raises
        LogsNotScanned naming the cause, and the scan reports the test's logs as not scanned (NO-GO).
        A function whose log group does not exist yet has logged nothing."""
        names = [name] if name else [f.name for f in self.stack.enabled_functions]
        lines: list[str] = []
        for fn in names:
            group = f"/aws/lambda/{fn}"
            try:
                paginator = self.logs.get_paginator("filter_log_events")
                got: list[str] = []
                for page in paginator.paginate(logGroupName=group, startTime=int(self.started * 1000)):
                    got += [e["message"] for e in page.get("events", [])]
                    if len(got) > LOG_PAGE_CAP:
                        raise LogsNotScanned(f"{group}: more than {LOG_PAGE_CAP} lines since the run started "
                                             "(page cap): the rest were not read")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    continue
                raise LogsNotScanned(f"{group}: {exc.response.get('Error', {}).get('Code', 'error')}: "
                                     f"{exc}") from exc
            except BotoCoreError as exc:
                raise LogsNotScanned(f"{group}: {type(exc).__name__}: {exc}") from exc
            lines += got
        return lines

    LOG_CHECK_INTERVAL_S = 5.0       # CloudWatch is read at most this often per waiting job
    DESTINATION_GRACE_S = 30.0       # a failed job's on-failure record must have been consumed by then

    def stuck_reason(self, job_id: str, status: str | None, request_id: str | None = None) -> str | None:
        """A job whose async invocation (traced by the request id the invoke returned) has REPORTed its last
        attempt in CloudWatch Logs without finishing the job will not finish: say so, quoting its error.
        None while an attempt may still run or retry, or when the job's request id is unknown."""
        if not request_id:
            return None
        now = time.monotonic()     # a job is first looked for in the logs after it has waited one interval
        state = self._stuck.setdefault(request_id, {"checked": now, "ended_at": None, "reason": None})
        if now - state["checked"] < self.LOG_CHECK_INTERVAL_S:
            return state["reason"]
        state["checked"] = now
        fn = self.stack.function("video_processor")
        seen = attempts(self.function_logs(fn.name), request_id)
        allowed = 1 + max(0, int(fn.max_retry_attempts))
        if not seen.reports or seen.running or (seen.last_failed and len(seen.reports) < allowed):
            return None                               # running, or Lambda will retry it
        state["ended_at"] = state["ended_at"] or now
        if seen.last_failed and fn.on_failure and now - state["ended_at"] < self.DESTINATION_GRACE_S:
            return None                               # the on-failure record is on its way to the consumer
        said = f"; its log: {redact(seen.last_error)[:300]}" if seen.last_error else ""
        state["reason"] = (f"job {job_id} is still {status or 'absent'} but its {len(seen.reports)} invocation "
                           f"attempt(s) of {fn.name} (request {request_id}) ended in CloudWatch Logs; the last: "
                           f"{seen.reports[-1].strip()}{said}")
        return state["reason"]

    outputs: dict | None = None

    def terraform_drift(self, address: str) -> tuple[bool | None, str]:
        """`terraform plan -detailed-exitcode -target=ADDRESS` where terraform and its state are here;
        elsewhere the applied configuration's digest (output config_sha256) against this checkout's."""
        exe = shutil.which("terraform")
        tf_dir = self.stack.tf_dir
        if not exe or not (tf_dir / ".terraform").exists():
            return self._applied_digest_drift(
                "no terraform binary on PATH" if not exe else f"{tf_dir} is not initialised (no .terraform/)")
        proc = subprocess.run([exe, "plan", "-detailed-exitcode", "-no-color", "-input=false", "-lock=false",
                               f"-target={address}"], cwd=tf_dir, capture_output=True, text=True, timeout=600)
        if proc.returncode == 0:
            return False, f"terraform plan: no changes for {address}"
        if proc.returncode == 2:
            return True, f"terraform plan shows changes for {address}: " + " ".join(proc.stdout.split()[-12:])
        return None, f"terraform plan could not run: {(proc.stderr.strip().splitlines() or ['?'])[-1]}"

    def _applied_digest_drift(self, no_plan: str) -> tuple[bool | None, str]:
        from harness.stack.drift import config_sha256

        applied = (self.outputs or {}).get("config_sha256")
        if not applied:
            return None, (f"terraform plan not run ({no_plan}) and the applied state carries no config_sha256 "
                          f"output ({self.outputs_source}): apply this checkout's terraform/outputs.tf, or run "
                          "where `terraform plan` can run")
        here = config_sha256(self.stack.tf_dir)
        if applied != here:
            return True, (f"the applied terraform (config_sha256 {str(applied)[:12]}... from {self.outputs_source}) "
                          f"is not this checkout's ({here[:12]}...): `terraform apply` it, or validate that checkout")
        return False, (f"terraform plan not run ({no_plan}); the applied configuration's digest (output "
                       f"config_sha256 {here[:12]}...) equals this checkout's terraform")

    LOG_WAIT_S = 30.0

    def invocations_for_job(self, job_id: str, key: str = "video_processor", *,
                            expect_some: bool = True) -> list[str]:
        """Log lines of the function that mention the job: CloudWatch is the invocation record on AWS.
        CloudWatch ingests with a delay, so this polls (bounded) for lines when some are expected, and
        waits a shorter while before concluding there are none."""
        import time

        deadline = time.monotonic() + (self.LOG_WAIT_S if expect_some else self.LOG_WAIT_S / 3)
        while True:
            lines = [line for line in self.function_logs(self.stack.function(key).name) if job_id in line]
            if (lines and expect_some) or time.monotonic() >= deadline:
                return lines
            time.sleep(1.0)

    def close(self) -> None:
        self.cleanup()


def _apply_outputs(spec, outputs: dict):
    """The deployed names and ARNs in place of the ones computed offline (account, layer version, vars):
    what 1A compares the deployed functions with."""
    functions = dict(spec.functions)
    names = dict(outputs.get("test_function_names") or {})
    layers = dict(spec.layers)
    swap: dict = {}   # value computed offline -> the deployed one
    for name, address in spec.layer_arn_outputs.items():
        if outputs.get(name):
            swap[layers[address].arn] = outputs[name]
            layers[address] = dataclasses.replace(layers[address], arn=outputs[name])
    if outputs.get("role_arn"):
        swap[spec.role_arn] = outputs["role_arn"]
    if outputs.get("bucket_name"):
        swap[spec.bucket] = outputs["bucket_name"]
    if outputs.get("table_name"):
        swap[spec.table.name] = outputs["table_name"]
    for key, fn in functions.items():
        functions[key] = dataclasses.replace(fn, role=swap.get(fn.role, fn.role),
                                             env={k: swap.get(v, v) if isinstance(v, str) else v
                                                  for k, v in fn.env.items()})
    for out_key, tf_key in OUTPUT_FUNCTIONS.items():
        if tf_key in functions:
            if names.get(out_key):
                functions[tf_key] = dataclasses.replace(functions[tf_key], name=names[out_key], enabled=True)
            elif out_key in names:
                functions[tf_key] = dataclasses.replace(functions[tf_key], enabled=False)
    if outputs.get("processor_function_name") and "video_processor" in functions:
        functions["video_processor"] = dataclasses.replace(functions["video_processor"],
                                                           name=outputs["processor_function_name"])
    table = spec.table
    if outputs.get("table_name"):
        table = dataclasses.replace(table, name=outputs["table_name"])
    return dataclasses.replace(spec, bucket=outputs.get("bucket_name", spec.bucket), table=table,
                               functions=functions, layers=layers, role_arn=swap.get(spec.role_arn, spec.role_arn))
