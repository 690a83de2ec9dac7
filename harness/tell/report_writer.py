"""Writes a built report to disk: a stamped set (.md, .json, .html) plus latest.md / latest.json / latest.html."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from harness.tell.report import Report, ci_summary


def atomic_write(path: Path, text: str) -> None:
    """Write whole or not at all; readable by everyone (0644), as a report is meant to be read."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)        # mkstemp makes 0600
    os.replace(tmp, path)


def html_of(report: Report) -> str:
    """The HTML page of a report; when rendering fails, a page that says so (the Markdown is never lost)."""
    try:
        from harness.tell.report_html import render_html

        return render_html(report.data)
    except Exception as exc:
        import html
        import traceback

        from harness.tell.redact import redact

        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        try:
            from harness.tell.report_html import render_error_html

            return render_error_html(error, report.headline)
        except Exception:
            return redact("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>report rendering "
                          "failed</title></head><body><h1>The HTML report could not be rendered</h1><p>"
                          f"{html.escape(report.headline)}</p><p>Read latest.md / latest.json beside this file."
                          f"</p><pre>{html.escape(error)}</pre></body></html>\n")


def write_report(report: Report, report_dir: Path) -> tuple[Path, Path, Path]:
    """Writes the files; returns (markdown, json, html) paths of the stamped set (index 0 is the Markdown)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    step = report.data.get("rollout_step", "all")
    base = f"{report.stamp}-{report.target_name}-step{step}"
    md_path, json_path = report_dir / f"{base}.md", report_dir / f"{base}.json"
    html_path = report_dir / f"{base}.html"
    text_json = json.dumps(report.data, indent=2, default=str) + "\n"
    for path, text in ((md_path, report.markdown), (json_path, text_json),
                       (report_dir / "latest.md", report.markdown),
                       (report_dir / "latest.json", text_json)):
        atomic_write(path, text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(ci_summary(report))
    text_html = html_of(report)             # after the Markdown and JSON are safe on disk
    for path in (html_path, report_dir / "latest.html"):
        atomic_write(path, text_html)
    return md_path, json_path, html_path
