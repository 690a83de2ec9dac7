"""The Lambda API of the embedded AWS.

moto keeps the control plane (CreateFunction, GetFunction, configuration,
concurrency, layers); this service keeps the code. It captures every zip that
passes through CreateFunction, UpdateFunctionCode and PublishLayerVersion, and
answers Invoke itself: it reads the function's current configuration from
moto, unpacks the code and layers it names, and runs them in the LambdaRuntime.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import threading
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, unquote

import boto3
from botocore.exceptions import ClientError

from harness.runtime import FunctionSpec, LambdaRuntime, TooManyRequests
from harness.runtime.wire import invoke_response, not_found_response, payload_problem, throttle_response

_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
_CREATE = re.compile(r"^/2015-03-31/functions/?$")
_UPDATE_CODE = re.compile(r"^/2015-03-31/functions/([^/]+)/code$")
_UPDATE_CONFIG = re.compile(r"^/2015-03-31/functions/([^/]+)/configuration$")
_PUBLISH_LAYER = re.compile(r"^/2018-10-31/layers/([^/]+)/versions$")
_EVENT_INVOKE_CONFIG = re.compile(r"^/2019-09-25/functions/([^/]+)/event-invoke-config/?$")
# control-plane calls after which a throttled async event must look at the function again
_CONFIG_CHANGE = re.compile(r"^/[0-9-]+/functions/([^/]+)/(configuration|concurrency|event-invoke-config|code)/?$")


class LambdaService:
    def __init__(self, moto_port: int, work_dir: Path, runtime: LambdaRuntime, *, region: str,
                 credentials: dict[str, str]) -> None:
        self.moto_port = moto_port
        self.work_dir = Path(work_dir)
        self.zips = self.work_dir / "zips"
        self.zips.mkdir(parents=True, exist_ok=True)
        self.runtime = runtime
        self.region = region
        self.layer_zips: dict[str, str] = {}   # layer version ARN -> zip sha256 hex
        # moto ignores EphemeralStorage in UpdateFunctionConfiguration; this service keeps it.
        self.ephemeral: dict[str, int] = {}
        self._lock = threading.Lock()
        self.control = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{moto_port}",
                                    region_name=region, **credentials)

    # -- HTTP entry ---------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes):
        answer = self._handle(method, path, query, headers, body)
        m = _CONFIG_CHANGE.match(unquote(path))
        if m and method != "GET" and answer[0] < 300 and self.runtime is not None:
            name = m.group(1)
            self.runtime.configuration_changed(name.split(":function:")[-1].split(":")[0] if name.startswith("arn:")
                                               else name.split(":")[0])
        return answer

    def _handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes):
        path = unquote(path)
        m = _INVOKE.match(path)
        if m and method == "POST":
            return self.invoke(m.group(1), parse_qs(query).get("Qualifier", [None])[0], headers, body)
        if method == "POST" and _CREATE.match(path):
            body = self._capture(body, ("Code", "ZipFile"))
        elif method == "PUT" and _UPDATE_CODE.match(path):
            body = self._capture(body, ("ZipFile",))
        elif method == "PUT" and (m := _UPDATE_CONFIG.match(path)):
            try:
                size = (json.loads(body).get("EphemeralStorage") or {}).get("Size")
            except (ValueError, AttributeError):
                size = None
            status, out_headers, out = self._forward(method, path, query, headers, body)
            if status < 300 and size is not None:
                self.ephemeral[m.group(1).split(":function:")[-1]] = int(size)
            return status, out_headers, out
        elif method in ("PUT", "POST") and _EVENT_INVOKE_CONFIG.match(path):
            return self._event_invoke_config(method, path, query, headers, body)
        elif method == "POST" and _PUBLISH_LAYER.match(path):
            sha = None
            try:
                content = json.loads(body).get("Content", {})
                if content.get("ZipFile"):
                    sha = self._store(base64.b64decode(content["ZipFile"]))
            except (ValueError, AttributeError):
                pass
            status, out_headers, out = self._forward(method, path, query, headers, body)
            if status < 300 and sha:
                arn = json.loads(out).get("LayerVersionArn")
                if arn:
                    self.layer_zips[arn] = sha
            return status, out_headers, out
        return self._forward(method, path, query, headers, body)

    def _event_invoke_config(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes):
        """PutFunctionEventInvokeConfig overwrites the configuration and UpdateFunctionEventInvokeConfig
        changes only the fields it names; moto appends a second configuration and keeps answering with
        the first, so both become a delete plus a put of the whole configuration here."""
        try:
            wanted = json.loads(body or b"{}")
        except ValueError:
            return self._forward(method, path, query, headers, body)
        fields = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        status, _, current = self._forward("GET", path, query, headers, b"")
        if method == "POST":
            if status >= 300:
                return self._forward(method, path, query, headers, body)   # moto's own "not found"
            old = json.loads(current)
            wanted = {**{k: old[k] for k in fields if old.get(k) is not None}, **wanted}
        if status < 300:
            self._forward("DELETE", path, query, headers, b"")
        return self._forward("PUT", path, query, headers, json.dumps(wanted).encode())

    def _store(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.zips / f"{sha}.zip"
        if not path.exists():
            tmp = path.with_suffix(f".tmp{os.getpid()}{threading.get_ident()}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return sha

    def _capture(self, body: bytes, field: tuple[str, ...]) -> bytes:
        try:
            doc = json.loads(body)
            node = doc
            for name in field[:-1]:
                node = node.get(name, {})
            if node.get(field[-1]):
                self._store(base64.b64decode(node[field[-1]]))
        except (ValueError, AttributeError):
            pass
        return body

    def _forward(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes):
        conn = http.client.HTTPConnection("127.0.0.1", self.moto_port, timeout=120)
        try:
            url = path + (f"?{query}" if query else "")
            fwd = {k: v for k, v in headers.items() if k.lower() not in ("connection", "transfer-encoding")}
            conn.request(method, url, body=body or None, headers=fwd)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    # -- Invoke -------------------------------------------------------------------------
    def spec_for(self, name: str) -> FunctionSpec:
        """The function as deployed now; raises LookupError when it does not exist."""
        try:
            fn = self.control.get_function(FunctionName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                raise LookupError(name) from None
            raise
        cfg = fn["Configuration"]
        sha = base64.b64decode(cfg["CodeSha256"]).hex()
        code_dir = self._unpack([sha], "code")
        layer_shas = []
        for layer in cfg.get("Layers", []):
            arn = layer["Arn"]
            if arn not in self.layer_zips:
                raise RuntimeError(f"function {name} uses layer {arn}, whose zip never passed through "
                                   "PublishLayerVersion on this endpoint")
            layer_shas.append(self.layer_zips[arn])
        opt_dir = self._unpack(layer_shas, "opt") if layer_shas else None
        try:
            conc = self.control.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        except ClientError:
            conc = None
        try:
            invoke_cfg = self.control.get_function_event_invoke_config(FunctionName=name)
        except ClientError:
            invoke_cfg = {}     # none declared: AWS's defaults
        return FunctionSpec(
            name=cfg["FunctionName"], handler=cfg["Handler"], runtime=cfg["Runtime"],
            memory_mb=int(cfg.get("MemorySize", 128)), timeout_s=float(cfg.get("Timeout", 3)),
            ephemeral_mb=self.ephemeral.get(cfg["FunctionName"],
                                            int(cfg.get("EphemeralStorage", {}).get("Size", 512))),
            env=dict(cfg.get("Environment", {}).get("Variables", {})),
            code_dir=code_dir, opt_dir=opt_dir, reserved_concurrency=conc, code_sha256=sha,
            max_retry_attempts=int(invoke_cfg.get("MaximumRetryAttempts", 2)),
            max_event_age_s=int(invoke_cfg.get("MaximumEventAgeInSeconds", 21600)),
            on_failure=(invoke_cfg.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination"),
        )

    def _unpack(self, shas: list[str], kind: str) -> Path:
        key = hashlib.sha256("|".join(shas).encode()).hexdigest()[:24]
        dest = self.work_dir / kind / key
        with self._lock:
            if dest.exists():
                return dest
            tmp = dest.with_name(dest.name + ".tmp")
            for sha in shas:
                src = self.zips / f"{sha}.zip"
                if not src.exists():
                    raise RuntimeError(f"no code zip with sha256 {sha} was deployed through this endpoint")
                with zipfile.ZipFile(src) as zf:
                    for info in zf.infolist():
                        out = zf.extract(info, tmp)
                        mode = (info.external_attr >> 16) & 0o777
                        if mode:
                            os.chmod(out, mode)
            os.replace(tmp, dest)
            return dest

    def invoke(self, name: str, qualifier: str | None, headers: dict[str, str], body: bytes):
        lower = {k.lower(): v for k, v in headers.items()}
        invocation_type = lower.get("x-amz-invocation-type", "RequestResponse")
        log_type = lower.get("x-amz-log-type", "None")
        short = name.split(":function:")[-1].split(":")[0] if name.startswith("arn:") else name.split(":")[0]
        try:
            spec = self.spec_for(short)
        except LookupError:
            return not_found_response(short, region=self.region)
        if invocation_type == "DryRun":
            return 204, {"x-amzn-RequestId": "dryrun"}, b""
        refused = payload_problem(body, invocation_type)
        if refused is not None:
            return refused
        try:
            result = self.runtime.invoke(spec, body, invocation_type=invocation_type, log_type=log_type,
                                         refresh=lambda: self.spec_for(short))
        except TooManyRequests:
            return throttle_response(short)
        return invoke_response(result)
