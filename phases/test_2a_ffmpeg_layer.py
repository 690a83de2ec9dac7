"""Step 2A: the layer's ffmpeg runs inside the function, is the pinned binary, and fits the runtime."""
from __future__ import annotations

import pytest

from harness.stack import build
from harness.stack.elf import glibc_needs, runtime_compatibility

CHECK = "ffmpeg_check"


@pytest.mark.contract("T2", "V1")
def test_ffmpeg_runs_inside_the_function(target, evidence) -> None:
    result = target.invoke(CHECK, {})
    assert result.ok, f"ffmpeg check function failed: {result.payload}"
    body = result.payload
    assert body.get("available") is True, f"ffmpeg not available in the function: {body.get('error')}"
    assert str(body.get("version", "")).startswith("ffmpeg version "), body
    evidence.add("works", f"inside the function: {body['version'][:40]}")


@pytest.mark.contract("T2", "I2")
def test_layer_binary_is_the_pinned_one(target, evidence) -> None:
    """The pin is the wheel's binary, or with --ffmpeg-binary the given binary's own sha256 (said so)."""
    body = target.invoke(CHECK, {}).payload
    custom = target.sources is not None and target.sources.ffmpeg_pin is None
    pin = build.sha256_file(target.ffmpeg_binary) if custom else build.PINNED_FFMPEG_SHA256
    source = f"--ffmpeg-binary {target.ffmpeg_binary}" if custom else "the pinned imageio-ffmpeg wheel"
    assert body.get("sha256") == pin, f"ffmpeg in the layer has sha256 {body.get('sha256')}, {source} has {pin}"
    evidence.add("works", f"layer ffmpeg sha256 {pin[:12]}... is {source}'s")


@pytest.mark.contract("I2")
def test_layer_is_compatible_with_each_runtime_that_uses_it(target, evidence) -> None:
    needs = glibc_needs(target.ffmpeg_binary)
    problems = []
    for fn in target.stack.enabled_functions:
        if not fn.layers:
            continue
        cfg = target.lambda_.get_function_configuration(FunctionName=fn.name)
        ok, line = runtime_compatibility(needs, cfg["Runtime"])
        if not ok:
            problems.append(f"{fn.name}: {line}")
        for layer in cfg.get("Layers", []):
            size = layer.get("CodeSize", 0)
            if size > 50 * 1024 * 1024:
                problems.append(f"{fn.name}: layer {layer['Arn']} is {size / 2**20:.1f} MB zipped > 50 MB")
        evidence.add("reliable", f"{fn.name}: {line}")
    assert not problems, " | ".join(problems)
