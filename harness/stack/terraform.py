"""Reads terraform/*.tf with python-hcl2 into a StackSpec: what the stack declares.

Terraform is the single source of truth for names and limits. The local target
provisions exactly this spec; the offline checks judge it; phase modules read
expected values (memory, timeout, handler) from it instead of restating them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

from harness.stack.hclexpr import Unknown, evaluate

DEFAULT_ACCOUNT = "123456789012"


class StackError(ValueError):
    """The terraform cannot be read or resolved."""


@dataclass(frozen=True)
class FunctionDecl:
    address: str
    key: str
    name: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    env: dict
    layers: tuple
    role: str
    enabled: bool
    reserved_concurrency: int | None
    file: str
    # aws_lambda_function_event_invoke_config; AWS's defaults when none is declared
    max_retry_attempts: int = 2
    max_event_age_s: int = 21600
    on_failure: str | None = None        # destination ARN for async invocations that failed for good


@dataclass(frozen=True)
class TableDecl:
    address: str
    name: str
    hash_key: str
    range_key: str | None
    attributes: dict
    billing_mode: str
    gsis: tuple


@dataclass(frozen=True)
class LayerDecl:
    address: str
    name: str
    runtimes: tuple
    arn: str


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple
    resources: tuple
    conditions: tuple


@dataclass
class StackSpec:
    tf_dir: Path
    workspace: str
    region: str
    account: str
    variables: dict
    bucket: str
    table: TableDecl
    role_name: str
    role_arn: str
    policy: list[Statement]
    layers: dict[str, LayerDecl]
    functions: dict[str, FunctionDecl]
    resources: dict = field(repr=False, default_factory=dict)
    queues: dict = field(default_factory=dict)       # aws_sqs_queue address -> name

    def function(self, key: str) -> FunctionDecl:
        """A function by its terraform resource name, e.g. 'video_processor'."""
        try:
            return self.functions[key]
        except KeyError:
            raise StackError(f"terraform declares no aws_lambda_function.{key} "
                             f"(declared: {', '.join(sorted(self.functions))})") from None

    @property
    def enabled_functions(self) -> list[FunctionDecl]:
        return [f for f in self.functions.values() if f.enabled]


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def _load_blocks(tf_dir: Path) -> dict:
    merged: dict = {"variable": {}, "locals": {}, "resource": {}, "data": {}, "output": {}}
    files = sorted(tf_dir.glob("*.tf"))
    if not files:
        raise StackError(f"no *.tf files in {tf_dir}")
    for path in files:
        try:
            with path.open() as fh:
                doc = hcl2.load(fh)
        except Exception as exc:  # python-hcl2 raises lark errors of many kinds
            raise StackError(f"{path}: cannot parse terraform: {exc}") from exc
        for block in doc.get("variable", []):
            for name, body in block.items():
                merged["variable"][_unquote(name)] = body
        for block in doc.get("locals", []):
            merged["locals"].update({k: v for k, v in block.items() if k != "__is_block__"})
        for kind in ("resource", "data"):
            for block in doc.get(kind, []):
                for rtype, named in block.items():
                    for rname, body in named.items():
                        merged[kind][f"{_unquote(rtype)}.{_unquote(rname)}"] = body
    return merged


def _parse_tfvars(path: Path) -> dict:
    with path.open() as fh:
        doc = hcl2.load(fh)
    return {k: evaluate(v, lambda ref: Unknown(ref)) for k, v in doc.items() if not k.startswith("__")}


def _single(body: dict, key: str, default=None):
    value = body.get(key, default)
    if isinstance(value, list) and value and isinstance(value[0], dict) and value[0].get("__is_block__"):
        return value[0]
    return value


def load_stack(tf_dir: Path, *, workspace: str | None = None, overrides: dict | None = None,
               account: str = DEFAULT_ACCOUNT) -> StackSpec:
    """Resolve the stack: variable defaults, then env/<workspace>.tfvars, then -var overrides."""
    tf_dir = Path(tf_dir)
    blocks = _load_blocks(tf_dir)
    variables: dict = {}
    for name, body in blocks["variable"].items():
        variables[name] = evaluate(body.get("default"), lambda ref: Unknown(ref))
    workspace = workspace or _selected_workspace(tf_dir)
    tfvars = tf_dir / "env" / f"{workspace}.tfvars"
    if tfvars.exists():
        variables.update(_parse_tfvars(tfvars))
    for name, value in (overrides or {}).items():
        if name not in blocks["variable"]:
            raise StackError(f"-var {name}: terraform declares no variable {name!r} "
                             f"(declared: {', '.join(sorted(blocks['variable']))})")
        variables[name] = _coerce(value, variables.get(name))
    region = str(variables.get("aws_region") or "us-east-1")
    resources = blocks["resource"]
    data = blocks["data"]
    cache: dict = {}

    def resolve(ref: str) -> object:
        parts = ref.split(".")
        if parts[0] == "var":
            if parts[1] not in variables:
                raise StackError(f"terraform references undeclared variable var.{parts[1]}")
            return variables[parts[1]]
        if parts[0] == "local":
            return evaluate(blocks["locals"][parts[1]], resolve)
        if parts[0] == "terraform" and parts[1] == "workspace":
            return workspace
        if parts[0] == "data":
            return Unknown(ref)
        rtype, rname = parts[0], parts[1].split("[")[0]
        attr = parts[2] if len(parts) > 2 else "id"
        address = f"{rtype}.{rname}"
        if address not in resources:
            raise StackError(f"terraform references {address}, which is not declared")
        body = cache.setdefault(address, resources[address])
        return _attribute(rtype, body, attr, resolve, region, account)

    table_addr = _only(resources, "aws_dynamodb_table")
    tbody = resources[table_addr]
    table = TableDecl(
        address=table_addr,
        name=str(evaluate(tbody["name"], resolve)),
        hash_key=str(evaluate(tbody.get("hash_key"), resolve)),
        range_key=evaluate(tbody["range_key"], resolve) if "range_key" in tbody else None,
        attributes={str(evaluate(a["name"], resolve)): str(evaluate(a["type"], resolve))
                    for a in tbody.get("attribute", [])},
        billing_mode=str(evaluate(tbody.get("billing_mode", '"PROVISIONED"'), resolve)),
        gsis=tuple(evaluate(g, resolve) for g in tbody.get("global_secondary_index", [])),
    )
    bucket_addr = _only(resources, "aws_s3_bucket")
    bucket = str(evaluate(resources[bucket_addr]["bucket"], resolve))
    role_addr = _only(resources, "aws_iam_role")
    role_name = str(evaluate(resources[role_addr]["name"], resolve))
    policy = _policy(resources, data, resolve)
    layers = {}
    for address, body in resources.items():
        if address.startswith("aws_lambda_layer_version."):
            name = str(evaluate(body["layer_name"], resolve))
            layers[address] = LayerDecl(address, name, tuple(evaluate(body.get("compatible_runtimes", []), resolve)),
                                        f"arn:aws:lambda:{region}:{account}:layer:{name}:1")
    functions = {}
    for address, body in resources.items():
        if not address.startswith("aws_lambda_function."):
            continue
        key = address.split(".", 1)[1]
        count = evaluate(body.get("count", 1), resolve)
        env_block = _single(body, "environment") or {}
        env = evaluate((env_block or {}).get("variables", {}), resolve) if env_block else {}
        eph = _single(body, "ephemeral_storage") or {}
        layer_refs = tuple(_layer_address(v) for v in body.get("layers", []))
        reserved = evaluate(body.get("reserved_concurrent_executions", -1), resolve)
        functions[key] = FunctionDecl(
            address=address, key=key,
            name=str(evaluate(body["function_name"], resolve)),
            handler=str(evaluate(body.get("handler"), resolve)),
            runtime=str(evaluate(body.get("runtime"), resolve)),
            memory_mb=int(evaluate(body.get("memory_size", 128), resolve)),
            timeout_s=int(evaluate(body.get("timeout", 3), resolve)),
            ephemeral_mb=int(evaluate(eph.get("size", 512), resolve)) if eph else 512,
            env={str(k): v for k, v in (env or {}).items()},
            layers=layer_refs,
            role=str(evaluate(body.get("role"), resolve)),
            enabled=bool(count) if not isinstance(count, Unknown) else True,
            reserved_concurrency=None if reserved in (-1, None) or isinstance(reserved, Unknown) else int(reserved),
            file=str(_source_file(tf_dir, address)),
        )
    by_name = {fn.name: key for key, fn in functions.items()}
    for address, body in resources.items():
        if not address.startswith("aws_lambda_function_event_invoke_config."):
            continue
        name = str(evaluate(body["function_name"], resolve))
        if name not in by_name:
            raise StackError(f"{address}: function_name {name!r} is no aws_lambda_function of this stack")
        key = by_name[name]
        on_failure = (_single(_single(body, "destination_config") or {}, "on_failure") or {}).get("destination")
        functions[key] = dataclasses.replace(
            functions[key], max_retry_attempts=int(evaluate(body.get("maximum_retry_attempts", 2), resolve)),
            max_event_age_s=int(evaluate(body.get("maximum_event_age_in_seconds", 21600), resolve)),
            on_failure=str(evaluate(on_failure, resolve)) if on_failure else None)
    queues = {address: str(evaluate(body["name"], resolve)) for address, body in resources.items()
              if address.startswith("aws_sqs_queue.")}
    return StackSpec(tf_dir=tf_dir, workspace=workspace, region=region, account=account,
                     variables=variables, bucket=bucket, table=table, role_name=role_name, queues=queues,
                     role_arn=f"arn:aws:iam::{account}:role/{role_name}", policy=policy,
                     layers=layers, functions=functions, resources=resources)


def _selected_workspace(tf_dir: Path) -> str:
    env_file = tf_dir / ".terraform" / "environment"
    return env_file.read_text().strip() if env_file.exists() else "default"


def _coerce(value: object, current: object) -> object:
    if not isinstance(value, str):
        return value
    if isinstance(current, bool):
        if value.lower() not in ("true", "false"):
            raise StackError(f"-var value {value!r} must be true or false")
        return value.lower() == "true"
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        try:
            return int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            raise StackError(f"-var value {value!r} must be a number") from None
    return value


def _only(resources: dict, rtype: str) -> str:
    found = [a for a in resources if a.startswith(rtype + ".")]
    if len(found) != 1:
        raise StackError(f"expected exactly one {rtype} in terraform, found {len(found)}: {found}")
    return found[0]


def _attribute(rtype: str, body: dict, attr: str, resolve, region: str, account: str) -> object:
    name_keys = {"aws_s3_bucket": "bucket", "aws_dynamodb_table": "name", "aws_iam_role": "name",
                 "aws_lambda_function": "function_name", "aws_lambda_layer_version": "layer_name",
                 "aws_sqs_queue": "name"}
    if attr in body and attr != "arn":
        return evaluate(body[attr], resolve)
    key = name_keys.get(rtype)
    name = evaluate(body[key], resolve) if key and key in body else Unknown(rtype)
    if attr in ("id", "bucket", "name", "function_name"):
        return name
    if attr == "url" and rtype == "aws_sqs_queue":
        return f"https://sqs.{region}.amazonaws.com/{account}/{name}"
    if attr == "arn":
        return {
            "aws_s3_bucket": f"arn:aws:s3:::{name}",
            "aws_dynamodb_table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "aws_iam_role": f"arn:aws:iam::{account}:role/{name}",
            "aws_lambda_function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "aws_lambda_layer_version": f"arn:aws:lambda:{region}:{account}:layer:{name}:1",
            "aws_sqs_queue": f"arn:aws:sqs:{region}:{account}:{name}",
        }.get(rtype, Unknown(f"{rtype}.arn"))
    return Unknown(f"{rtype}.{attr}")


def _layer_address(value: str) -> str:
    text = value.strip("${}\"")
    return ".".join(text.split(".")[:2])


def _policy(resources: dict, data: dict, resolve) -> list[Statement]:
    attached = [b for a, b in resources.items() if a.startswith("aws_iam_role_policy.")]
    statements: list[Statement] = []
    for body in attached:
        ref = str(body.get("policy", "")).strip("${}")
        if not ref.startswith("data.aws_iam_policy_document."):
            raise StackError(f"role policy {ref!r} must come from a data.aws_iam_policy_document "
                             "so that it can be checked offline")
        doc = data[".".join(ref.split(".")[1:3])]
        for st in doc.get("statement", []):
            statements.append(Statement(
                sid=str(evaluate(st.get("sid", '""'), resolve)),
                effect=str(evaluate(st.get("effect", '"Allow"'), resolve)),
                actions=tuple(str(a) for a in evaluate(st.get("actions", []), resolve)),
                resources=tuple(str(r) for r in evaluate(st.get("resources", []), resolve)),
                conditions=tuple(evaluate(st.get("condition", []), resolve)),
            ))
    return statements


def _source_file(tf_dir: Path, address: str) -> Path:
    rtype, rname = address.split(".", 1)
    needle = f'resource "{rtype}" "{rname}"'
    for path in sorted(tf_dir.glob("*.tf")):
        if needle in path.read_text():
            return path
    return tf_dir
