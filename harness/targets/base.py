"""What every target offers the phase modules: clients, names, and a few bounded helpers.

Tests never branch on the target's name; a test that needs a capability only
the embedded target has (fault injection) is marked local_only and is not
collected for aws.
"""
from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from harness.stack.terraform import StackSpec

log = logging.getLogger("harness.target")
TERMINAL = ("COMPLETED", "FAILED")


class TargetError(RuntimeError):
    """The target cannot be used; the message says why and what to do."""


class JobStuck(AssertionError):
    """A job is not finished and no invocation of it is left to finish it; the message quotes why."""


STUCK_GRACE_S = 1.0     # a finished invocation's last write must have landed by then


@dataclass
class Invocation:
    status_code: int
    payload: object
    function_error: str | None
    log_tail: str
    request_id: str

    @property
    def ok(self) -> bool:
        return self.function_error is None and 200 <= self.status_code < 300


def _opt(config, name: str):
    return config.getoption(name) if config is not None else None


def terraform_dir(config) -> Path:
    from harness.stack import build

    custom = _opt(config, "--terraform-dir")
    return Path(custom).resolve() if custom else build.REPO / "terraform"


def tf_overrides(config) -> dict:
    out = {}
    for item in _opt(config, "--tf-var") or []:
        if "=" not in item:
            raise TargetError(f"--tf-var {item!r} must be NAME=VALUE")
        name, value = item.split("=", 1)
        out[name.strip()] = value
    return out


@dataclass(frozen=True)
class Sources:
    """What is being validated, read once from the options before any target starts."""

    terraform_dir: Path
    lambda_src: Path
    backend_src: Path | None
    ffmpeg_binary: Path
    ffmpeg_pin: str | None        # None: a custom binary, judged by 1A's checks instead of the pin
    build_dir: Path
    workspace: str | None = None
    tf_vars: tuple = ()

    @classmethod
    def from_config(cls, config, run_id: str) -> Sources:
        from harness.stack import build

        lambda_src = Path(_opt(config, "--lambda-src") or build.PACKAGE_SRC).resolve()
        backend = _opt(config, "--backend-src")
        custom = _opt(config, "--ffmpeg-binary")
        default = lambda_src == build.PACKAGE_SRC.resolve() and not custom
        return cls(terraform_dir=terraform_dir(config), lambda_src=lambda_src,
                   backend_src=Path(backend).resolve() if backend else None,
                   ffmpeg_binary=Path(custom).resolve() if custom else build.ffmpeg_source(),
                   ffmpeg_pin=None if custom else build.PINNED_FFMPEG_SHA256,
                   build_dir=build.BUILD_DIR if default else build.BUILD_DIR / f"custom-{run_id}",
                   workspace=_opt(config, "--tf-workspace"), tf_vars=tuple(sorted(tf_overrides(config).items())))

    def load_stack(self) -> StackSpec:
        from harness.stack.terraform import load_stack

        return load_stack(self.terraform_dir, workspace=self.workspace, overrides=dict(self.tf_vars))

    def package(self):
        from harness.stack import build

        return build.build_package(self.lambda_src, self.build_dir / "function.zip", runtime=self.runtime())

    @functools.cache  # noqa: B019  (one Sources per run: the stack's runtime does not change during it)
    def runtime(self) -> str:
        """The one runtime terraform declares for the package's functions (the default when they differ)."""
        from harness.stack import build

        runtimes = {fn.runtime for fn in self.load_stack().functions.values() if fn.runtime}
        return next(iter(runtimes)) if len(runtimes) == 1 else build.DEFAULT_RUNTIME

    def code_identity(self) -> dict:
        """What this run validates, for the ledger: package, layer, terraform and backend hashes."""
        from harness.tell import ledger

        return {"package_sha256": self.package().sha256, "layer_sha256": self.layer().sha256,
                "terraform_sha256": ledger.tree_sha256(self.terraform_dir, ("*.tf", "*.tfvars")),
                "backend_sha256": self.backend_sha256()}

    def backend_sha256(self) -> str:
        """The validated backend's hash; the deployed one reports its own by GET /api/version (CONTRACT B6)."""
        from harness.stack import build
        from harness.tell import ledger

        backend = (self.backend_src / "backend") if self.backend_src else build.REPO / "backend"
        return ledger.tree_sha256(backend, ("*.py",))

    def layer(self):
        from harness.stack import build

        return build.build_layer(self.build_dir / "ffmpeg-layer.zip", binary=self.ffmpeg_binary, pinned=self.ffmpeg_pin)


@dataclass
class Target:
    name: str
    stack: StackSpec
    session: object               # boto3.Session
    endpoint_url: str | None
    backend_url: str | None
    sources: Sources | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    created_keys: set = field(default_factory=set)
    created_jobs: set = field(default_factory=set)
    request_ids: dict = field(default_factory=dict)      # job id -> the async invoke's Lambda request id
    retry_slack: float = 0.0      # seconds a wait for a retried job adds (--aws-timing's real retry gaps)
    _stuck: dict = field(default_factory=dict, repr=False)   # request id -> what stuck_reason last saw
    identity_reported: bool = field(default=False, repr=False)   # the run record has our identity

    def __post_init__(self) -> None:
        self.started = time.time()
        kw = {"endpoint_url": self.endpoint_url} if self.endpoint_url else {}
        self.s3 = self.session.client("s3", **kw)
        from botocore.config import Config

        # Sync invokes share the function's reserved concurrency with whatever else runs (another
        # xdist worker's burst against one deployed stack): a throttle is retried with backoff, as
        # any caller of a throttled function should, instead of failing the check.
        self.lambda_ = self.session.client("lambda", config=Config(retries={"mode": "standard", "max_attempts": 10},
                                                                   read_timeout=900), **kw)
        self.dynamodb = self.session.client("dynamodb", **kw)
        self.logs = self.session.client("logs", **kw)

    # -- names -------------------------------------------------------------------------
    @property
    def bucket(self) -> str:
        return self.stack.bucket

    @property
    def table(self) -> str:
        return self.stack.table.name

    def function_name(self, key: str) -> str:
        return self.stack.function(key).name

    # -- what is being deployed ----------------------------------------------------------
    def package(self):
        return self.sources.package()

    def layer(self):
        return self.sources.layer()

    @property
    def source_dir(self) -> Path:
        return self.sources.lambda_src

    @property
    def ffmpeg_binary(self) -> Path:
        return self.sources.ffmpeg_binary

    def runtime_records(self, job_ids, key: str = "video_processor") -> list | None:
        """Structured invocation records (concurrency, throttles) where the target has them, else None."""
        return None

    def sigv2_requests(self) -> list[str] | None:
        """Requests the function signed with SigV2 so far, where the target can see signatures, else None."""
        return None

    def wire_writes(self, text: str) -> list | None:
        """The function's writes naming `text` (a job id) as the AWS endpoint saw them, with the delivery
        and attempt that made each (harness.local.wire); None where no endpoint of ours sees the wire."""
        return None

    def terraform_drift(self, address: str) -> tuple[bool | None, str]:
        """(drift?, why) for one resource; None when drift cannot be judged here, with the reason."""
        return None, "terraform plan not applicable: this target is provisioned from the parsed terraform itself"

    def backend(self) -> str:
        """Base URL of the backend under test."""
        if not self.backend_url:
            raise TargetError("no backend URL: pass --backend-url (or ROLLOUT_BACKEND_URL) for the aws target")
        return self.backend_url.rstrip("/")

    def restart_backend(self, **env: str) -> None:
        """Set backend environment variables and restart it; only a target that runs the backend can."""
        raise TargetError(f"the {self.name} target cannot restart the deployed backend at {self.backend_url}: "
                          f"set {', '.join(env)} there and restart it yourself")

    # -- helpers -----------------------------------------------------------------------
    def new_job_id(self) -> str:
        job_id = str(uuid.uuid4())
        self.created_jobs.add(job_id)
        return job_id

    def upload_key(self, filename: str, job_id: str | None = None) -> str:
        return f"uploads/{self.run_id}/{job_id or uuid.uuid4().hex[:8]}/{filename}"

    def upload_file(self, path: Path, *, job_id: str | None = None, filename: str | None = None) -> str:
        key = self.upload_key(filename or Path(path).name, job_id)
        self.s3.upload_file(str(path), self.bucket, key)
        self.created_keys.add(key)
        return key

    def invoke(self, key: str, payload: dict | None = None, *, asynchronous: bool = False,
               tail: bool = False) -> Invocation:
        kwargs = {"FunctionName": self.function_name(key), "Payload": json.dumps(payload or {}).encode(),
                  "InvocationType": "Event" if asynchronous else "RequestResponse"}
        if tail and not asynchronous:
            kwargs["LogType"] = "Tail"
        resp = self.lambda_.invoke(**kwargs)
        raw = resp["Payload"].read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        import base64
        tail_text = base64.b64decode(resp.get("LogResult", "")).decode("utf-8", "replace") if resp.get("LogResult") else ""
        rid = resp["ResponseMetadata"].get("RequestId", "")
        if asynchronous and isinstance(payload, dict) and isinstance(payload.get("job_id"), str) and rid:
            self.request_ids[payload["job_id"]] = rid
        return Invocation(resp["StatusCode"], body, resp.get("FunctionError"), tail_text, rid)

    def create_queued_job(self, job_id: str, s3_key: str | None = None) -> None:
        """Write a QUEUED job record, as the backend does before dispatch (conditional: never overwrites).
        The harness spells the record out itself (hash key from terraform, literal status and format)
        instead of importing the processing core: it checks the system, so it must not share its rules.
        The fixed old timestamp makes every later updated_at compare as newer."""
        hk = self.stack.table.hash_key
        then = "2026-01-01T00:00:00.000000Z"
        item = {hk: {"S": job_id}, "status": {"S": "QUEUED"}, "created_at": {"S": then}, "updated_at": {"S": then}}
        if s3_key is not None:
            item["s3_key"] = {"S": s3_key}
        self.dynamodb.put_item(TableName=self.table, Item=item, ConditionExpression=f"attribute_not_exists({hk})")
        self.created_jobs.add(job_id)

    def get_job(self, job_id: str) -> dict | None:
        from boto3.dynamodb.types import TypeDeserializer

        item = self.dynamodb.get_item(TableName=self.table, Key={self.stack.table.hash_key: {"S": job_id}},
                                      ConsistentRead=True).get("Item")
        if item is None:
            return None
        des = TypeDeserializer()
        return {k: des.deserialize(v) for k, v in item.items()}

    def stuck_reason(self, job_id: str, status: str | None, request_id: str | None = None) -> str | None:
        """Why a job that is not finished never will be (its invocations all ended), where the target
        can see invocations; None when it may still finish or when this target cannot tell."""
        return None

    def wait_for_job(self, job_id: str, *, timeout: float, interval: float = 0.1,
                     until: tuple[str, ...] = TERMINAL) -> dict:
        """Poll the job record until it reaches one of `until`; bounded, with progress in the log.
        A job whose invocations have all ended without finishing it fails at once, quoting why."""
        timeout += self.retry_slack        # --aws-timing: Lambda's real gaps between async attempts
        deadline = time.monotonic() + timeout
        last = None
        stuck_since = None
        while True:
            job = self.get_job(job_id)
            status = job.get("status") if job else None
            if status != last:
                log.info("job %s: %s", job_id, status)
                last = status
            if status in until:
                return job
            reason = (self.stuck_reason(job_id, status, request_id=self.request_ids.get(job_id))
                      if until == TERMINAL else None)
            stuck_since = (stuck_since or time.monotonic()) if reason else None
            if reason and time.monotonic() - stuck_since >= STUCK_GRACE_S:
                raise JobStuck(reason)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {status or 'absent'} after {timeout:.0f} s "
                                   f"(waiting for {'/'.join(until)})")
            time.sleep(interval)

    def list_keys(self, prefix: str) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return sorted(keys)

    def outputs_of(self, job_id: str) -> list[str]:
        return self.list_keys(f"processed/{job_id}/")

    def sha256_of(self, key: str) -> tuple[int, str]:
        import hashlib

        digest, size = hashlib.sha256(), 0
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        for chunk in iter(lambda: body.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
        return size, digest.hexdigest()

    def download(self, key: str, dest: Path) -> Path:
        self.s3.download_file(self.bucket, key, str(dest))
        return dest

    # -- cleanup -------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Delete everything this run wrote: uploads, outputs, copies and job records."""
        prefixes = [f"uploads/{self.run_id}/"] + [f"processed/{j}/" for j in self.created_jobs]
        for prefix in prefixes:
            try:
                for key in self.list_keys(prefix):
                    self.s3.delete_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                log.warning("cleanup of %s failed: %s", prefix, exc)
        for key in list(self.created_keys):
            try:
                self.s3.delete_object(Bucket=self.bucket, Key=key)
            except ClientError:
                pass
        for job_id in self.created_jobs:
            try:
                self.dynamodb.delete_item(TableName=self.table, Key={self.stack.table.hash_key: {"S": job_id}})
            except ClientError:
                pass
