"""Offline checks of the stack against the code: part of step 1A, so they gate everything.

Each check returns Findings; a failing finding is one line that names both
sides (the terraform address and file, the code module and line). A check that
cannot do its work (a tool or an input is missing) says so with a finding that
did not run, and that blocks the step as a failure does: no check passes
without having looked. `assess` turns findings into the step's evidence and
its one-line problems.
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
from harness.stack.errors import CheckNotRun
from harness.stack.terraform import StackSpec, load_stack

ZIP_LIMIT = 50 * 1024 * 1024          # direct upload, zipped
UNZIPPED_LIMIT = 250 * 1024 * 1024    # function + layers, unzipped
READ_PREFIXES = ("uploads/",)
WRITE_PREFIXES = ("processed/", "test_output/")
S3_READ = {"s3:GetObject", "s3:GetObjectVersion"}
S3_WRITE = {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl"}


TERRAFORM_INSTALL = ("install the terraform CLI (https://developer.hashicorp.com/terraform/install; "
                     "not on PyPI or Debian)")


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str       # did not run: why not
    ran: bool = True
    fix: str = ""      # did not run: how to make it run (install the tool, provide the input)
    tool: str | None = None

    def __post_init__(self) -> None:
        if self.ok and not self.ran:
            raise ValueError(f"{self.check}: a check that did not run cannot be ok")

    @property
    def line(self) -> str:
        """The one line a person reads."""
        if not self.ran:
            return f"{self.check} not run: {self.message}" + (f" — {self.fix}" if self.fix else "")
        return self.message


def not_run(check: str, why: str, fix: str, tool: str | None = None) -> Finding:
    """A check that could not do its work: never ok, so it blocks the step until it runs."""
    return Finding(check, False, why, ran=False, fix=fix, tool=tool)


@dataclass(frozen=True)
class Assessment:
    passed: list[str]      # evidence: "<check>: <what it saw>"
    problems: list[str]    # one line each: a failed check, or "<check> not run: <why> — <fix>"

    @property
    def summary(self) -> str:
        return " | ".join(self.problems)


def assess(findings: list[Finding]) -> Assessment:
    """Pure: the evidence and the problems of a list of findings (a check that did not run is a problem)."""
    return Assessment(passed=[f"{f.check}: {f.message}" for f in findings if f.ok and f.ran],
                      problems=[f.line for f in findings if not (f.ok and f.ran)])


def _where(spec: StackSpec, fn) -> str:
    return f"{fn.address} ({Path(fn.file).name})"


def _no_functions(check: str, spec: StackSpec) -> list[Finding]:
    return [not_run(check, f"terraform in {spec.tf_dir} declares no aws_lambda_function",
                    "point --terraform-dir at the stack that declares the functions")] if not spec.functions else []


def check_reserved_env(spec: StackSpec) -> list[Finding]:
    out = _no_functions("reserved env keys", spec)
    for fn in spec.functions.values():
        bad = sorted(set(fn.env) & RESERVED_ENV)
        for key in bad:
            out.append(Finding("reserved env keys", False,
                               f"{_where(spec, fn)} sets reserved env var {key}: Lambda rejects it at apply; "
                               "remove it (the runtime sets it)"))
    return out or [Finding("reserved env keys", True, "no function sets a reserved Lambda env var")]


# Ways to grant a role permissions that the offline IAM check does not read.
UNREAD_GRANTS = ("aws_iam_role_policy_attachment.", "aws_iam_policy_attachment.", "aws_iam_policy.")


def check_iam(spec: StackSpec) -> list[Finding]:
    out = [not_run("IAM least privilege", f"terraform grants through {address}, which is not read offline",
                   "declare the role's permissions as a data.aws_iam_policy_document attached with "
                   "aws_iam_role_policy")
           for address in sorted(spec.resources) if address.startswith(UNREAD_GRANTS)]
    out += [not_run("IAM least privilege", f"{address} sets {attr}, which is not read offline",
                    "declare the role's permissions as a data.aws_iam_policy_document attached with "
                    "aws_iam_role_policy")
            for address, body in sorted(spec.resources.items()) if address.startswith("aws_iam_role.")
            for attr in ("inline_policy", "managed_policy_arns") if attr in body]
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
    out = _no_functions("limits", spec)
    for fn in spec.functions.values():
        if not 1 <= fn.timeout_s <= 900:
            out.append(Finding("limits", False, f"{_where(spec, fn)} timeout {fn.timeout_s} s is outside 1..900"))
        if not 128 <= fn.memory_mb <= 10240:
            out.append(Finding("limits", False, f"{_where(spec, fn)} memory {fn.memory_mb} MB is outside 128..10240"))
        if not 512 <= fn.ephemeral_mb <= 10240:
            out.append(Finding("limits", False, f"{_where(spec, fn)} ephemeral storage {fn.ephemeral_mb} MB is outside 512..10240"))
    return out or [Finding("limits", True, "timeouts <= 900 s, memory 128..10240 MB, ephemeral 512..10240 MB")]


def check_handlers(spec: StackSpec, code: CodeFacts) -> list[Finding]:
    out = _no_functions("handlers exist", spec)
    for fn in spec.functions.values():
        problem = code.handler_problem(fn.handler)
        if problem:
            out.append(Finding("handlers exist", False, f"{_where(spec, fn)}: {problem}"))
    return out or [Finding("handlers exist", True, f"all {len(spec.functions)} handlers exist in the package")]


def check_env_reads(spec: StackSpec, code: CodeFacts) -> list[Finding]:
    out = _no_functions("env vars set", spec)
    for fn in spec.functions.values():
        if code.handler_problem(fn.handler):
            out.append(not_run("env vars set", f"{_where(spec, fn)}: handler {fn.handler!r} is not in the "
                               "package, so the env vars it reads are unknown", "fix the handler (see 'handlers exist')"))
            continue
        for read in code.computed_env_reads_of_handler(fn.handler):
            out.append(not_run("env vars set", f"code reads an env var by a computed name {read.name} "
                               f"({Path(read.file).name}:{read.line}), reachable from {_where(spec, fn)}",
                               'read it with a literal name (environ["X"] or environ.get("X", default))'))
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
    return [not_run("table key schema", f"the code in {code.root} declares no HASH_KEY constant to compare with "
                    f"terraform's {spec.table.address} hash_key",
                    'declare HASH_KEY = "<key>" in the module that owns the job table')]


def check_layer(spec: StackSpec, layer: Artifact, package: Artifact, binary: Path) -> list[Finding]:
    out = []
    try:
        needs = glibc_needs(binary)
    except CheckNotRun as exc:
        needs = None
        out.append(not_run("layer fits runtime", f"glibc needs of the layer binary unknown: {exc.why}", exc.fix,
                           tool=exc.tool))
    except ValueError as exc:   # not an ELF binary: it cannot start on Lambda either
        needs = None
        out.append(Finding("layer fits runtime", False, f"layer binary: {exc}"))
    for fn in spec.enabled_functions:
        if not fn.layers:
            continue
        if needs is not None:
            ok, line = runtime_compatibility(needs, fn.runtime)
            out.append(Finding("layer fits runtime", ok, f"{fn.address}: {line}"))
        for addr in fn.layers:
            decl = spec.layers.get(addr)
            if decl is None:
                out.append(not_run("layer fits runtime", f"{fn.address} uses layer {addr}, which this terraform "
                                   "does not build: its contents and runtimes cannot be checked offline",
                                   "declare the layer as an aws_lambda_layer_version of this stack"))
            elif fn.runtime not in decl.runtimes:
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
    source = (f"terraform/env/{workspace}.tfvars" if (Path(tf_dir) / "env" / f"{workspace}.tfvars").exists()
              else f"no terraform/env/{workspace}.tfvars: the variable defaults")
    on = [fn.address for fn in prod.enabled_functions if fn.key != "video_processor"]
    if on:
        return [Finding("test functions off in production", False,
                        f"workspace {workspace} ({source}) still deploys {', '.join(on)}")]
    return [Finding("test functions off in production", True,
                    f"workspace {workspace} ({source}) deploys only the processor")]


def check_fmt(tf_dir: Path) -> list[Finding]:
    """Style only, so not part of the gate (see catalogue.NOT_CHECKED); `make lint` runs it."""
    exe = shutil.which("terraform")
    if not exe:
        return [not_run("terraform fmt", "no terraform binary on PATH", TERRAFORM_INSTALL, tool="terraform")]
    proc = subprocess.run([exe, "fmt", "-check", "-recursive", "-no-color", str(tf_dir)],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        files = ", ".join(proc.stdout.split()) or proc.stderr.strip().splitlines()[-1]
        return [Finding("terraform fmt", False, f"terraform fmt -check fails for: {files}")]
    return [Finding("terraform fmt", True, "terraform fmt -check is clean")]


def check_runtime_lifecycle(spec: StackSpec, today=None) -> list[Finding]:
    """Each declared runtime against AWS's deprecation and block dates (harness.stack.runtimes)."""
    from datetime import date

    from harness.stack import runtimes

    today = today or date.today()
    out = []
    for runtime in sorted({fn.runtime for fn in spec.enabled_functions}):
        ok, line = runtimes.judge(runtime, today)
        out.append(Finding("runtime lifecycle", ok, line))
    return out


def run_static_checks(spec: StackSpec, code: CodeFacts) -> list[Finding]:
    """The checks that need neither builds nor a terraform binary."""
    return (check_runtime_lifecycle(spec) + check_reserved_env(spec) + check_iam(spec) + check_limits(spec) + check_handlers(spec, code)
            + check_env_reads(spec, code) + check_table_key(spec, code) + check_production(spec.tf_dir))


def check_backend_defaults(settings_file: Path) -> list[Finding]:
    """Production safety of the backend's defaults: test endpoints off, Celery unless the flag is set."""
    import ast

    want = {"ENABLE_TEST_ENDPOINTS": False, "USE_LAMBDA_PROCESSING": (False, None)}
    found: dict[str, object] = {}
    if not settings_file.is_file():
        return [not_run("backend production defaults", f"{settings_file} does not exist",
                        "point --backend-src at the backend that declares the settings")]
    tree = ast.parse(settings_file.read_text(), filename=str(settings_file))
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in want:
            found[node.target.id] = (node.value.value if isinstance(node.value, ast.Constant)
                                     else ast.unparse(node.value) if node.value is not None else "<no default>")
    out = []
    for name, value in want.items():
        if name not in found:
            out.append(Finding("backend production defaults", False, f"{settings_file.name} declares no {name} setting"))
        elif not any(found[name] is v for v in (value if isinstance(value, tuple) else (value,))):
            allowed = " or ".join(repr(v) for v in (value if isinstance(value, tuple) else (value,)))
            out.append(Finding("backend production defaults", False,
                               f"{settings_file.name}: {name} defaults to {found[name]!r}; it must default to "
                               f"{allowed} so production needs an explicit opt-in"))
    return out or [Finding("backend production defaults", True,
                           "test endpoints off; Celery routing unless the flag is set or the rollout weight "
                           "(0 as terraform creates it) moves")]
