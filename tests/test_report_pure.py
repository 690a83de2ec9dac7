"""The report as a pure function of run facts: verdict rules and content."""
from __future__ import annotations

import json

from harness.run.gate import Gate
from harness.tell.redact import redact
from harness.tell.report import RunFacts, StepFacts, build_report, verdict_of


def step(sid: str, status: str = "passed", **kw) -> StepFacts:
    base = dict(id=sid, status=status, summary="GO (1 passed)" if status == "passed" else f"NO-GO ({status})",
                passed=1 if status == "passed" else 0, failed=1 if status == "failed" else 0, skipped=0,
                blocked=1 if status == "blocked" else 0, duration=1.5, failures=[], missing=[], evidence={},
                metrics={}, warnings={})
    base.update(kw)
    return StepFacts(**base)


def facts(steps: list[StepFacts], **kw) -> RunFacts:
    base = dict(target={"name": "local", "endpoint": "http://127.0.0.1:1"}, code={"commit": "abc", "dirty": False},
                rollout_step="2", selected=tuple(s.id for s in steps), steps=steps, started=0.0,
                finished=1_800_000_000.0, exitstatus=0)
    base.update(kw)
    return RunFacts(**base)


def test_go_only_when_every_step_passed() -> None:
    assert verdict_of([step("1A"), step("1B")]) == "GO"
    assert verdict_of([step("1A"), step("1B", "failed")]) == "NO-GO"
    assert verdict_of([step("1A"), step("1B", "blocked")]) == "NO-GO"
    assert verdict_of([step("1A"), step("1B", "not_run")]) == "NO-GO"
    assert verdict_of([]) == "NO-GO"
    assert verdict_of([step("1A")], [("phases/x.py", "boom")]) == "NO-GO"


def test_report_names_the_failing_test_in_one_line_and_gives_rollback() -> None:
    failing = step("2A", "failed", failures=[("phases/test_2a_x.py::test_y[local]", "AssertionError: no ffmpeg")])
    report = build_report(facts([step("1A"), step("1B"), failing, step("2B", "blocked")]))
    assert report.verdict == "NO-GO"
    assert report.markdown.splitlines()[0].startswith("# NO-GO for rollout step 2 on local: step 2A")
    assert "- phases/test_2a_x.py::test_y[local]: AssertionError: no ffmpeg" in report.markdown
    assert "terraform destroy -target=aws_lambda_layer_version.ffmpeg" in report.markdown
    for question in ("Does it work?", "Is it reliable?", "Is it better?", "Can we roll back?"):
        assert question in report.markdown
    data = report.data
    assert data["verdict"] == "NO-GO" and data["target"] == "local" and data["rollout_step"] == "2"
    assert [(s["id"], s["status"]) for s in data["steps"]] == [("1A", "passed"), ("1B", "passed"),
                                                               ("2A", "failed"), ("2B", "blocked")]
    assert {"passed", "failed", "skipped"} <= set(data["steps"][0])
    json.dumps(data)


def test_skip_is_reported_as_missing_evidence() -> None:
    skipped = step("1B", "failed", failed=0, skipped=1, missing=[("phases/test_1b.py::t[local]", "no backend")])
    report = build_report(facts([step("1A"), skipped]))
    assert report.verdict == "NO-GO"
    assert "phases/test_1b.py::t[local]: skipped, missing evidence: no backend" in report.markdown


def test_unexpected_warning_signs_in_a_passing_step_make_it_no_go() -> None:
    report = build_report(facts([step("1A", warnings={"lambda_timeout": 3, "memory_limit": 2})]))
    assert report.verdict == "NO-GO"
    assert report.headline == ("NO-GO for rollout step 2 on local: step 1A passed but its function logs show "
                               "3 x lambda_timeout, 2 x memory_limit that no test caused on purpose")
    assert "FLAG: step 1A passed but logged 3 x lambda_timeout: NO-GO" in report.markdown


def test_signs_a_test_caused_on_purpose_do_not_change_the_verdict() -> None:
    report = build_report(facts([step("1A", injected={"lambda_timeout": 1}, warnings={"lambda_timeout": 0})]))
    assert report.verdict == "GO"


def test_logs_that_could_not_be_scanned_are_said_and_are_no_go() -> None:
    report = build_report(facts([step("1A", unscanned=["AccessDeniedException: logs:FilterLogEvents"])]))
    assert report.verdict == "NO-GO"
    assert "None seen in the logs scanned." in report.markdown and "None seen.\n" not in report.markdown
    assert "- NOT SCANNED: step 1A: 1 test(s) not scanned (AccessDeniedException: logs:FilterLogEvents)" \
        in report.markdown


def test_target_error_becomes_the_headline() -> None:
    report = build_report(facts([step("1A", "not_run")], target={"name": "aws", "target_error": "no credentials"}))
    assert report.headline == "NO-GO for rollout step 2 on aws: not validated: no credentials"


def test_secrets_never_reach_the_report() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    report = build_report(facts([step("1A", failures=[("t", f"AKIAIOSFODNN7EXAMPLE {secret} token")])],
                                target={"name": "aws", "aws_session_token": "FQoGZXIvYXdzEJr//////////"}))
    for text in (report.markdown, json.dumps(report.data)):
        assert "AKIAIOSFODNN7EXAMPLE" not in text and secret not in text and "FQoGZXIvYXdzEJr" not in text


def test_redaction_patterns() -> None:
    assert redact("key AKIAIOSFODNN7EXAMPLE") == "key [REDACTED-ACCESS-KEY]"
    assert redact("aws_secret_access_key = abc/DEF+123") == "aws_secret_access_key = [REDACTED]"
    assert redact('"SessionToken": "IQoJb3JpZ2luX2VjE"') == '"SessionToken": "[REDACTED]"'
    url = "http://h/b/k?X-Amz-Credential=AKIA%2F&X-Amz-Signature=deadbeef&X-Amz-Security-Token=tok"
    out = redact(url)
    assert "deadbeef" not in out and "tok" not in out
    commit = "bdbc62dc7a7b8ac4dca387552cacff850a924e97"
    assert redact(commit) == commit  # a git sha is not a secret


def test_gate_blocks_after_a_failure_and_names_it() -> None:
    gate = Gate(("1A", "1B", "2A"))
    for sid, nodeid in (("1A", "phases/test_1a_x.py::a"), ("1B", "phases/test_1b_x.py::b")):
        gate.expect(nodeid, sid)
    gate.record("phases/test_1a_x.py::a", "1A", "call", "passed")
    gate.record("phases/test_1a_x.py::a", "1A", "teardown", "passed")
    assert gate.blocker("1B") is None
    gate.record("phases/test_1b_x.py::b", "1B", "call", "failed", "AssertionError: x")
    gate.record("phases/test_1b_x.py::b", "1B", "teardown", "passed")
    assert gate.blocker("2A") == "blocked by step 1B: NO-GO (1 failed: phases/test_1b_x.py::b)"
    assert gate.steps["2A"].status == "not_run"


def test_sigv2_use_is_a_notice_beside_the_warning_signs_not_a_no_go() -> None:
    noted = step("2B", notices={"sigv2": 3, "example": "GetObject s3://videos/uploads/a.mp4 (v2-query)"})
    report = build_report(facts([step("1A"), step("1B"), step("2A"), noted]))
    assert report.verdict == "GO"
    md = report.markdown
    assert md.index("## Early warning signs") < md.index("### Notices")
    assert ("- NOTICE: step 2B: 3 request(s) the function signed with SigV2, e.g. "
            "GetObject s3://videos/uploads/a.mp4 (v2-query)") in md
    assert "January 2014" in md
    assert report.data["steps"][3]["notices"] == {"sigv2": 3, "example": "GetObject s3://videos/uploads/a.mp4 (v2-query)"}


def test_the_fidelity_table_and_reduced_fidelity_reach_the_verdict_line() -> None:
    rows = [{"behaviour": "memory", "enforced": "polling", "how": "polled"},
            {"behaviour": "timeout", "enforced": "service", "how": "timer"}]
    report = build_report(facts([step("1A")], target={"name": "local", "fidelity": rows}))
    assert report.headline.startswith("GO (weakened: reduced fidelity: memory not enforced by the kernel) for")
    assert report.data["weakened"] == ["reduced fidelity: memory not enforced by the kernel"]
    assert "| memory      | polling    | polled |" in report.markdown
    assert report.data["fidelity"] == {"rows": rows, "reduced": ["memory"]}
    full = build_report(facts([step("1A")], target={"name": "local", "fidelity": rows[1:]}))
    assert "reduced fidelity" not in full.headline


def test_the_report_lists_what_the_gate_does_not_check() -> None:
    from harness.plan.catalogue import NOT_CHECKED
    from harness.tell.report_html import render_html

    report = build_report(facts([step("1A")]))
    assert "## Not checked by this gate" in report.markdown
    assert f"- terraform fmt: {dict(NOT_CHECKED)['terraform fmt']}" in report.markdown
    assert report.data["not_checked"][0]["what"] == "terraform fmt"
    assert "Not checked by this gate" in render_html(report.data)


def test_an_interrupted_run_is_no_go_and_blames_no_step() -> None:
    report = build_report(facts([step("1A"), step("1B", "not_run")],
                                interrupted="phases/test_1b_x.py::test_y[local] (SIGTERM)"))
    assert report.verdict == "NO-GO"
    assert "run interrupted at phases/test_1b_x.py::test_y[local] (SIGTERM)" in report.headline
    assert report.data["failures"] == []


def test_the_json_says_its_schema_version_and_files_are_readable_by_everyone(tmp_path) -> None:
    import stat

    from harness.tell.report import SCHEMA_VERSION
    from harness.tell.report_writer import write_report

    report = build_report(facts([step("1A")]))
    assert report.data["schema_version"] == SCHEMA_VERSION
    paths = write_report(report, tmp_path)
    for path in (*paths, tmp_path / "latest.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_rollback_commands_name_the_runs_own_workspace() -> None:
    from harness.plan.catalogue import rollback_commands

    report = build_report(facts([step("1A")], target={"name": "local", "workspace": "staging"}))
    assert "terraform workspace select staging && terraform destroy" in report.markdown
    assert "main-simple" not in report.markdown and "{workspace}" not in report.markdown
    assert rollback_commands("2A", None)[0].startswith("terraform workspace select default && ")
    assert rollback_commands("2A", "my ws")[0].startswith("terraform workspace select 'my ws' && ")
