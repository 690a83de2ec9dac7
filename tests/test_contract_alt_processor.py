"""A processor written from CONTRACT.md alone, not from our code, is GO on the full local validation.

The package is this repo's per-step test functions (the rollout scaffolding of steps 1A to 3B,
CONTRACT.md section T) plus tests/alt_processor/alt_processor.py; a copy of terraform points the
`video_processor` function at it. When it and lambda_src/ disagree, CONTRACT.md decides.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ALT = Path(__file__).resolve().parent / "alt_processor" / "alt_processor.py"
HANDLER = "video_processor.handlers.processor.handler"


def alt_sources(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "lambda_src"
    shutil.copytree(REPO / "lambda_src", src, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ALT, src / "alt_processor.py")
    tf = tmp_path / "terraform"
    shutil.copytree(REPO / "terraform", tf, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    lam = tf / "lambda.tf"
    text = lam.read_text()
    assert f'"{HANDLER}"' in text, "terraform no longer declares the processor's handler; update the test"
    lam.write_text(text.replace(f'"{HANDLER}"', '"alt_processor.handler"'))
    return src, tf


def test_the_alt_processor_shares_no_code_with_ours() -> None:
    text = ALT.read_text()
    assert "video_processor" not in text.split('"""', 2)[2], "the alternative processor must not import ours"


def test_a_processor_written_from_the_contract_alone_is_go_on_the_full_local_validation(tmp_path: Path) -> None:
    src, tf = alt_sources(tmp_path)
    reports = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_STEP_SUMMARY"))}
    # --better-factor 3 (a weakened run, and says so): this validation shares the host's two cores with the other xdist worker's tests,
    # which slows the CPU-capped Lambda sandbox more than the Celery worker (1.54x measured under such
    # load); what this test proves is the contract, and 5B's own rule (1.25) is judged by `make validate`.
    proc = subprocess.run([sys.executable, "-m", "pytest", "phases/", "-m", "local", "-p", "no:cacheprovider", "-q",
                           "-n", "2", "--report-dir", str(reports), "--lambda-src", str(src),
                           "--terraform-dir", str(tf), "--better-factor", "3"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    data = json.loads((reports / "latest.json").read_text())
    assert proc.returncode == 0 and data["verdict"] == "GO", (data["headline"], data["failures"][:5],
                                                              proc.stdout[-1500:])
    # the drills that used to depend on our processor's calls ran against it, and passed
    passed = {t for s in data["steps"] for t in s.get("evidence", {}).get("reliable", [])}
    for drill in ("Lambda retry after a transient error", "function timeout shorter than the job",
                  "ffmpeg missing from the layer"):
        assert any(line.startswith(drill) for line in passed), (drill, sorted(passed)[:20])
