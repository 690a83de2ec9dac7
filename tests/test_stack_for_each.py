"""The per-step test functions as one for_each resource: the evaluator, the stack model, the names
that point at them (outputs, rollback commands)."""
from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from harness.cli import terraform_outputs
from harness.plan.catalogue import STEPS
from harness.stack.hclexpr import Unknown, evaluate, possible_values
from harness.stack.terraform import StackError, load_stack
from harness.targets.aws import OUTPUT_FUNCTIONS, _apply_outputs

REPO = Path(__file__).resolve().parents[1]
LAYER = "aws_lambda_layer_version.ffmpeg"
# What the five count = ... ? 1 : 0 resources declared before they became one for_each resource.
TEST_FUNCTIONS = {
    "video_processor_test": ("easy-video-share-video-processor-test", "video_processor.handlers.hello.handler",
                             128, 60, (), False),
    "ffmpeg_check": ("easy-video-share-ffmpeg-check", "video_processor.handlers.ffmpeg_check.handler",
                     256, 30, (LAYER,), True),
    "s3_roundtrip": ("easy-video-share-s3-roundtrip", "video_processor.handlers.s3_roundtrip.handler",
                     256, 120, (), True),
    "segment_test": ("easy-video-share-segment-test", "video_processor.handlers.segment.handler",
                     1024, 300, (LAYER,), True),
    "job_status": ("easy-video-share-job-status", "video_processor.handlers.job_status.handler",
                   128, 30, (), True),
}
ENV = {"VIDEO_BUCKET": "easy-video-share-videos-dev", "JOBS_TABLE": "easy-video-share-video-metadata"}


@pytest.fixture
def tf_copy(tmp_path: Path) -> Path:
    tf = tmp_path / "terraform"
    shutil.copytree(REPO / "terraform", tf, ignore=shutil.ignore_patterns(".terraform*"))
    return tf


def test_each_test_function_keeps_its_name_handler_limits_layers_and_env() -> None:
    spec = load_stack(REPO / "terraform")
    for key, (name, handler, memory, timeout, layers, has_env) in TEST_FUNCTIONS.items():
        fn = spec.function(key)
        assert fn.address == f'aws_lambda_function.test["{key}"]' and fn.key == key
        assert (fn.name, fn.handler, fn.memory_mb, fn.timeout_s, fn.layers) == (name, handler, memory, timeout, layers)
        assert fn.env == (ENV if has_env else {}), key
        assert (fn.runtime, fn.ephemeral_mb, fn.reserved_concurrency, fn.enabled) == ("python3.13", 512, None, True)
        assert fn.role == spec.role_arn and Path(fn.file).name == "lambda.tf"
    assert sorted(spec.functions) == sorted([*TEST_FUNCTIONS, "video_processor"])
    assert spec.function("video_processor").env == ENV


def test_every_test_function_entry_has_one_shape_so_the_for_each_conditional_has_one_type() -> None:
    """Terraform converts `cond ? local.test_functions : {}` to a map only if every entry has the same type."""
    spec = load_stack(REPO / "terraform")
    entries = evaluate("${local.test_functions}", lambda ref: _local(spec, ref))
    shapes = {key: {attr: type(value).__name__ for attr, value in entry.items()} for key, entry in entries.items()}
    assert len({tuple(sorted(s.items())) for s in shapes.values()}) == 1, shapes


def _local(spec, ref: str) -> object:
    from harness.stack.terraform import _load_blocks

    assert ref == "local.test_functions"
    return evaluate(_load_blocks(spec.tf_dir)["locals"]["test_functions"], lambda r: 1 / 0)


def test_the_switch_off_keeps_every_instance_declared_and_none_enabled() -> None:
    spec = load_stack(REPO / "terraform", overrides={"enable_test_functions": "false"})
    assert [fn.key for fn in spec.enabled_functions] == ["video_processor"]
    assert spec.function("ffmpeg_check").address == 'aws_lambda_function.test["ffmpeg_check"]'
    assert not spec.function("ffmpeg_check").enabled


def test_an_unknown_function_error_lists_keys_and_addresses() -> None:
    with pytest.raises(StackError, match=r'ffmpeg_check = aws_lambda_function.test\["ffmpeg_check"\]'):
        load_stack(REPO / "terraform").function("hello")


def test_a_reference_to_one_instance_resolves_with_its_each(tf_copy: Path) -> None:
    (tf_copy / "extra.tf").write_text('''
resource "aws_lambda_function_event_invoke_config" "job_status" {
  function_name          = aws_lambda_function.test["job_status"].function_name
  maximum_retry_attempts = 0
}
''')
    spec = load_stack(tf_copy)
    assert spec.function("job_status").max_retry_attempts == 0
    assert spec.function("s3_roundtrip").max_retry_attempts == 2


def test_a_for_each_key_that_repeats_a_resource_name_is_refused(tf_copy: Path) -> None:
    lam = tf_copy / "lambda.tf"
    lam.write_text(lam.read_text().replace("    job_status = {", "    video_processor = {", 1))
    with pytest.raises(StackError, match='both declare a function named .video_processor.'):
        load_stack(tf_copy)


def test_a_for_each_that_cannot_be_resolved_offline_is_named(tf_copy: Path) -> None:
    lam = tf_copy / "lambda.tf"
    lam.write_text(lam.read_text().replace("var.enable_test_functions ? local.test_functions : {}",
                                           "toset(data.external.functions.result)", 1))
    with pytest.raises(StackError, match=r"aws_lambda_function\.test: for_each .* cannot be resolved offline"):
        load_stack(tf_copy)


def test_a_dynamic_block_with_a_renamed_iterator(tf_copy: Path) -> None:
    lam = tf_copy / "lambda.tf"
    text = lam.read_text()
    old = '''  dynamic "environment" {
    for_each = each.value.environment ? [local.function_environment] : []
    content {
      variables = environment.value
    }
  }'''
    assert old in text
    lam.write_text(text.replace(old, '''  dynamic "environment" {
    for_each = each.value.environment ? { only = local.function_environment } : {}
    iterator = env
    content {
      variables = merge(env.value, {})
    }
  }'''))
    with pytest.raises(StackError, match="environment variables .* cannot be resolved offline"):
        load_stack(tf_copy)   # a function the evaluator does not know: said, not guessed
    lam.write_text(text.replace(old, '''  dynamic "environment" {
    for_each = each.value.environment ? { only = local.function_environment } : {}
    iterator = env
    content {
      variables = env.key == "only" ? env.value : {}
    }
  }'''))
    spec = load_stack(tf_copy)
    assert spec.function("ffmpeg_check").env == ENV and spec.function("video_processor_test").env == {}


@pytest.mark.parametrize("expr, want", [
    ('${[1, "a", true]}', [1, "a", True]),
    ("${{}}", {}),
    ('${{ a = 1, "b" = "x" }}', {"a": 1, "b": "x"}),
    ('"${replace("a_b_c", "_", "-")}"', "a-b-c"),
    ('${lower("AB")}', "ab"),
    ('${var.on ? [var.n] : []}', [3]),
    ('${!var.on ? {} : {k = var.n}}', {"k": 3}),
])
def test_the_evaluator_reads_literals_calls_and_conditionals(expr: str, want: object) -> None:
    names = {"var.on": True, "var.n": 3}
    assert evaluate(expr, names.__getitem__) == want


def test_unknown_calls_stay_unknown_and_possible_values_sees_both_branches() -> None:
    assert isinstance(evaluate("${filebase64sha256(var.zip)}", lambda ref: 1 / 0), Unknown)
    assert isinstance(evaluate('${replace(var.x, "/a+/", "b")}', lambda ref: "aa"), Unknown)   # regex form
    names = {"var.on": False, "local.m": {"a": 1}}
    assert possible_values("${var.on ? local.m : {}}", names.__getitem__) == [{"a": 1}, {}]
    assert possible_values("${local.m}", names.__getitem__) == [{"a": 1}]


def test_outputs_keep_their_names_and_give_the_deployed_arns() -> None:
    spec = load_stack(REPO / "terraform")
    assert spec.outputs["ffmpeg_layer_arn"] == f"{LAYER}.arn" and spec.layer_arn_outputs == {"ffmpeg_layer_arn": LAYER}
    out = {k: v["value"] for k, v in terraform_outputs(spec).items()}
    assert out["test_function_names"] == {o: spec.function(k).name for o, k in OUTPUT_FUNCTIONS.items()}
    assert out["ffmpeg_layer_arn"] == spec.layers[LAYER].arn
    text = (REPO / "terraform" / "outputs.tf").read_text()
    for key in OUTPUT_FUNCTIONS.values():
        assert f'aws_lambda_function.test["{key}"].function_name' in text
    deployed = {**out, "role_arn": "arn:aws:iam::999999999999:role/r", "bucket_name": "b-1",
                "ffmpeg_layer_arn": "arn:aws:lambda:eu-west-1:999999999999:layer:ffmpeg:7"}
    aws = _apply_outputs(spec, deployed)
    fn = aws.function("segment_test")
    assert fn.role == aws.role_arn == "arn:aws:iam::999999999999:role/r"
    assert fn.env["VIDEO_BUCKET"] == "b-1" and aws.layers[LAYER].arn.endswith(":layer:ffmpeg:7")


def test_every_rollback_target_is_declared_and_survives_a_shell() -> None:
    spec = load_stack(REPO / "terraform")
    addresses = {fn.address for fn in spec.functions.values()} | set(spec.layers) | set(spec.resources)
    targets = []
    for step in STEPS:
        for command in step.rollback:
            for word in shlex.split(command):
                if word.startswith("-target="):
                    targets.append(word.removeprefix("-target="))
    assert targets and all(t in addresses for t in targets), sorted(set(targets) - addresses)
    assert 'aws_lambda_function.test["ffmpeg_check"]' in targets
    assert {t for t in targets if t.startswith("aws_lambda_function.test[")} == {
        f'aws_lambda_function.test["{k}"]' for k in TEST_FUNCTIONS}

