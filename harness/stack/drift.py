"""Deployed against declared: what the Lambda API says of a function against what terraform declares.

Pure: `deployed` takes the API's answers, `declared` the FunctionDecl, and `drift` gives one
line per function naming both sides of every field that differs (env values redacted), so the
comparison is tested without AWS and reads the same on both targets.
"""
from __future__ import annotations

from pathlib import Path

from harness.stack.terraform import FunctionDecl, StackSpec, env_strings
from harness.tell.redact import redact_mapping

# The fields compared, in the order a drift line names them.
FIELDS = ("runtime", "handler", "role", "memory MB", "timeout s", "ephemeral MB", "reserved concurrency",
          "layers", "env", "async retries", "async max event age s")


def declared(fn: FunctionDecl, spec: StackSpec) -> dict:
    return {"runtime": fn.runtime, "handler": fn.handler, "role": fn.role, "memory MB": fn.memory_mb,
            "timeout s": fn.timeout_s, "ephemeral MB": fn.ephemeral_mb,
            "reserved concurrency": fn.reserved_concurrency,
            "layers": [spec.layers[a].arn if a in spec.layers else a for a in fn.layers],
            "env": env_strings(fn.env),
            "async retries": fn.max_retry_attempts, "async max event age s": fn.max_event_age_s}


def deployed(config: dict, reserved_concurrency: int | None, invoke_config: dict | None) -> dict:
    """From get_function_configuration, get_function_concurrency and get_function_event_invoke_config
    (None or {} when the function has none: AWS's defaults apply)."""
    invoke = invoke_config or {}
    return {"runtime": config.get("Runtime"), "handler": config.get("Handler"), "role": config.get("Role"),
            "memory MB": config.get("MemorySize"), "timeout s": config.get("Timeout"),
            "ephemeral MB": (config.get("EphemeralStorage") or {}).get("Size", 512),
            "reserved concurrency": reserved_concurrency,
            "layers": [layer["Arn"] for layer in config.get("Layers") or []],
            "env": dict((config.get("Environment") or {}).get("Variables") or {}),
            "async retries": invoke.get("MaximumRetryAttempts", 2),
            "async max event age s": invoke.get("MaximumEventAgeInSeconds", 21600)}


def _env_drift(have: dict, want: dict) -> list[str]:
    """Compared as they are, shown redacted: a secret that differs reads '[REDACTED]' on both sides."""
    shown_have, shown_want = redact_mapping(have), redact_mapping(want)
    out = []
    for key in sorted(set(have) | set(want)):
        if have.get(key) != want.get(key):
            show = [repr(v[key]) if key in v else "unset" for v in (shown_have, shown_want)]
            same = " (values differ)" if show[0] == show[1] else ""
            out.append(f"env {key} deployed {show[0]}, terraform {show[1]}{same}")
    return out


def drift(fn: FunctionDecl, have: dict, want: dict) -> str | None:
    """One line naming the function, its terraform address and both sides of each difference; None if none."""
    diffs: list[str] = []
    for field in FIELDS:
        if have.get(field) == want.get(field):
            continue
        if field == "env":
            diffs += _env_drift(have.get("env") or {}, want.get("env") or {})
        else:
            diffs.append(f"{field} deployed {have.get(field)!r}, terraform {want.get(field)!r}")
    return f"{fn.name} ({fn.address}, {Path(fn.file).name}): " + "; ".join(diffs) if diffs else None


def config_sha256(tf_dir) -> str:
    """The digest terraform's `config_sha256` output computes of the applied *.tf files (outputs.tf)."""
    import hashlib
    from pathlib import Path

    lines = "".join(f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
                    for p in sorted(Path(tf_dir).glob("*.tf"), key=lambda p: p.name))
    return hashlib.sha256(lines.encode()).hexdigest()
