"""Offline checks of the stack against the code: part of step 1A, so they gate everything.

Each check returns Findings; a failing finding is one line that names both
sides (the terraform address and file, the code module and line).
"""
from __future__ import annotations

import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.runtime.awsruntime import RESERVED_ENV  # one list of what AWS sets itself
from harness.stack.build import Artifact
from harness.stack.codescan import CodeFacts
from harness.stack.elf import glibc_needs, runtime_compatibility
from harness.stack.terraform import StackSpec, load_stack

ZIP_LIMIT = 50 * 1024 * 1024          # direct upload, zipped
UNZIPPED_LIMIT = 250 * 1024 * 1024    # function + layers, unzipped
READ_PREFIXES = ("uploads/",)
WRITE_PREFIXES = ("processed/", "test_output/")
S3_READ = {"s3:GetObject", "s3:GetObjectVersion"}
S3_WRITE = {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl"}


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str


def _where(spec: StackSpec, fn) -> str:
    return f"{fn.address} ({Path(fn.file).name})"


def check_reserved_env(spec: StackSpec) -> list[Finding]:
    out = []
    for fn in spec.functions.values():
        bad = sorted(set(fn.env) & RESERVED_ENV)
        for key in bad:
            out.append(Finding("reserved env keys", False,
                               f"{_where(spec, fn)} sets reserved env var {key}: Lambda rejects it at apply; "
                               "remove it (the runtime sets it)"))
    return out or [Finding("reserved env keys", True, "no function sets a reserved Lambda env var")]


def check_iam(spec: StackSpec) -> list[Finding]:
    out = []
    for st in spec.policy:
        logs_only = all(a.startswith("logs:") for a in st.actions)
        for action in st.actions:
            if action == "*" or action.endswith(":*") or "*" in action.split(":", 1)[-1]:
                out.append(Finding("IAM least privilege", False,
                                   f"IAM statement {st.sid or '?'} allows wildcard action {action!r}: list the actions"))
        for res in st.resources:
            if res == "*" and not logs_only:
                out.append(Finding("IAM least privilege", False,
                                   f"IAM statement {st.sid or '?'} grants {', '.join(st.actions)} on resource '*': "
                                   "only logs may use '*'"))
            if res.startswith("arn:aws:s3:::"):
                key = res.split("/", 1)[1] if "/" in res else None
                acts = set(st.actions)
                if key is not None and acts & S3_WRITE and not key.startswith(WRITE_PREFIXES):
                    out.append(Finding("IAM least privilege", False,
                                       f"IAM statement {st.sid or '?'} allows writes on {res}: writes must stay under "
                                       f"{' and '.join(WRITE_PREFIXES)}"))
                if key is not None and acts & S3_READ and not key.startswith(READ_PREFIXES + WRITE_PREFIXES):
                    out.append(Finding("IAM least privilege", False,
                                       f"IAM statement {st.sid or '?'} allows reads on {res}: reads must stay under "
                                       f"{', '.join(READ_PREFIXES + WRITE_PREFIXES)}"))
            if res.startswith("arn:aws:sqs:"):
                destinations = {fn.on_failure for fn in spec.functions.values() if fn.on_failure}
                extra = sorted(set(st.actions) - {"sqs:SendMessage"})
                if extra or res not in destinations:
                    out.append(Finding("IAM least privilege", False,
                                       f"IAM statement {st.sid or '?'} grants {', '.join(st.actions)} on {res}: the "
                                       "role may only sqs:SendMessage to a queue terraform names as an on-failure "
                                       f"destination ({', '.join(sorted(destinations)) or 'none'})"))
            if res.startswith("arn:aws:dynamodb:") and not res.endswith(f"table/{spec.table.name}"):
                out.append(Finding("IAM least privilege", False,
                                   f"IAM statement {st.sid or '?'} grants DynamoDB on {res}, not only the table "
                                   f"{spec.table.name}"))
    return out or [Finding("IAM least privilege", True,
                           f"{len(spec.policy)} statements: no wildcard actions, '*' only for logs, "
                           "S3 reads under uploads/, writes under processed/ and test_output/, "
                           "SQS only SendMessage to the on-failure destination")]


def check_limits(spec: StackSpec) -> list[Finding]:
    out = []
    for fn in spec.functions.values():
        if not 1 <= fn.timeout_s <= 900:
            out.append(Finding("limits", False, f"{_where(spec, fn)} timeout {fn.timeout_s} s is outside 1..900"))
        if not 128 <= fn.memory_mb <= 10240:
            out.append(Finding("limits", False, f"{_where(spec, fn)} memory {fn.memory_mb} MB is outside 128..10240"))
        if not 512 <= fn.ephemeral_mb <= 10240:
            out.append(Finding("limits", False, f"{_where(spec, fn)} ephemeral storage {fn.ephemeral_mb} MB is outside 512..10240"))
    return out or [Finding("limits", True, "timeouts <= 900 s, memory 128..10240 MB, ephemeral 512..10240 MB")]


def check_handlers(spec: StackSpec, code: CodeFacts) -> list[Finding]:
    out = []
    for fn in spec.functions.values():
        problem = code.handler_problem(fn.handler)
        if problem:
            out.append(Finding("handlers exist", False, f"{_where(spec, fn)}: {problem}"))
    return out or [Finding("handlers exist", True, f"all {len(spec.functions)} handlers exist in the package")]


def check_env_reads(spec: StackSpec, code: CodeFacts) -> list[Finding]:
    out = []
    for fn in spec.functions.values():
        if code.handler_problem(fn.handler):
            continue
        for read in code.env_reads_of_handler(fn.handler):
            if read.required and read.name not in fn.env:
                out.append(Finding("env vars set", False,
                                   f"code reads env var {read.name} ({Path(read.file).name}:{read.line}, required) but "
                                   f"terraform {_where(spec, fn)} does not set it"))
    return out or [Finding("env vars set", True, "every env var the handlers require is set by terraform")]


def check_table_key(spec: StackSpec, code: CodeFacts) -> list[Finding]:
    for module, consts in code.constants.items():
        if "HASH_KEY" in consts:
            value, line = consts["HASH_KEY"]
            file = Path(code.modules[module]).name
            if value != spec.table.hash_key:
                return [Finding("table key schema", False,
                                f"terraform {spec.table.address} hash_key {spec.table.hash_key!r} != code HASH_KEY "
                                f"{value!r} ({file}:{line})")]
            return [Finding("table key schema", True, f"hash key {value!r} in terraform and code")]
    return [Finding("table key schema", False, "the code declares no HASH_KEY constant to compare with terraform")]


def check_layer(spec: StackSpec, layer: Artifact, package: Artifact, binary: Path) -> list[Finding]:
    out = []
    needs = glibc_needs(binary)
    for fn in spec.enabled_functions:
        if not fn.layers:
            continue
        ok, line = runtime_compatibility(needs, fn.runtime)
        out.append(Finding("layer fits runtime", ok, f"{fn.address}: {line}"))
        for addr in fn.layers:
            decl = spec.layers.get(addr)
            if decl and fn.runtime not in decl.runtimes:
                out.append(Finding("layer fits runtime", False,
                                   f"{fn.address} runs {fn.runtime} but {addr} lists runtimes {list(decl.runtimes)}"))
        total = package.unzipped_bytes + layer.unzipped_bytes
        if total > UNZIPPED_LIMIT:
            out.append(Finding("sizes", False, f"{fn.address}: package + layers unzip to {total / 2**20:.1f} MB > 250 MB"))
    for art, what in ((layer, "layer"), (package, "package")):
        if art.zipped_bytes > ZIP_LIMIT:
            out.append(Finding("sizes", False, f"{what} zip is {art.zipped_bytes / 2**20:.1f} MB > 50 MB direct-upload limit"))
    with zipfile.ZipFile(layer.path) as zf:
        if "bin/ffmpeg" not in zf.namelist():
            out.append(Finding("layer fits runtime", False, f"{layer.path.name} has no bin/ffmpeg (Lambda mounts it at /opt/bin/ffmpeg)"))
    if all(f.ok for f in out):
        out.append(Finding("sizes", True, f"layer {layer.zipped_bytes / 2**20:.1f} MB zipped / {layer.unzipped_bytes / 2**20:.1f} MB "
                                           f"unzipped; package {package.zipped_bytes / 1024:.0f} KB"))
    return out


def check_production(tf_dir: Path, workspace: str = "prod") -> list[Finding]:
    prod = load_stack(tf_dir, workspace=workspace)
    on = [fn.address for fn in prod.enabled_functions if fn.key != "video_processor"]
    if on:
        return [Finding("test functions off in production", False,
                        f"workspace {workspace} (terraform/env/{workspace}.tfvars) still deploys {', '.join(on)}")]
    return [Finding("test functions off in production", True,
                    f"workspace {workspace} deploys only the processor")]


def check_fmt(tf_dir: Path) -> list[Finding]:
    exe = shutil.which("terraform")
    if not exe:
        return [Finding("terraform fmt", True, "terraform fmt not run: no terraform binary on PATH")]
    proc = subprocess.run([exe, "fmt", "-check", "-recursive", "-no-color", str(tf_dir)],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        files = ", ".join(proc.stdout.split()) or proc.stderr.strip().splitlines()[-1]
        return [Finding("terraform fmt", False, f"terraform fmt -check fails for: {files}")]
    return [Finding("terraform fmt", True, "terraform fmt -check is clean")]


def run_static_checks(spec: StackSpec, code: CodeFacts) -> list[Finding]:
    """The checks that need neither builds nor a terraform binary."""
    return (check_reserved_env(spec) + check_iam(spec) + check_limits(spec) + check_handlers(spec, code)
            + check_env_reads(spec, code) + check_table_key(spec, code) + check_production(spec.tf_dir))


def check_backend_defaults(settings_file: Path) -> list[Finding]:
    """Production safety of the backend's defaults: test endpoints off, Celery unless the flag is set."""
    import ast

    want = {"ENABLE_TEST_ENDPOINTS": False, "USE_LAMBDA_PROCESSING": False}
    found: dict[str, object] = {}
    tree = ast.parse(settings_file.read_text(), filename=str(settings_file))
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in want:
            found[node.target.id] = node.value.value if isinstance(node.value, ast.Constant) else None
    out = []
    for name, value in want.items():
        if name not in found:
            out.append(Finding("backend production defaults", False, f"{settings_file.name} declares no {name} setting"))
        elif found[name] is not value:
            out.append(Finding("backend production defaults", False,
                               f"{settings_file.name}: {name} defaults to {found[name]!r}; it must default to "
                               f"{value!r} so production needs an explicit opt-in"))
    return out or [Finding("backend production defaults", True,
                           "test endpoints off and Celery routing unless explicitly enabled")]
