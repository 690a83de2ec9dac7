"""Writes a built report to disk: a stamped pair plus latest.md / latest.json."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from harness.report import Report


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_report(report: Report, report_dir: Path) -> tuple[Path, Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    step = report.data.get("rollout_step", "all")
    base = f"{report.stamp}-{report.target_name}-step{step}"
    md_path, json_path = report_dir / f"{base}.md", report_dir / f"{base}.json"
    text_json = json.dumps(report.data, indent=2, default=str) + "\n"
    for path, text in ((md_path, report.markdown), (json_path, text_json),
                       (report_dir / "latest.md", report.markdown),
                       (report_dir / "latest.json", text_json)):
        _atomic_write(path, text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(report.markdown)
    return md_path, json_path
