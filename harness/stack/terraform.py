"""Reads terraform/*.tf with python-hcl2 into a StackSpec: what the stack declares.

Terraform is the single source of truth for names and limits. The local target
provisions exactly this spec; the offline checks judge it; phase modules read
expected values (memory, timeout, handler) from it instead of restating them.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

from harness.stack.errors import StackError
from harness.stack.hclexpr import Unknown, evaluate
from harness.stack.meta import Instance, Key, blocks_of, instances, scoped, single, steps, walk

DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class FunctionDecl:
    address: str         # terraform's address: aws_lambda_function.test["ffmpeg_check"] for a for_each instance
    key: str             # the logical name phases use: the for_each key, else the resource name
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
    outputs: dict = field(default_factory=dict)      # output name -> the one reference it gives, e.g. "aws_iam_role.lambda.arn"
    parameters: dict = field(default_factory=dict)   # aws_ssm_parameter name -> its declared value

    def function(self, key: str) -> FunctionDecl:
        """A function by its logical name: the resource name ('video_processor') or its for_each key."""
        try:
            return self.functions[key]
        except KeyError:
            raise StackError(f"terraform declares no aws_lambda_function named {key!r} (declared: "
                             + ", ".join(f"{k} = {f.address}" for k, f in sorted(self.functions.items()))
                             + ")") from None

    @property
    def enabled_functions(self) -> list[FunctionDecl]:
        return [f for f in self.functions.values() if f.enabled]

    @property
    def layer_arn_outputs(self) -> dict[str, str]:
        """Output name -> layer address, for the outputs that give a layer's ARN (with its version)."""
        return {name: ref.rsplit(".", 1)[0] for name, ref in self.outputs.items()
                if ref.endswith(".arn") and ref.rsplit(".", 1)[0] in self.layers}


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
        for kind in ("variable", "output"):
            for block in doc.get(kind, []):
                for name, body in block.items():
                    merged[kind][_unquote(name)] = body
        for block in doc.get("locals", []):
            merged["locals"].update({k: v for k, v in block.items() if not k.startswith("__")})
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

    def resolve(ref: str) -> object:
        parts = steps(ref)
        if parts[0] == "var":
            if parts[1] not in variables:
                raise StackError(f"terraform references undeclared variable var.{parts[1]}")
            return walk(variables[parts[1]], parts[2:], ref)
        if parts[0] == "local":
            if parts[1] not in blocks["locals"]:
                raise StackError(f"terraform references undeclared local.{parts[1]} "
                                 f"(declared: {', '.join(sorted(blocks['locals'])) or 'none'})")
            return walk(evaluate(blocks["locals"][parts[1]], resolve), parts[2:], ref)
        if parts[0] == "terraform" and parts[1] == "workspace":
            return workspace
        if parts[0] in ("data", "each", "count"):   # each/count outside a resource that has them
            return Unknown(ref)
        rtype, rname, rest = str(parts[0]), str(parts[1]), parts[2:]
        address = f"{rtype}.{rname}"
        if address not in resources:
            raise StackError(f"terraform references {address}, which is not declared")
        body = resources[address]
        scope = resolve
        if rest and (isinstance(rest[0], (int, Key))):    # an instance: [0] of a count, ["k"] of a for_each
            index, rest = rest[0], rest[1:]
            if "for_each" in body:
                found = [i for i in instances(address, body, resolve) if i.key == str(index)]
                if not found:
                    raise StackError(f"terraform references {address}[{index!r}], which for_each does not declare")
                scope = scoped(resolve, {"each": found[0].each})
        attr = str(rest[0]) if rest else "id"
        return walk(_attribute(rtype, body, attr, scope, region, account), rest[1:], ref)

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
    layer_by_arn = {decl.arn: address for address, decl in layers.items()}
    functions: dict[str, FunctionDecl] = {}
    for address, body in resources.items():
        if not address.startswith("aws_lambda_function."):
            continue
        for inst in instances(address, body, resolve):
            key = inst.key if inst.key is not None else address.split(".", 1)[1]
            if key in functions:
                raise StackError(f"{inst.address} and {functions[key].address} both declare a function named "
                                 f"{key!r}: rename one (phases find functions by that name)")
            functions[key] = _function(tf_dir, address, inst, key, body,
                                       scoped(resolve, {"each": inst.each}) if inst.each else resolve, layer_by_arn)
    by_name = {fn.name: key for key, fn in functions.items()}
    for address, body in resources.items():
        if not address.startswith("aws_lambda_function_event_invoke_config."):
            continue
        name = str(evaluate(body["function_name"], resolve))
        if name not in by_name:
            raise StackError(f"{address}: function_name {name!r} is no aws_lambda_function of this stack")
        key = by_name[name]
        on_failure = (single(single(body, "destination_config") or {}, "on_failure") or {}).get("destination")
        functions[key] = dataclasses.replace(
            functions[key], max_retry_attempts=int(evaluate(body.get("maximum_retry_attempts", 2), resolve)),
            max_event_age_s=int(evaluate(body.get("maximum_event_age_in_seconds", 21600), resolve)),
            on_failure=str(evaluate(on_failure, resolve)) if on_failure else None)
    queues = {address: str(evaluate(body["name"], resolve)) for address, body in resources.items()
              if address.startswith("aws_sqs_queue.")}
    parameters = {str(evaluate(body["name"], resolve)): str(evaluate(body.get("value", ""), resolve))
                  for address, body in resources.items() if address.startswith("aws_ssm_parameter.")}
    outputs = {name: m.group(1) for name, body in blocks["output"].items()
               if isinstance(body, dict) and (m := _SINGLE_REF.fullmatch(str(body.get("value", ""))))}
    return StackSpec(tf_dir=tf_dir, workspace=workspace, region=region, account=account, outputs=outputs,
                     variables=variables, bucket=bucket, table=table, role_name=role_name, queues=queues,
                     role_arn=f"arn:aws:iam::{account}:role/{role_name}", policy=policy,
                     layers=layers, functions=functions, resources=resources, parameters=parameters)


def _function(tf_dir: Path, address: str, inst: Instance, key: str, body: dict, resolve: Callable,
              layer_by_arn: dict) -> FunctionDecl:
    env: dict = {}
    for block, scope in blocks_of(body, "environment", resolve):
        variables = evaluate(block.get("variables", {}), scope)
        if not isinstance(variables, dict):
            raise StackError(f"{inst.address}: environment variables {block.get('variables')!r} cannot be "
                             "resolved offline (the harness provisions and checks exactly these)")
        env.update(variables)
    eph = next((evaluate(b.get("size", 512), s) for b, s in blocks_of(body, "ephemeral_storage", resolve)), 512)
    layer_arns = evaluate(body.get("layers", []), resolve)
    if isinstance(layer_arns, Unknown):
        raise StackError(f"{inst.address}: layers {body.get('layers')!r} cannot be resolved offline")
    reserved = evaluate(body.get("reserved_concurrent_executions", -1), resolve)
    return FunctionDecl(
        address=inst.address, key=key,
        name=str(evaluate(body["function_name"], resolve)),
        handler=str(evaluate(body.get("handler"), resolve)),
        runtime=str(evaluate(body.get("runtime"), resolve)),
        memory_mb=int(evaluate(body.get("memory_size", 128), resolve)),
        timeout_s=int(evaluate(body.get("timeout", 3), resolve)),
        ephemeral_mb=int(eph),
        env={str(k): v for k, v in env.items()},
        layers=tuple(layer_by_arn.get(str(arn), str(arn)) for arn in layer_arns),
        role=str(evaluate(body.get("role"), resolve)),
        enabled=inst.enabled,
        reserved_concurrency=None if reserved in (-1, None) or isinstance(reserved, Unknown) else int(reserved),
        file=str(_source_file(tf_dir, address)),
    )


_SINGLE_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z_][A-Za-z0-9_\-]*)+)\}")


def env_strings(env: dict) -> dict[str, str]:
    """Environment values as Lambda stores them: terraform's string conversion (true, 1, 1.5)."""
    return {str(k): (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in env.items()}


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
                 "aws_sqs_queue": "name", "aws_ssm_parameter": "name"}
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
            "aws_ssm_parameter": f"arn:aws:ssm:{region}:{account}:parameter{name}",
        }.get(rtype, Unknown(f"{rtype}.arn"))
    return Unknown(f"{rtype}.{attr}")


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
