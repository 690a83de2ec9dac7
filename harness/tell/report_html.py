"""The go/no-go report as one self-contained HTML page: a pure function of the report's JSON data.

`render_html(data)` takes `Report.data` (harness.tell.report) and returns the page: inline CSS, inline SVG
charts (harness.tell.report_charts), a few lines of inline JS for the copy buttons, nothing fetched.
The rollback commands come from harness.plan.catalogue. The page goes through harness.tell.redact last.
"""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from harness.plan.catalogue import BY_ID, QUESTION_KEYS, QUESTIONS, STEP_IDS, rollback_commands
from harness.tell import report_charts
from harness.tell.redact import redact

TEMPLATES = Path(__file__).resolve().parent / "templates"
# status -> cell colour; the browser test checks the computed colours against this table
STATUS_COLOURS = {"passed": "#2da44e", "failed": "#cf222e", "blocked": "#6e7781", "partial": "#d4a72c",
                  "not_run": "#eaeef2", "other": "#8250df"}
STATUS_TEXT = {"passed": "#ffffff", "failed": "#ffffff", "blocked": "#ffffff", "partial": "#1f2328",
               "not_run": "#57606a", "other": "#ffffff"}
NO_DATA = "no data recorded for this chart"
CODE_ORDER = ("commit", "dirty", "package_sha256", "layer_sha256", "terraform_sha256", "backend_sha256")


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["short"] = short
    return env


def short(value: object, n: int = 12) -> str:
    text = "" if value is None else str(value)
    return text[:n] if len(text) == 64 or len(text) == 40 else text


def status_class(status: object) -> str:
    return status if status in STATUS_COLOURS else "other"


def _lines(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [] if value in (None, "") else [str(value)]


def chart_blocks(sid: str, charts) -> list[dict]:
    """The step's charts: each {name, svg, caption} or {name, note} when its data is missing or malformed."""
    charts = charts if isinstance(charts, dict) else {}
    names = list(report_charts.EXPECTED.get(sid, ())) + [n for n in charts if n not in report_charts.EXPECTED.get(sid, ())]
    out = []
    for i, name in enumerate(names):
        draw = report_charts.CHARTS.get(name)
        value = charts.get(name)
        if draw is None:
            out.append({"name": name, "note": "recorded, but this page has no drawing for it (see the JSON)"})
        elif not isinstance(value, dict) or not value:
            out.append({"name": name, "note": NO_DATA})
        else:
            try:
                svg, caption = draw(value, prefix=f"s{sid}c{i}")
                out.append({"name": name, "svg": svg, "caption": caption})
            except Exception as exc:   # malformed data never costs the page
                out.append({"name": name, "note": f"{NO_DATA} (malformed: {type(exc).__name__}: {exc})"[:300]})
    return out


def step_view(sid: str, step: dict | None, workspace: str | None = None) -> dict:
    cat = BY_ID[sid]
    view = {"id": sid, "title": cat.title, "goal": cat.goal, "risk": cat.risk, "estimate": cat.estimate,
            "criteria": list(cat.criteria), "rollback": rollback_commands(sid, workspace), "ran": step is not None}
    if step is None:
        view.update(status="not_run", cls="not_run", summary="not selected in this run", answers=[], evidence=[],
                    metrics=[], failures=[], missing=[], warnings=[], unscanned=[], notices=[], charts=[], counts=None)
        return view
    status = str(step.get("status", "not_run"))
    answers = step.get("answers") or {}
    evidence = step.get("evidence") or {}
    warnings, injected = step.get("warnings") or {}, step.get("injected_warnings") or {}
    view.update(
        status=status, cls=status_class(status), summary=str(step.get("summary", "")),
        counts={k: step.get(k, 0) for k in ("passed", "failed", "skipped", "blocked")},
        duration=step.get("duration_s"),
        answers=[(q, answers.get(k, "not recorded")) for q, k in zip(QUESTIONS, QUESTION_KEYS)],
        evidence=[(q, line) for q, k in zip(QUESTIONS, QUESTION_KEYS) for line in _lines(evidence.get(k))],
        metrics=sorted((str(k), _fmt(v)) for k, v in (step.get("metrics") or {}).items()),
        failures=[{"test": f.get("test", "?"), "message": f.get("message", ""), "log_tail": _lines(f.get("log_tail"))}
                  for f in step.get("failures") or [] if isinstance(f, dict)],
        missing=[(m.get("test", "?"), m.get("reason", "")) for m in step.get("missing_evidence") or []
                 if isinstance(m, dict)],
        warnings=[(sign, warnings.get(sign, 0), injected.get(sign, 0)) for sign in sorted({*warnings, *injected})
                  if warnings.get(sign) or injected.get(sign)],
        unscanned=_lines(step.get("unscanned")),
        notices=[f"{n} request(s) signed with SigV2, e.g. {(step.get('notices') or {}).get('example')}"
                 for n in [(step.get("notices") or {}).get("sigv2")] if n],
        charts=chart_blocks(sid, step.get("charts")))
    return view


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def no_go_reasons(steps: list[dict], any_failure: bool, ledger_gap: list[str]) -> list[str]:
    """What makes a NO-GO besides its failure lines: left-out tests, warning signs, unscanned logs, ledger gaps."""
    out = []
    for v in steps:
        if not v["ran"] or (v["status"] == "blocked" and any_failure) or (v["status"] == "failed" and v["failures"]):
            continue
        if v["status"] != "passed":
            out.append(f"step {v['id']}: {v['summary']}")
        elif any(n for _, n, _ in v["warnings"]):
            signs = ", ".join(f"{n} x {sign}" for sign, n, _ in v["warnings"] if n)
            out.append(f"step {v['id']} passed but its function logs show {signs} that no test caused on purpose")
        elif v["unscanned"]:
            out.append(f"step {v['id']} passed but its function logs were not scanned ({v['unscanned'][0]})")
    if ledger_gap:
        out.append(f"{len(ledger_gap)} local-only check(s) have no local GO of this code identity in the ledger, "
                   f"e.g. {ledger_gap[0]}")
    return out


def context(data: dict) -> dict:
    """Everything the template shows, from the report data (pure)."""
    steps_by_id = {s.get("id"): s for s in data.get("steps") or [] if isinstance(s, dict)}
    workspace = (data.get("target_details") or {}).get("workspace")
    steps = [step_view(sid, steps_by_id.get(sid), workspace) for sid in STEP_IDS]
    anchors = {}
    for view in steps:
        for n, failure in enumerate(view["failures"]):
            failure["anchor"] = f"fail-{view['id']}-{n + 1}"
            anchors.setdefault(failure["test"], failure["anchor"])
    failures = [{"line": line, "anchor": anchors.get(line.split(": ", 1)[0])} for line in _lines(data.get("failures"))]
    verdict = str(data.get("verdict", "NO-GO"))
    reasons = [] if verdict == "GO" else no_go_reasons(steps, bool(failures), _lines(data.get("ledger_gap")))
    code = data.get("code") or {}
    code_rows = [(k, code[k]) for k in CODE_ORDER if k in code] + sorted(
        (k, v) for k, v in code.items() if k not in CODE_ORDER)
    fidelity = data.get("fidelity") or {}
    details = data.get("target_details") or {}
    return {
        "verdict": verdict, "go": verdict == "GO", "headline": str(data.get("headline", "")),
        "rollout_step": data.get("rollout_step", "?"), "target": data.get("target_label") or data.get("target", "?"),
        "emulated": data.get("emulated"),
        "started": data.get("started", ""), "finished": data.get("finished", ""),
        "code": code, "code_rows": code_rows, "steps": steps, "failures": failures, "reasons": reasons,
        "collection_errors": data.get("collection_errors") or [], "ledger_gap": _lines(data.get("ledger_gap")),
        "fidelity_rows": [r for r in fidelity.get("rows") or [] if isinstance(r, dict)],
        "not_checked": [n for n in data.get("not_checked") or [] if isinstance(n, dict)],
        "reduced": _lines(fidelity.get("reduced")),
        "target_rows": sorted((str(k), _fmt(v)) for k, v in details.items() if k != "fidelity"),
        "tables": ((data.get("extra") or {}).get("tables") or {}),
        "colours": STATUS_COLOURS, "text_colours": STATUS_TEXT,
    }


def render_html(data: dict) -> str:
    """The report page for `Report.data`; never includes a secret redact() recognises."""
    html = environment().get_template("report.html.j2").render(**context(data))
    return redact(html)


def render_error_html(error: str, headline: str = "") -> str:
    """The page written when rendering failed: says so, and where the Markdown is."""
    html = environment().get_template("error.html.j2").render(error=error, headline=headline, colours={}, text_colours={})
    return redact(html)
