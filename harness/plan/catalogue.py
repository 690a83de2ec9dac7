"""The rollout plan as data: every step, what it must prove, and how to undo it.

The report and `--phase` read this module; phase modules do not restate it.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

WORKSPACE = "{workspace}"       # filled with the run's own terraform workspace (rollback_commands)


def destroy(address: str) -> str:
    """The command that undoes one resource; the address is quoted so a shell keeps ["key"] intact."""
    return f"terraform workspace select {WORKSPACE} && terraform destroy -target={shlex.quote(address)}"


def rollback_commands(step_id: str, workspace: str | None) -> list[str]:
    """A step's rollback, in the terraform workspace the run validated ('default' when it named none)."""
    ws = shlex.quote(workspace or "default")
    return [cmd.replace(WORKSPACE, ws) for cmd in BY_ID[step_id].rollback]


def destroy_test_function(key: str) -> str:
    """Undo one per-step test function: an instance of terraform's aws_lambda_function.test (for_each)."""
    return destroy(f'aws_lambda_function.test["{key}"]')


TERRAFORM_ROLLBACK = destroy("aws_lambda_function.video_processor")
FLAG_ROLLBACK = "set USE_LAMBDA_PROCESSING=false on the backend (Railway) and redeploy"
CELERY_NOTE = "Celery stays deployed as the fallback path until 5B is signed off"
WEIGHT_ROLLBACK = ("aws ssm put-parameter --overwrite --type String --value 0 --name "
                   "\"$(terraform output -raw rollout_weight_parameter)\"")


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    goal: str
    criteria: tuple[str, ...]
    risk: str
    estimate: str
    rollback: tuple[str, ...]


STEPS: tuple[Step, ...] = (
    Step("1A", "Lambda infrastructure", "A hello-world function deploys from terraform and answers.",
         ("offline stack checks pass (IAM, env keys, limits, handlers, runtime/layer)",
          "the test function has the configuration terraform declares",
          "invoking it returns 200 and 'Hello from Lambda'"),
         "low", "30 min",
         (destroy_test_function("video_processor_test"),)),
    Step("1B", "Backend invokes Lambda", "The web backend reaches the function over the AWS API.",
         ("POST /api/test/lambda returns success with the function's response",
          "a missing or failing function gives a clear non-2xx"),
         "low", "30 min",
         ("set ENABLE_TEST_ENDPOINTS=false on the backend", FLAG_ROLLBACK)),
    Step("2A", "FFmpeg layer", "The layer's ffmpeg runs inside the function's runtime.",
         ("ffmpeg -version runs inside the function", "the layer fits the runtime (glibc, sizes)",
          "the binary is the pinned one (sha256)"),
         "medium", "1 h",
         (destroy_test_function("ffmpeg_check"), destroy("aws_lambda_layer_version.ffmpeg"))),
    Step("2B", "S3 operations", "The function reads uploads and writes outputs in the bucket.",
         ("a byte-identical copy lands in test_output/", "a missing key is a clear error with no writes"),
         "medium", "1 h", (destroy_test_function("s3_roundtrip"),)),
    Step("3A", "Segment cutting", "Uploads are cut into playable segments that cover the source.",
         ("right segment count", "every segment decodes end to end", "segments cover the source",
          "every fixture format behaves as the manifest says"),
         "medium", "2 h", (destroy_test_function("segment_test"),)),
    Step("3B", "DynamoDB status", "Job status moves forward only, with conditional writes.",
         ("QUEUED -> PROCESSING -> COMPLETED with increasing updated_at", "backwards transitions refused",
          "COMPLETED never overwritten", "throttling retried"),
         "medium", "1 h", (destroy_test_function("job_status"),)),
    Step("4A", "Full flow", "Upload to segments through the backend, end to end.",
         ("jobs reach COMPLETED through the backend", "every segment downloads and verifies"),
         "high", "2 h", (FLAG_ROLLBACK, TERRAFORM_ROLLBACK, CELERY_NOTE)),
    Step("4B", "Failure handling", "Every injected fault ends in the right state with no leftovers.",
         ("each fault ends FAILED or COMPLETED as expected", "no partial outputs, no stuck jobs",
          "load and duplicates keep the invariants"),
         "high", "2 h", (FLAG_ROLLBACK, TERRAFORM_ROLLBACK, CELERY_NOTE)),
    Step("5A", "Feature flag", "USE_LAMBDA_PROCESSING chooses the path and is the rollback.",
         ("flag on -> Lambda, off -> Celery (by processing_method and invocation records)",
          "flipping the flag mid-flight loses no job", "a broken Lambda falls back to Celery"),
         "high", "1 h", (FLAG_ROLLBACK, CELERY_NOTE)),
    Step("5B", "Monitoring and comparison", "Lambda is at least as good as Celery on the same inputs.",
         ("both paths timed on the same fixtures", "Lambda median <= Celery median x factor",
          "estimated Lambda cost reported"),
         "medium", "ongoing", (FLAG_ROLLBACK, CELERY_NOTE)),
    Step("5C", "Progressive rollout", "Real jobs move to Lambda by weight, judged after every job, and revert "
         "on their own.",
         ("the backend routes each job by the SSM weight, stable per job",
          "a good version is promoted weight by weight on real jobs",
          "a failing version is rolled back to weight 0 with no job lost"),
         "high", "days", (WEIGHT_ROLLBACK, FLAG_ROLLBACK, CELERY_NOTE)),
)

BY_ID: dict[str, Step] = {step.id: step for step in STEPS}
# What the gate does not check, and why: (what, why). The report lists these so that nobody reads
# a GO as covering them.
NOT_CHECKED: list[tuple[str, str]] = [
    ("terraform fmt", "style only: terraform is not installable from PyPI or Debian; run `make lint` "
                      "where it is installed"),
]
# The report's four questions: the key evidence is filed under, and the question people read.
QUESTION_KEYS: tuple[str, ...] = ("works", "reliable", "better", "rollback")
QUESTIONS: tuple[str, ...] = ("Does it work?", "Is it reliable?", "Is it better?", "Can we roll back?")
STEP_IDS: tuple[str, ...] = tuple(step.id for step in STEPS)
