"""The HTML go/no-go page: a pure function of the report data (harness.tell.report_html), written beside the Markdown."""
from __future__ import annotations

import json
import re
from pathlib import Path

from markupsafe import escape

from harness.cli import main as cli_main
from harness.plan.catalogue import STEP_IDS, rollback_commands
from harness.tell import ledger, report_charts, report_writer
from harness.tell.ledger_html import render_ledger_html
from harness.tell.report import RunFacts, StepFacts, build_report
from harness.tell.report_html import NO_DATA, render_html

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CODE = {"commit": "36f04de10f3e8d65b3687fda8ddaf581eb79d37a", "dirty": False, "package_sha256": "cb" * 32,
        "layer_sha256": "bb" * 32, "terraform_sha256": "25" * 32, "backend_sha256": "3d" * 32}
FIDELITY = [{"behaviour": "memory", "enforced": "kernel", "how": "memory cgroup at MemorySize"},
            {"behaviour": "timeout", "enforced": "service", "how": "the service kills the tree at Timeout"}]
FAILED_TEST = "phases/test_2a_ffmpeg_layer.py::test_ffmpeg_runs_inside_the_function_and_is_the_pinned_binary[local]"


def charts() -> dict[str, dict]:
    fixtures = {name: {"lambda": [base * 1.1 + i * 0.05 for i in range(5)], "celery": [base + i * 0.04 for i in range(5)]}
                for name, base in (("standard_720p", 1.0), ("tier_10mb", 2.0), ("tier_100mb", 3.5))}
    return {
        "4A": {"4A coverage": {"fixtures": {f"fixture_{i}": {"frames": 300 + 30 * i, "covered": 300 + 30 * i,
                                                             "segments": 3 + i} for i in range(6)}}},
        "4B": {"4B burst": {"limit": 5, "intervals": [[0.2 * i + (i // 5) * 1.5, 0.2 * i + (i // 5) * 1.5 + 1.4]
                                                     for i in range(25)]}},
        "5B": {"5B durations": {"unit": "s", "fixtures": fixtures,
                                "ratio": {"value": 1.09, "ci95": [1.02, 1.15], "p": 0.04, "rule": 1.25,
                                          "answer": "within the rule: Lambda median <= Celery median x 1.25"}}},
    }


def step(sid: str, status: str = "passed", **kw) -> StepFacts:
    base = dict(id=sid, status=status, summary="GO (3 passed)" if status == "passed" else f"NO-GO ({status})",
                passed=3 if status == "passed" else 0, failed=1 if status == "failed" else 0, skipped=0,
                blocked=2 if status == "blocked" else 0, duration=2.5, failures=[], missing=[],
                evidence={"works": [f"{sid} did what it should"]}, metrics={f"{sid} seconds": 1.25}, warnings={})
    base.update(kw)
    return StepFacts(**base)


def facts(steps: list[StepFacts]) -> RunFacts:
    return RunFacts(target={"name": "local", "endpoint": "http://127.0.0.1:1", "fidelity": FIDELITY}, code=dict(CODE),
                    rollout_step="all" if len(steps) == 11 else steps[-1].id[0], selected=tuple(s.id for s in steps),
                    steps=steps, started=1_800_000_000.0, finished=1_800_000_300.0, exitstatus=0)


def go_data() -> dict:
    c = charts()
    return build_report(facts([step(sid, charts=c.get(sid, {})) for sid in STEP_IDS])).data


def nogo_data() -> dict:
    failing = step("2A", "failed", failures=[(FAILED_TEST, "AssertionError: ffmpeg exited 127: not found in /opt/bin")],
                   log_tails={FAILED_TEST: ["START RequestId: 1", "sh: /opt/bin/ffmpeg: not found", "END RequestId: 1"]})
    partial = step("1B", "partial", summary="NO-GO (partial: 1 of 4 tests left out by -k)",
                   missing=[("phases/test_1b_backend_invokes_lambda.py::test_x[local]", "deselected by -k")])
    steps = [step("1A"), partial, failing] + [step(sid, "blocked", summary="blocked by step 2A", evidence={})
                                              for sid in ("2B", "3A", "3B", "4A", "4B")]
    return build_report(facts(steps)).data


def strip(html: str) -> dict[str, str]:
    nav = html[html.index('id="step-strip"'):html.index("</nav>")]
    cells = re.findall(r'<a href="#step-(\w+)" class="status-(\w+)" data-status="(\w+)"', nav)
    assert all(cls == status for _, cls, status in cells)
    return {sid: status for sid, _, status in cells}


def test_go_page_shows_verdict_all_steps_passed_charts_and_rollback() -> None:
    data = go_data()
    html = render_html(data)
    assert data["verdict"] == "GO" and html.startswith("<!doctype html>")
    assert '<span class="badge badge-go">GO</span>' in html and data["headline"] in html
    assert strip(html) == {sid: "passed" for sid in STEP_IDS}
    assert 'id="failures"' not in html
    for sid in STEP_IDS:
        assert f'<section class="step" id="step-{sid}">' in html
    assert html.count("<svg ") == 3 and NO_DATA not in html
    assert "Lambda/Celery workload ratio 1.09 (95% CI 1.02-1.15), p = 0.04" in html
    assert "peak concurrency 5, within the reserved limit of 5" in html
    for cmd in rollback_commands("2A", data["target_details"].get("workspace")):
        assert f'data-copy="{escape(cmd)}"' in html
    assert "{workspace}" not in html and "main-simple" not in html
    assert "the service kills the tree at Timeout" in html and CODE["package_sha256"] in html
    assert "Is it reliable?" in html and "2A did what it should" in html and "2A seconds" in html


def test_nogo_page_puts_the_first_failure_right_under_the_verdict() -> None:
    data = nogo_data()
    html = render_html(data)
    first = data["failures"][0]
    box = html[html.index('<section id="failures">'):]
    assert html.index("badge-nogo") < html.index('id="failures"') < html.index('id="step-strip"')
    assert box.index("NO-GO because") < box.index(first) < box.index("</section>")
    assert strip(html) == {"1A": "passed", "1B": "partial", "2A": "failed", "2B": "blocked", "3A": "blocked",
                           "3B": "blocked", "4A": "blocked", "4B": "blocked", "5A": "not_run", "5B": "not_run",
                           "5C": "not_run"}
    assert '<a href="#fail-2A-1">(details)</a>' in html and 'id="fail-2A-1"' in html
    assert "<pre>START RequestId: 1\nsh: /opt/bin/ffmpeg: not found\nEND RequestId: 1</pre>" in html
    assert "deselected by -k" in html and "not selected in this run" in html
    assert box.index(first) < box.index("step 1B: NO-GO (partial") < box.index("</section>")   # after the failure
    assert "step 2B: blocked" not in box.split("</section>")[0]      # blocked steps follow from the failure


def test_warning_signs_in_a_passed_step_are_a_reason_in_the_box() -> None:
    c = charts()
    data = build_report(facts([step(sid, charts=c.get(sid, {}), warnings={"lambda_timeout": 2} if sid == "3B"
                                    else {}) for sid in STEP_IDS])).data
    box = render_html(data).split('<section id="failures">')[1].split("</section>")[0]
    assert data["verdict"] == "NO-GO" and data["failures"] == []
    assert "step 3B passed but its function logs show 2 x lambda_timeout that no test caused on purpose" in box


def test_a_nogo_without_failure_lines_still_says_why() -> None:
    data = nogo_data()
    data["failures"] = []
    box = render_html(data).split('<section id="failures">')[1].split("</section>")[0]
    assert "step 1B: NO-GO (partial" in box and "step 2B: blocked by step 2A" in box


def test_missing_or_malformed_chart_data_is_a_note_never_a_crash() -> None:
    data = go_data()
    by_id = {s["id"]: s for s in data["steps"]}
    del by_id["4A"]["charts"]
    by_id["4B"]["charts"] = {"4B burst": {"limit": 5, "intervals": [[3, 1]]}}
    by_id["5B"]["charts"] = {"5B durations": {"fixtures": {"x": {"lambda": "oops", "celery": None}}}, "new chart": [1]}
    html = render_html(data)
    assert html.count("<svg ") == 0
    assert html.count(f'<p class="note no-data">{NO_DATA}') == 3
    assert "malformed: ValueError: bad interval [3.0, 1.0]" in html
    assert "this page has no drawing for it" in html
    assert render_html({}).count('data-status="not_run"') == 11


def test_charts_are_inline_svg_with_nothing_fetched() -> None:
    html = render_html(go_data())
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html and "<metadata>" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html and "<link rel=\"stylesheet\"" not in html
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    for ref in set(re.findall(r'(?:href="#|url\(#)([^")]+)', html)):
        assert ref in ids


def test_chart_numbers() -> None:
    lo, hi = report_charts.median_ci95([1.0, 2.0, 3.0, 4.0, 10.0])
    assert lo <= 3.0 <= hi and (lo, hi) == report_charts.median_ci95([1.0, 2.0, 3.0, 4.0, 10.0])
    assert report_charts.median_ci95([2.0]) == (2.0, 2.0)
    times, counts = report_charts.concurrency_steps([[0, 2], [1, 3], [2, 4], [2, 5]])
    assert times == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and counts == [1, 2, 3, 2, 1, 0]


def test_secrets_planted_in_the_data_never_reach_the_page() -> None:
    data = nogo_data()
    s = data["steps"][2]
    s["failures"][0]["message"] = f"boom {SECRET} AKIAIOSFODNN7EXAMPLE"
    s["failures"][0]["log_tail"].append("aws_secret_access_key=abc/DEF+123xyz")
    s["evidence"]["works"] = [f"key {SECRET}"]
    data["failures"] = [f"{FAILED_TEST}: boom {SECRET}"]
    data["steps"][0]["charts"] = {}
    by_id = {x["id"]: x for x in data["steps"]}
    by_id["4A"]["charts"] = {"4A coverage": {"fixtures": {SECRET: {"frames": 3, "covered": 3, "segments": 1}}}}
    html = render_html(data)
    for planted in (SECRET, "AKIAIOSFODNN7EXAMPLE", "abc/DEF+123xyz"):
        assert planted not in html
    assert "[REDACTED-SECRET]" in html and "[REDACTED-ACCESS-KEY]" in html
    assert "[REDACTED" not in render_html(go_data())     # and nothing of a clean page looks like a secret


def test_writer_writes_the_page_beside_the_markdown(tmp_path: Path) -> None:
    report = build_report(facts([step("1A"), step("1B")]))
    md, js, html = report_writer.write_report(report, tmp_path)
    assert html == md.with_suffix(".html") and js == md.with_suffix(".json")
    assert (tmp_path / "latest.html").read_text() == html.read_text() == render_html(report.data)
    assert (tmp_path / "latest.md").read_text() == report.markdown


def test_writer_keeps_the_markdown_when_the_page_cannot_be_rendered(tmp_path: Path, monkeypatch) -> None:
    import harness.tell.report_html

    def broken(data: dict) -> str:
        raise RuntimeError(f"template exploded near {SECRET}")

    monkeypatch.setattr(harness.tell.report_html, "render_html", broken)
    report = build_report(facts([step("1A")]))
    md, js, _html = report_writer.write_report(report, tmp_path)
    assert md.read_text() == report.markdown and json.loads(js.read_text())["verdict"] == "GO"
    page = (tmp_path / "latest.html").read_text()
    assert "could not be rendered" in page and "RuntimeError: template exploded" in page and SECRET not in page


def test_ratio_5b_for_the_ledger_comes_from_the_chart_then_the_metric() -> None:
    assert ledger.ratio_5b(go_data()) == 1.09
    metric = {"steps": [{"id": "5B", "metrics": {"5B lambda/celery workload ratio": 1.537}, "charts": {}}]}
    assert ledger.ratio_5b(metric) == 1.537
    assert ledger.ratio_5b(nogo_data()) is None and ledger.ratio_5b({"steps": [{"id": "5B", "charts": [1]}]}) is None


def entry(finished: float, ratio, target: str = "local", status: str = "passed") -> dict:
    return {"finished": finished, "verdict": "GO" if status == "passed" else "NO-GO", "target": target,
            "rollout_step": "all", "steps": {"1A": "passed", "5B": status}, "code": dict(CODE),
            "report": f"reports/{int(finished)}.md", "local_only_passed": [], "ratio_5b": ratio}


def test_ledger_page_shows_history_per_target_and_the_5b_trend() -> None:
    entries = [entry(1_800_000_000.0 + 600 * i, 1.1 + 0.1 * i, status="passed" if i < 2 else "failed")
               for i in range(4)] + [entry(1_800_000_100.0, None, target="aws")]
    html = render_ledger_html(entries, now=1_800_010_000.0)
    assert html.count("<svg ") == 1 and "Last ratio (95% interval): local 1.40; the rule: upper bound &lt;= 1.25" in html
    assert 'id="target-local"' in html and 'id="target-aws"' in html
    local = html.split('id="target-local"')[1].split("</section>")[0]
    assert local.count("<tr>") == 5 and local.index("1.40") < local.index("1.10")      # newest first
    assert '<td class="status-failed" data-status="failed">FAIL</td>' in local and "36f04de10f" in local
    assert render_ledger_html([entry(1.0, None)]).count("no data recorded for this chart") == 1


def test_ledger_command_writes_the_page(tmp_path: Path, capsys) -> None:
    for e in (entry(1_800_000_000.0, 1.2), entry(1_800_000_600.0, 1.3)):
        ledger.append(tmp_path, e)
    assert cli_main(["ledger", "--html", "--report-dir", str(tmp_path)]) == 0
    assert f"wrote {tmp_path / 'ledger.html'}" in capsys.readouterr().out
    page = (tmp_path / "ledger.html").read_text()
    assert page.count("<svg ") == 1 and "Last ratio (95% interval): local 1.30" in page


def test_the_trend_plots_each_runs_gating_interval_against_the_factor() -> None:
    entries = [{**entry(1_800_000_000.0 + 600 * i, 1.1 + 0.05 * i), "ratio_5b_ci95": [1.0 + 0.05 * i, 1.2 + 0.05 * i]}
               for i in range(3)]
    html = render_ledger_html(entries, now=1_800_010_000.0)
    assert "Last ratio (95% interval): local 1.20 [1.10, 1.30]; the rule: upper bound &lt;= 1.25" in html
    data = {"steps": [{"id": "5B", "charts": {"5B durations": {"ratio": {"value": 1.1, "ci95": [1.0, 1.2]}}}}]}
    assert ledger.ratio_5b_interval(data) == [1.0, 1.2] and ledger.ratio_5b_interval({"steps": []}) is None
