"""Step 1A: the stack is sound on paper, and the hello-world function deploys and answers."""
from __future__ import annotations

import pytest

from harness.stack import drift
from harness.stack.checks import assess, check_layer, run_static_checks
from harness.stack.codescan import scan

HELLO = "video_processor_test"
# What Lambda returns when a handler cannot even be loaded (the init phase failed).
INIT_ERRORS = {"Runtime.ImportModuleError", "Runtime.HandlerNotFound", "Runtime.UserCodeSyntaxError",
               "Runtime.MalformedHandlerName", "Runtime.ExitError", "Runtime.Unknown", "Sandbox.SetupFailed"}
PROBE_EVENT = {"rollout_harness_probe": "does the handler load?"}


def _deployed(target, fn) -> dict:
    """What the Lambda API says of one function: configuration, reserved concurrency, async retry policy."""
    from botocore.exceptions import ClientError

    cfg = target.lambda_.get_function_configuration(FunctionName=fn.name)
    conc = target.lambda_.get_function_concurrency(FunctionName=fn.name).get("ReservedConcurrentExecutions")
    try:
        inv = target.lambda_.get_function_event_invoke_config(FunctionName=fn.name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        inv = {}
    return drift.deployed(cfg, conc, inv)


def _assert_findings(findings, evidence) -> None:
    """A failed check and a check that did not run both fail the test, one line each."""
    result = assess(findings)
    for line in result.passed:
        evidence.add("reliable", line)
    assert not result.problems, result.summary


@pytest.mark.contract("I2", "V3")
def test_offline_stack_checks_pass(target, evidence) -> None:
    """IAM, reserved env keys, limits, handlers, env vars, key schema, production switch."""
    findings = run_static_checks(target.stack, scan(target.source_dir))
    _assert_findings(findings, evidence)


@pytest.mark.contract("I2", "V1")
def test_layer_fits_every_runtime_that_uses_it(target, evidence) -> None:
    findings = check_layer(target.stack, target.layer(), target.package(), target.ffmpeg_binary)
    _assert_findings(findings, evidence)


@pytest.mark.contract("I2", "V1")
def test_native_code_in_the_package_and_layers_fits_each_declared_runtime(target, evidence) -> None:
    """Every ELF file of the zip and of the layers, not only ffmpeg: the highest GLIBC_x.y it needs and each
    DT_NEEDED library, against the runtime's OS (harness.stack.native). A wheel installed for the host
    instead of manylinux2014 is the most common Lambda packaging failure."""
    from harness.stack import native

    members = native.elf_members(target.package().path, "package")
    layer_members = native.elf_members(target.layer().path, "layer ffmpeg")
    problems, judged = [], 0
    for fn in target.stack.enabled_functions:
        found = members + (layer_members if fn.layers else [])
        judged = max(judged, len(found))
        problems += [p.line for p in native.judge(found, fn.runtime)]
    problems = sorted(set(problems))
    assert not problems, " | ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
    evidence.add("reliable", f"{judged} native file(s) in the package and its layers fit every declared runtime's "
                             "glibc and libraries")


@pytest.mark.contract("I1")
def test_test_function_has_the_configuration_terraform_declares(target, evidence) -> None:
    declared = target.stack.function(HELLO)
    line = drift.drift(declared, _deployed(target, declared), drift.declared(declared, target.stack))
    assert line is None, f"deployed function differs from terraform: {line}"
    evidence.add("works", f"{declared.name}: {declared.runtime}, {declared.memory_mb} MB, {declared.timeout_s} s, "
                          f"role, layers and env as declared")


@pytest.mark.contract("T1")
def test_invoking_the_test_function_returns_hello(target, evidence) -> None:
    result = target.invoke(HELLO, {})
    assert result.function_error is None, f"function error: {result.payload}"
    assert result.status_code == 200
    assert result.payload == {"statusCode": 200, "body": "Hello from Lambda"}, result.payload
    evidence.add("works", "invoke returned 200 'Hello from Lambda'")


@pytest.mark.contract("V1", "V4")
def test_every_function_loads_its_handler_with_only_what_it_ships(target, evidence) -> None:
    """Each handler imports with its zip, its layers and the runtime's own packages, nothing else.

    The probe event is invalid for every function but hello: a function may reject
    it (that is its own error), but must not fail to load. A package missing from
    the zip is Runtime.ImportModuleError here, as it would be on AWS.
    """
    import concurrent.futures

    functions = target.stack.enabled_functions
    with concurrent.futures.ThreadPoolExecutor(len(functions) or 1) as pool:   # cold starts in parallel
        results = list(pool.map(lambda fn: target.invoke(fn.key, PROBE_EVENT), functions))
    broken = []
    for fn, result in zip(functions, results):
        error_type = result.payload.get("errorType") if isinstance(result.payload, dict) else None
        if result.function_error and error_type in INIT_ERRORS:
            broken.append(f"{fn.name} ({fn.handler}): {error_type}: {result.payload.get('errorMessage')}")
        else:
            evidence.add("works", f"{fn.name}: {fn.handler} loads"
                         + (f" and rejects a probe event ({error_type})" if result.function_error else ""))
    assert not broken, "handler does not load: " + "; ".join(broken)


@pytest.mark.contract("I1")
def test_every_function_terraform_enables_is_deployed_as_declared(target, evidence) -> None:
    """Runtime, handler, role, memory, timeout, /tmp, reserved concurrency, layers (ARN and version), env
    (keys and values), and the async retry policy of every function, read back through the Lambda API."""
    lines = [line for fn in target.stack.enabled_functions
             if (line := drift.drift(fn, _deployed(target, fn), drift.declared(fn, target.stack)))]
    assert not lines, "deployed functions differ from terraform: " + " | ".join(lines)
    evidence.add("works", f"{len(target.stack.enabled_functions)} functions deployed as terraform declares "
                          f"({', '.join(drift.FIELDS)})")


@pytest.mark.contract("I1")
def test_deployed_code_is_this_checkout_and_has_not_drifted(target, evidence) -> None:
    import base64

    package = target.package()
    want = base64.b64encode(bytes.fromhex(package.sha256)).decode()
    stale = []
    for fn in target.stack.enabled_functions:
        got = target.lambda_.get_function_configuration(FunctionName=fn.name)["CodeSha256"]
        if got != want:
            stale.append(f"{fn.name} runs CodeSha256 {got}, this checkout builds {want}")
    assert not stale, "deployed code differs from this checkout: " + "; ".join(stale)
    evidence.add("works", f"every function runs package sha256 {package.sha256[:12]}... built from this checkout")
    drift, why = target.terraform_drift(target.stack.function(HELLO).address)
    if drift is None:       # said as what it is: no plan was compared here
        # on a real account the applied state must be compared; the embedded stack is built from the checkout
        assert target.name != "aws", f"terraform's applied state not compared with this checkout: {why}"
        evidence.add("rollback", f"terraform plan drift not judged: {why}")
    else:
        assert not drift, why
        evidence.add("rollback", why)


@pytest.mark.contract("I2", "B4")
def test_backend_defaults_are_safe_for_production(target, evidence) -> None:
    """Static: the backend this repo ships keeps test endpoints off and routes to Celery by default."""
    from pathlib import Path

    from harness.stack.checks import check_backend_defaults

    _assert_findings(check_backend_defaults(Path(__file__).resolve().parents[1] / "backend" / "settings.py"), evidence)
