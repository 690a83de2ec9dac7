"""P6: an invoke through the whole local stack, platform checks on and off, side by side in one run.

    python -m bench.p6_invoke [--warm 100] [--cold 15]

boto3 (signed with the function role's key, so the gateway verifies its signature) -> the gateway
-> the Lambda service -> the sandboxed runtime, for a 128 MB hello function. "on" is the stack as
the validation runs it: freeze between invocations, ulimits (in every sandbox), signature checks.
"off" is the same stack with the freeze and the signature checks turned off. Warm: the median of
`--warm` invokes per mode, interleaved in rounds of 10. Cold: the median of `--cold` first invokes
after a configuration change (a new instance each). Writes bench/p6_invoke.json.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config
from tabulate import tabulate

HERE = Path(__file__).resolve().parent
SECRET = "p6-secret"
APP = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'Hello from Lambda'}\n"


class Stack:
    def __init__(self, work: Path, *, checks: bool) -> None:
        from moto.server import ThreadedMotoServer

        from harness.local.gateway import Gateway
        from harness.local.iam import FUNCTION_ACCESS_KEY
        from harness.local.lambda_service import LambdaService
        from harness.local.net import free_port
        from harness.runtime import LambdaRuntime

        port = free_port()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.moto.start()
        self.gw = Gateway(port, function_secret=SECRET if checks else None)
        self.runtime = LambdaRuntime(work / "rt", isolation="kernel", endpoint_url=self.gw.url)
        self.runtime.freeze = checks
        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
        self.gw.lambda_service = LambdaService(port, work / "lambda", self.runtime, region="us-east-1",
                                               credentials={k: v for k, v in creds.items() if k != "region_name"})
        admin = boto3.client("lambda", endpoint_url=self.gw.url, **creds)
        role = boto3.client("iam", endpoint_url=self.gw.url, **creds).create_role(
            RoleName=f"p6-{work.name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            info = zipfile.ZipInfo("app.py")
            info.external_attr = 0o644 << 16         # readable by the sandbox user, as Lambda requires
            zf.writestr(info, APP)
        self.name = f"hello-{work.name}"     # moto's state is per process: both stacks share it
        admin.create_function(FunctionName=self.name, Runtime=_runtime(), Role=role, Handler="app.handler",
                              MemorySize=128, Code={"ZipFile": buf.getvalue()})
        self.admin = admin
        self.client = boto3.client("lambda", endpoint_url=self.gw.url, region_name="us-east-1",
                                   aws_access_key_id=FUNCTION_ACCESS_KEY, aws_secret_access_key=SECRET,
                                   config=Config(retries={"total_max_attempts": 1}))
        self.n = 0

    def invoke_ms(self) -> float:
        t0 = time.perf_counter()
        out = self.client.invoke(FunctionName=self.name, Payload=b"{}")
        ms = (time.perf_counter() - t0) * 1000
        assert "FunctionError" not in out, out["Payload"].read()
        return ms

    def cold_ms(self) -> float:
        self.n += 1      # a new environment variable value: a new instance, as after UpdateFunctionConfiguration
        self.admin.update_function_configuration(FunctionName=self.name,
                                                 Environment={"Variables": {"N": str(self.n)}})
        return self.invoke_ms()

    def close(self) -> None:
        self.runtime.close()
        self.gw.close()
        self.moto.stop()


def _runtime() -> str:
    import sys

    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.p6_invoke", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warm", type=int, default=100)
    ap.add_argument("--cold", type=int, default=15)
    ap.add_argument("--json", type=Path, default=HERE / "p6_invoke.json")
    ns = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-p6-"))
    stacks = {"on": Stack(work / "on", checks=True), "off": Stack(work / "off", checks=False)}
    warm = {m: [] for m in stacks}
    cold = {m: [] for m in stacks}
    try:
        for s in stacks.values():
            s.invoke_ms()                                   # the first invoke of a function: not P6's cold start
        for _ in range(max(1, ns.warm // 10)):
            for m, s in stacks.items():
                warm[m] += [s.invoke_ms() for _ in range(10)]
        for _ in range(ns.cold):
            for m, s in stacks.items():
                cold[m].append(s.cold_ms())
        checked = stacks["on"].gw.signatures_checked
    finally:
        for s in stacks.values():
            s.close()
    rows = [[m, f"{statistics.median(warm[m]):.1f}", f"{statistics.median(cold[m]):.1f}", len(warm[m]), len(cold[m])]
            for m in stacks]
    print(tabulate(rows, headers=["checks", "warm median ms", "cold median ms", "warm n", "cold n"]))
    ratio_w = statistics.median(warm["on"]) / statistics.median(warm["off"])
    ratio_c = statistics.median(cold["on"]) / statistics.median(cold["off"])
    print(f"on/off: warm {ratio_w:.2f}x, cold {ratio_c:.2f}x; {checked} signatures verified in the 'on' stack")
    ns.json.write_text(json.dumps({"warm_ms": warm, "cold_ms": cold, "signatures_checked": checked,
                                   "ratios": {"warm": ratio_w, "cold": ratio_c}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
