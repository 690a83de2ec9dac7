"""The go/no-go report: a pure function from run facts to a document.

harness.run.facts builds the facts from the run record; `build_report` turns them into
Markdown and JSON without I/O; harness.tell.report_writer writes the files.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tabulate import tabulate

from harness.plan.catalogue import BY_ID, NOT_CHECKED, QUESTION_KEYS, QUESTIONS, rollback_commands
from harness.tell.redact import redact, redact_mapping

# Why SigV2 is worth a notice but not a NO-GO on its own: "Amazon S3 supports only AWS Signature
# Version 4 in regions created after January 30, 2014", and AWS has turned SigV2 off (deprecated)
# for S3. https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingAWSSDK.html#UsingAWSSDK-sig2-deprecation
SIGV2_NOTICE = ("Signature Version 2 is deprecated in S3 and refused in every region opened since 30 January 2014 "
                "(docs.aws.amazon.com/AmazonS3/latest/userguide/UsingAWSSDK.html#UsingAWSSDK-sig2-deprecation). "
                "It works in this stack's region, so it does not fail a step; sign with SigV4 (boto3: "
                "Config(signature_version=\"s3v4\")) before moving to another region.")


SCHEMA_VERSION = 2     # of reports/*.json: 2 adds weakened, emulated, target_label, args, rules, plugins


@dataclass
class StepFacts:
    id: str
    status: str
    summary: str
    passed: int
    failed: int
    skipped: int
    blocked: int
    duration: float
    failures: list[tuple[str, str]]        # (nodeid, one line)
    missing: list[tuple[str, str]]         # skipped tests: (nodeid, reason)
    evidence: dict[str, list[str]]         # question key -> lines
    metrics: dict[str, object]
    warnings: dict[str, int]
    injected: dict[str, int] = field(default_factory=dict)
    notices: dict = field(default_factory=dict)       # {"sigv2": count, "example": "..."}
    unscanned: list = field(default_factory=list)     # why some tests' function logs could not be read
    charts: dict = field(default_factory=dict)        # chart name -> merged series data (harness.run.evidence.series)
    log_tails: dict = field(default_factory=dict)     # failed test -> the function's last log lines in that test


@dataclass
class RunFacts:
    target: dict
    code: dict
    rollout_step: str
    selected: tuple[str, ...]
    steps: list[StepFacts]
    started: float
    finished: float
    exitstatus: int
    extra: dict = field(default_factory=dict)
    collection_errors: list = field(default_factory=list)
    ledger_gap: list = field(default_factory=list)    # aws: local-only tests no local GO of this code proved
    interrupted: str | None = None                    # where Ctrl-C / SIGTERM stopped the run
    weakened: list = field(default_factory=list)      # each way this run proves less than a default run
    args: list = field(default_factory=list)          # the exact pytest argument list
    rules: dict = field(default_factory=dict)         # the options that change what passes
    plugins: list = field(default_factory=list)       # the pytest plugins loaded
    not_checked: list = field(default_factory=list)   # (what, why) this run left unproven beyond NOT_CHECKED


@dataclass
class Report:
    verdict: str
    headline: str
    failure_lines: list[str]
    markdown: str
    data: dict
    stamp: str
    target_name: str


def verdict_of(steps: list[StepFacts], collection_errors: list | None = None) -> str:
    """GO only if every selected step passed (so every selected test passed), no step's function logs show
    an early warning sign that no test caused on purpose, and every step's logs were scanned."""
    if not steps or collection_errors:
        return "NO-GO"
    if any(s.status != "passed" or warning_problem(s) for s in steps):
        return "NO-GO"
    return "GO"


def warning_problem(step: StepFacts) -> str | None:
    """Why the early warning signs of a passed step still make it NO-GO, or None."""
    unexpected = {sign: n for sign, n in step.warnings.items() if n}
    if unexpected:
        signs = ", ".join(f"{n} x {sign}" for sign, n in sorted(unexpected.items()))
        return f"passed but its function logs show {signs} that no test caused on purpose"
    if step.unscanned:
        return f"passed but its function logs were not scanned for warning signs ({step.unscanned[0]})"
    return None


def _answers(step: StepFacts) -> dict[str, str]:
    works = {"passed": f"yes: {step.passed} checks passed",
             "failed": f"no: {step.summary}",
             "blocked": "not validated: blocked by an earlier step",
             "not_run": "not validated: no tests ran",
             "partial": f"not fully validated: {step.summary}"}.get(step.status, f"no: {step.summary}")
    out = {"works": works}
    for key in QUESTION_KEYS[1:]:
        lines = step.evidence.get(key)
        if not lines:
            out[key] = "no evidence collected in this step"
        else:
            first = lines[0] if len(lines[0]) <= 110 else lines[0][:107] + "..."
            out[key] = first + (f" (+{len(lines) - 1} more below)" if len(lines) > 1 else "")
    if "better" not in step.evidence and step.id != "5B":
        out["better"] = "judged in 5B (Lambda vs Celery on the same inputs)"
    if "rollback" not in step.evidence:
        out["rollback"] = "by the commands below (not drilled in this step)"
    return out


def build_report(facts: RunFacts) -> Report:
    import dataclasses

    facts = dataclasses.replace(facts, target=redact_mapping(facts.target), code=redact_mapping(facts.code))
    verdict = verdict_of(facts.steps, facts.collection_errors)
    if facts.ledger_gap or facts.interrupted:
        verdict = "NO-GO"
    fidelity_rows = facts.target.get("fidelity") or []
    reduced = reduced_fidelity(fidelity_rows)
    stamp = datetime.fromtimestamp(facts.finished, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    target_name = target_label(facts.target)
    last = facts.selected[-1] if facts.selected else "-"
    failing = [s for s in facts.steps if s.status != "passed"]
    weakened = weakened_by(facts.weakened, reduced)
    weak = f" (weakened: {', '.join(weakened)})" if weakened else ""
    nothing_ran = not any(s.passed or s.failed or s.skipped or s.blocked for s in facts.steps)
    if verdict == "GO":
        headline = (f"GO{weak} for rollout step {facts.rollout_step} on {target_name}: all "
                    f"{sum(s.passed for s in facts.steps)} checks in steps {facts.selected[0]}..{last} passed")
    else:
        why = _no_go_reason(facts, failing, last, nothing_ran)
        headline = f"NO-GO{weak} for rollout step {facts.rollout_step} on {target_name}: {why}"
    not_checked = list(NOT_CHECKED) + [tuple(x) for x in facts.not_checked]
    failure_lines = [f"{nodeid}: collection error: {msg}" for nodeid, msg in facts.collection_errors]
    failure_lines += [f"{nodeid}: {msg}" for s in facts.steps for nodeid, msg in s.failures]
    missing_lines = [f"{nodeid}: skipped, missing evidence: {msg}" for s in facts.steps
                     for nodeid, msg in s.missing]

    md: list[str] = [f"# {headline}", ""]
    md.append(f"**Verdict: {verdict}** (a skip is missing evidence and counts as NO-GO)")
    md.append("")
    if weakened:
        md.append("**Weakened:** " + "; ".join(weakened) + ". A weakened run is never evidence in the ledger.")
        md.append("")
    md.append("## Target")
    md.append(tabulate(sorted((k, _fmt(v)) for k, v in facts.target.items() if k != "fidelity"),
                       headers=["field", "value"], tablefmt="github"))
    md.append("")
    md.append("## Fidelity")
    if fidelity_rows:
        md.append("How this run enforced each Lambda behaviour: by the kernel (namespace, cgroup, tmpfs), "
                  "by the local Lambda service, by polling, or not at all.")
        md.append("")
        md.append(tabulate([(r["behaviour"], r["enforced"], r["how"]) for r in fidelity_rows],
                           headers=["behaviour", "enforced", "how"], tablefmt="github"))
        if reduced:
            md.append("")
            md.append(f"**Reduced fidelity:** {', '.join(reduced)} not enforced by the kernel in this run.")
    elif facts.target.get("name") == "aws" and facts.target.get("emulated"):
        md.append(f"**Emulated:** this aws run did not reach AWS ({facts.target['emulated']}). Every behaviour is "
                  "the emulator's, not the real Lambda service's; the run is no evidence for a real-account rollout.")
    elif facts.target.get("name") == "aws":
        md.append("Every behaviour is the real Lambda service's own.")
    else:
        md.append("Not recorded: the target did not report how it enforced Lambda's behaviour.")
    md.append("")
    md.append("## Code identity")
    md.append(tabulate(sorted((k, _fmt(v)) for k, v in facts.code.items()),
                       headers=["field", "value"], tablefmt="github"))
    md.append("")
    md.append("## How it was run")
    md.append(f"- arguments: `{' '.join(facts.args) or '(none)'}`")
    md.append(f"- rules: {_fmt(facts.rules)}")
    md.append(f"- pytest plugins: {', '.join(facts.plugins) or 'none recorded'}")
    md.append("")
    md.append("## Steps")
    rows = [(s.id, BY_ID[s.id].title, s.status, s.passed, s.failed, s.skipped, s.blocked,
             f"{s.duration:.1f}s") for s in facts.steps]
    md.append(tabulate(rows, headers=["step", "title", "status", "passed", "failed", "skipped",
                                      "blocked", "duration"], tablefmt="github"))
    md.append("")
    md.append("## Failures")
    md.extend(f"- {line}" for line in failure_lines) if failure_lines else md.append("None.")
    md.append("")
    tails = [(nodeid, tail) for s in facts.steps for nodeid, tail in s.log_tails.items()]
    if tails:
        md.append("### The function's last log lines in each failed test")
        for nodeid, tail in tails:
            md.append(f"`{nodeid}`:")
            md.append("```")
            md.extend(tail)
            md.append("```")
        md.append("")
    if facts.ledger_gap:
        md.append("## Local evidence this aws run needs")
        md.append("These checks inject faults that only the embedded target can inject. An aws verdict takes them "
                  "from local GO runs of the same code identity (package, layer, terraform and backend hashes) "
                  "in the ledger; none covers these:")
        md.extend(f"- {t}" for t in facts.ledger_gap)
        md.append("")
    md.append("## Missing evidence")
    blocked = [f"step {s.id}: {s.summary}" for s in facts.steps if s.status in ("blocked", "not_run", "partial")]
    lines = missing_lines + blocked
    md.extend(f"- {line}" for line in lines) if lines else md.append("None.")
    md.append("")
    md.append("## Not checked by this gate")
    md.append("What this harness does not judge at all, whatever the verdict:")
    md.extend(f"- {what}: {why}" for what, why in not_checked)
    md.append("")
    signs = sorted({sign for s in facts.steps for sign in (*s.warnings, *s.injected)})
    warn_rows = [(s.id, sign, s.warnings.get(sign, 0), s.injected.get(sign, 0)) for s in facts.steps
                 for sign in signs if s.warnings.get(sign) or s.injected.get(sign)]
    md.append("## Early warning signs")
    md.append("Counted in the function logs of each step's tests: Lambda timeouts, memory-limit warnings, "
              "S3 permission denied, DynamoDB throttling. Signs a fault test caused on purpose are counted apart.")
    md.append("")
    if warn_rows:
        md.append(tabulate(warn_rows, headers=["step", "sign", "unexpected", "injected on purpose"],
                           tablefmt="github"))
        warn_rows = [(sid, sign, n) for sid, sign, n, _ in warn_rows if n]
        flagged = [f"step {sid} passed but logged {n} x {sign}: NO-GO" for sid, sign, n in warn_rows
                   if any(s.id == sid and s.status == "passed" for s in facts.steps)]
        md.extend(f"- FLAG: {line}" for line in flagged)
    else:
        md.append("None seen." if not any(s.unscanned for s in facts.steps) else "None seen in the logs scanned.")
    unscanned = [f"step {s.id}: {len(s.unscanned)} test(s) not scanned ({s.unscanned[0]})"
                 for s in facts.steps if s.unscanned]
    if unscanned:
        md.append("")
        md.extend(f"- NOT SCANNED: {line}" for line in unscanned)
    md.append("")
    notice_lines = [f"step {s.id}: {s.notices['sigv2']} request(s) the function signed with SigV2, e.g. "
                    f"{s.notices.get('example')}" for s in facts.steps if s.notices.get("sigv2")]
    md.append("### Notices")
    if notice_lines:
        md.append(SIGV2_NOTICE)
        md.append("")
        md.extend(f"- NOTICE: {line}" for line in notice_lines)
    else:
        md.append("None.")
    md.append("")
    for extra_title, table in facts.extra.get("tables", {}).items():
        md.append(f"## {extra_title}")
        md.append(tabulate(table["rows"], headers=table["headers"], tablefmt="github"))
        md.append("")
    md.append("## The four questions, step by step")
    for s in facts.steps:
        step = BY_ID[s.id]
        md.append(f"### {s.id} {step.title}: {s.status}")
        md.append(f"Goal: {step.goal} Risk: {step.risk}. Estimate: {step.estimate}.")
        answers = _answers(s)
        md.append(tabulate([(q, answers[k]) for q, k in zip(QUESTIONS, QUESTION_KEYS)],
                           headers=["question", "answer"], tablefmt="github"))
        details = [(q, line) for q, k in zip(QUESTIONS, QUESTION_KEYS) for line in s.evidence.get(k, [])]
        if details:
            md.append("")
            md.append("Evidence:")
            md.extend(f"- {q.rstrip('?').lower()}: {line}" for q, line in details)
        if s.metrics:
            md.append("")
            md.append(tabulate(sorted((k, _fmt(v)) for k, v in s.metrics.items()),
                               headers=["metric", "value"], tablefmt="github"))
        md.append("")
        md.append("Rollback:")
        md.extend(f"- `{cmd}`" if cmd.startswith("terraform ") else f"- {cmd}"
                  for cmd in rollback_commands(s.id, facts.target.get("workspace")))
        md.append("")
    markdown = redact("\n".join(md) + "\n")

    data = {
        "schema_version": SCHEMA_VERSION,
        "verdict": verdict,
        "headline": headline,
        "target": facts.target.get("name", "local"),
        "target_label": target_name,
        "target_details": facts.target,
        "rollout_step": facts.rollout_step,
        "code": facts.code,
        "fidelity": {"rows": fidelity_rows, "reduced": reduced},
        "started": datetime.fromtimestamp(facts.started, tz=UTC).isoformat(),
        "finished": datetime.fromtimestamp(facts.finished, tz=UTC).isoformat(),
        "steps": [{"id": s.id, "status": s.status, "passed": s.passed, "failed": s.failed,
                   "skipped": s.skipped, "blocked": s.blocked, "duration_s": round(s.duration, 3),
                   "summary": s.summary,
                   "failures": [{"test": n, "message": m, "log_tail": s.log_tails.get(n, [])} for n, m in s.failures],
                   "missing_evidence": [{"test": n, "reason": m} for n, m in s.missing],
                   "answers": _answers(s), "evidence": s.evidence, "metrics": s.metrics, "warnings": s.warnings,
                   "injected_warnings": s.injected, "notices": s.notices, "unscanned": s.unscanned,
                   "charts": s.charts}
                  for s in facts.steps],
        "failures": failure_lines,
        "collection_errors": [{"node": n, "message": m} for n, m in facts.collection_errors],
        "ledger_gap": facts.ledger_gap,
        "interrupted": facts.interrupted,
        "not_checked": [{"what": what, "why": why} for what, why in not_checked],
        "weakened": weakened,
        "emulated": facts.target.get("emulated"),
        "args": facts.args,
        "rules": facts.rules,
        "plugins": facts.plugins,
        "extra": facts.extra,
    }
    data = json.loads(redact(json.dumps(data, default=str)))
    return Report(verdict=verdict, headline=redact(headline), failure_lines=failure_lines + missing_lines,
                  markdown=markdown, data=data, stamp=stamp,
                  target_name=facts.target.get("name", "local") + ("-emulated" if facts.target.get("emulated") else ""))


def ci_summary(report: Report, max_failures: int = 10) -> str:
    """What a CI job page shows (GITHUB_STEP_SUMMARY): the verdict, the step strip as a table, the failures,
    and where the full report is; not the whole Markdown (pure)."""
    rows = [(s["id"], BY_ID[s["id"]].title, s["status"], s["passed"], s["failed"] + s["skipped"])
            for s in report.data.get("steps", [])]
    out = [f"# {report.headline}", "",
           tabulate(rows, headers=["step", "title", "status", "passed", "failed or skipped"], tablefmt="github"), ""]
    lines = report.failure_lines
    if lines:
        out.append("## Failures")
        out += [f"- {line}" for line in lines[:max_failures]]
        if len(lines) > max_failures:
            out.append(f"- ... and {len(lines) - max_failures} more in the full report")
        out.append("")
    out.append("The full report: `reports/latest.md` (people), `reports/latest.json` (machines), "
               "`reports/latest.html` (the page).")
    return "\n".join(out) + "\n"


def _no_go_reason(facts: RunFacts, failing: list[StepFacts], last: str, nothing_ran: bool) -> str:
    if facts.interrupted:       # the run, not the product: no step is blamed for what never finished
        return f"run interrupted at {facts.interrupted}"
    if facts.target.get("target_error"):
        return f"not validated: {facts.target['target_error']}"
    if facts.collection_errors:
        return f"collection failed: {facts.collection_errors[0][1]}"
    if nothing_ran:
        return (f"nothing ran: the command line selected no test of steps {facts.selected[0]}..{last}"
                if facts.selected else "nothing ran")
    if failing:
        return f"step {failing[0].id} {failing[0].summary}"
    if facts.ledger_gap:
        n = len(facts.ledger_gap)
        return (f"{n} local-only check{'s' if n != 1 else ''} (fault drills) have no clean, full-fidelity local GO "
                f"of this code identity in the ledger, e.g. {facts.ledger_gap[0]}: run "
                f"`pytest phases/ -m local --phase {last}` on this checkout, committed, first")
    first = next(s for s in facts.steps if warning_problem(s))
    return f"step {first.id} {warning_problem(first)}"


def weakened_by(options: list[str], reduced: list[str]) -> list[str]:
    """The run's weakening options plus what the kernel did not enforce (CPU is said once, as the option)."""
    if "cpu-scaling off" in options:
        reduced = [r for r in reduced if r != "CPU"]
    return list(options) + ([f"reduced fidelity: {', '.join(reduced)} not enforced by the kernel"] if reduced else [])


def target_label(target: dict) -> str:
    """'local', 'aws', or 'aws (emulated: <endpoint>)' when the aws target answered from a non-AWS endpoint."""
    name = target.get("name", "local")
    if name == "aws" and target.get("emulated"):
        return f"aws (emulated: {target['emulated']})"
    return name


def reduced_fidelity(rows: list[dict]) -> list[str]:
    from harness.runtime.fidelity import reduced

    return reduced(rows)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)
