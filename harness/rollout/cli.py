"""`python -m harness rollout`: move real jobs from Celery to Lambda by weight, judged after every job.

    python -m harness rollout [--schedule 1,5,25,50,100] [--dry-run] [--backend-url URL] ...
    python -m harness rollout --replay RUN_ID

Against the deployed stack that terraform's outputs describe (the aws target's discovery: AWS
credentials, `terraform output`, or the served embedded stack through AWS_ENDPOINT_URL). Each run
writes <report dir>/rollouts/<run id>.json (every decision with its evidence and the events it was
made from) and appends one line to <report dir>/rollouts.jsonl.

Exit codes: 0 promoted through the whole schedule; 1 rolled back or inconclusive (weight held);
3 --replay found a decision that does not recompute; 4 the preflight failed (nothing changed);
2 bad arguments.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

from harness.judge.rollout import Rules
from harness.rollout.controller import Controller, PreflightFailed, parse_schedule, replay

EXIT = {"PROMOTED": 0, "ROLLED_BACK": 1, "INCONCLUSIVE": 1, "PREFLIGHT_FAILED": 4}


class Options:
    """The few target options the aws target reads, from argparse instead of pytest."""

    def __init__(self, ns: argparse.Namespace) -> None:
        self.values = {"--terraform-dir": ns.terraform_dir, "--tf-workspace": ns.tf_workspace,
                       "--backend-url": ns.backend_url, "--allow-prod": ns.allow_prod, "--tf-var": []}

    def getoption(self, name: str, default=None):
        return self.values.get(name, default)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--schedule", default="1,5,25,50,100", help="weights in percent (default 1,5,25,50,100)")
    ap.add_argument("--dry-run", action="store_true", help="decide on the jobs that finish, never write the weight")
    ap.add_argument("--replay", metavar="RUN_ID", help="recompute every decision of a recorded rollout")
    ap.add_argument("--step-timeout", type=float, default=3600.0, help="seconds a step may watch (default 3600)")
    ap.add_argument("--min-jobs", type=int, default=Rules.min_jobs, help="jobs per path before PROMOTE")
    ap.add_argument("--max-jobs", type=int, default=Rules.max_jobs, help="a step's budget of finished jobs")
    ap.add_argument("--margin", type=float, default=Rules.margin,
                    help="Lambda's duration may be at most this times Celery's (default the 5B factor, 1.25)")
    ap.add_argument("--failure-margin", type=float, default=Rules.failure_margin,
                    help="PROMOTE needs Lambda's failure rate proven at most Celery's plus this")
    ap.add_argument("--report-dir", default="reports")
    ap.add_argument("--backend-url", default=None, help="the backend whose health the preflight checks")
    ap.add_argument("--terraform-dir", default=None)
    ap.add_argument("--tf-workspace", default=None)
    ap.add_argument("--allow-prod", action="store_true", help="the stage or workspace looks like production: go on")


def run(ns: argparse.Namespace) -> int:
    out_dir = Path(ns.report_dir) / "rollouts"
    if ns.replay:
        path = out_dir / f"{ns.replay}.json"
        if not path.is_file():
            print(f"rollout --replay: no recorded rollout {ns.replay!r} in {out_dir}", file=sys.stderr)
            return 2
        problems = replay(json.loads(path.read_text()))
        for line in problems:
            print(f"rollout --replay: {line}")
        if not problems:
            print(f"rollout --replay {ns.replay}: every decision recomputes bit for bit")
        return 3 if problems else 0
    try:
        schedule = parse_schedule(ns.schedule)
        rules = Rules(min_jobs=ns.min_jobs, max_jobs=ns.max_jobs, margin=ns.margin, failure_margin=ns.failure_margin)
    except ValueError as e:
        print(f"rollout: {e}", file=sys.stderr)
        return 2
    from harness.rollout.ops import TargetOps
    from harness.targets.aws import AwsTarget
    from harness.targets.base import TargetError

    try:
        target = AwsTarget.connect(Options(ns))
        ops = TargetOps(target, backend_url=ns.backend_url)
    except (TargetError, PreflightFailed) as e:
        print(f"rollout: not started: {e}", file=sys.stderr)
        return 4
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    ctl = Controller(ops, schedule=schedule, rules=rules, dry_run=ns.dry_run, step_timeout=ns.step_timeout,
                     run_id=run_id, target=target.name, say=lambda line: print(line, flush=True))
    record = ctl.run()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{run_id}.json").write_text(json.dumps(record.to_dict(), indent=1))
    with open(Path(ns.report_dir) / "rollouts.jsonl", "a") as f:
        f.write(json.dumps({"run_id": run_id, "outcome": record.outcome, "reason": record.reason,
                            "schedule": record.schedule, "dry_run": record.dry_run, "target": record.target,
                            "started": record.started, "finished": record.finished}) + "\n")
    print(f"rollout {run_id}: {record.outcome}: {record.reason}")
    print(f"record: {out_dir / f'{run_id}.json'} (replay: python -m harness rollout --replay {run_id})")
    return EXIT.get(record.outcome, 1)
