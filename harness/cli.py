"""python -m harness: build the artifacts, serve the embedded stack, or prove the aws path against it.

  python -m harness build                 build function.zip and ffmpeg-layer.zip into build/
  python -m harness serve [--env-file F]  provision the embedded stack and serve it until Ctrl-C
  python -m harness aws-selftest --phase 3 [-- pytest args]
                                          serve in the background, then run `pytest phases -m aws`
                                          against it with the printed environment
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cmd_build(args: argparse.Namespace) -> int:
    from harness.stack import build

    for art in (build.build_package(), build.build_layer()):
        print(f"{art.path.relative_to(REPO)}  sha256={art.sha256}  {art.zipped_bytes} bytes")
    return 0


def served_environment(stack, backend_url: str | None, outputs_file: Path) -> dict[str, str]:
    env = {"AWS_ENDPOINT_URL": stack.endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": stack.spec.region,
           "AWS_DEFAULT_REGION": stack.spec.region, "ROLLOUT_TF_OUTPUTS": str(outputs_file)}
    if backend_url:
        env["ROLLOUT_BACKEND_URL"] = backend_url
    return env


def terraform_outputs(spec, layer_arns: dict | None = None) -> dict:
    """The embedded stack's names in `terraform output -json` shape (`layer_arns`: address -> the ARN
    the stack published, where it differs from the one computed offline)."""
    from harness.targets.aws import OUTPUT_FUNCTIONS

    fn = {f.key: f for f in spec.enabled_functions}
    values = {
        "bucket_name": spec.bucket, "bucket_arn": f"arn:aws:s3:::{spec.bucket}",
        "table_name": spec.table.name, "role_arn": spec.role_arn, "stage": str(spec.variables.get("stage", "dev")),
        "processor_function_name": spec.function("video_processor").name,
        "test_function_names": {out: (fn[key].name if key in fn else None)
                                for out, key in OUTPUT_FUNCTIONS.items()},
    }
    for name, address in spec.layer_arn_outputs.items():
        values[name] = (layer_arns or {}).get(address, spec.layers[address].arn)
    from harness.stack.drift import config_sha256

    values["config_sha256"] = config_sha256(spec.tf_dir)     # what `terraform apply` of this checkout outputs
    return {k: {"sensitive": False, "value": v} for k, v in values.items()}


def cmd_serve(args: argparse.Namespace) -> int:
    from harness.local.services import start_backend
    from harness.local.stack import start_stack
    from harness.stack.terraform import load_stack

    spec = load_stack(REPO / "terraform", workspace=args.workspace)
    package = None
    if args.lambda_src:     # serve another function's source (a planted defect, your own processor)
        from harness.stack import build

        src = Path(args.lambda_src).resolve()
        if not src.is_dir():
            print(f"--lambda-src {args.lambda_src}: not a directory", file=sys.stderr)
            return 2
        package = build.build_package(src, Path(tempfile.mkdtemp(prefix="rollout-serve-pkg-")) / "function.zip")
    stack = start_stack(spec, package=package)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        backend = start_backend(stack, with_worker=True)
        stack.services.append(backend)
        state = Path(args.state_dir or tempfile.mkdtemp(prefix="rollout-serve-"))
        state.mkdir(parents=True, exist_ok=True)
        outputs = state / "terraform-outputs.json"
        outputs.write_text(json.dumps(terraform_outputs(spec, stack.layer_arns), indent=2))
        env = served_environment(stack, backend.url, outputs)
        text = "".join(f"export {k}={v}\n" for k, v in env.items())
        env_file = Path(args.env_file) if args.env_file else state / "env.sh"
        tmp = env_file.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, env_file)
        print("# embedded stack is up; export this environment, then run: pytest phases/ -m aws --phase 3")
        print(text, end="", flush=True)
        print(f"# (also written to {env_file}); Ctrl-C stops the stack", flush=True)
        while not stop.is_set():
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stack.close()
    return 0


def cmd_aws_selftest(args: argparse.Namespace) -> int:
    state = Path(tempfile.mkdtemp(prefix="rollout-selftest-"))
    env_file = state / "env.sh"
    src = ["--lambda-src", str(Path(args.lambda_src).resolve())] if args.lambda_src else []
    server = subprocess.Popen([sys.executable, "-m", "harness", "serve", "--env-file", str(env_file),
                               "--state-dir", str(state), *src], cwd=REPO, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while not env_file.exists():
            if server.poll() is not None:
                print(f"harness serve exited with {server.returncode} before it was ready", file=sys.stderr)
                return 2
            if time.monotonic() > deadline:
                print("harness serve was not ready within 180 s", file=sys.stderr)
                return 2
            time.sleep(0.2)
        env = dict(os.environ)
        for line in env_file.read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
        extra = [a for a in args.pytest_args if a != "--"]
        cmd = [sys.executable, "-m", "pytest", "phases/", "-m", "aws", "--phase", args.phase, *src, *extra]
        print("running:", " ".join(cmd), flush=True)
        return subprocess.call(cmd, cwd=REPO, env=env)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        import shutil

        shutil.rmtree(state, ignore_errors=True)


def cmd_ledger(args) -> int:
    """Per step and target: the last verdict, its code identity and age."""
    from tabulate import tabulate

    from harness.tell import ledger

    entries = ledger.read(Path(args.report_dir))
    if not entries:
        print(f"no runs recorded in {Path(args.report_dir) / ledger.NAME} yet: run `make validate` first")
        return 1
    if args.since:
        at_or_before = _at_or_before(args.since)
        if at_or_before is None:
            print(f"--since {args.since}: not a git revision of this checkout", file=sys.stderr)
            return 2
        print(f"since {args.since}: the last run at or before it, against the last run now")
        print(tabulate(ledger.changes_since(entries, at_or_before),
                       headers=["step", "target", "then", "commit", "now", "commit", "what changed"],
                       tablefmt="github"))
        return 0
    print(tabulate(ledger.summary_rows(entries), headers=["step", "target", "status", "run verdict", "commit",
                                                           "package", "age", "report"], tablefmt="github"))
    if args.html:
        from harness.tell.ledger_html import render_ledger_html
        from harness.tell.report_writer import atomic_write

        path = Path(args.report_dir) / "ledger.html"
        atomic_write(path, render_ledger_html([with_ratio(e, Path(args.report_dir)) for e in entries]))
        print(f"wrote {path}")
    return 0


def _at_or_before(ref: str):
    """A predicate: is a commit the revision `ref` or one of its ancestors (git), or None for a bad ref."""
    head = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=REPO,
                          capture_output=True, text=True)
    if head.returncode != 0:
        return None
    target, cache = head.stdout.strip(), {}

    def check(commit: str) -> bool:
        if commit not in cache:
            cache[commit] = subprocess.run(["git", "merge-base", "--is-ancestor", commit, target], cwd=REPO,
                                           capture_output=True).returncode == 0
        return cache[commit]
    return check


def with_ratio(entry: dict, report_dir: Path) -> dict:
    """A ledger entry from before ratio_5b was recorded takes it from its report's JSON, when that is still there."""
    from harness.tell import ledger

    if "ratio_5b" in entry or not entry.get("report"):
        return entry
    report = Path(str(entry["report"])).with_suffix(".json")
    for path in (report, report_dir / report.name):
        try:
            return {**entry, "ratio_5b": ledger.ratio_5b(json.loads(path.read_text(encoding="utf-8")))}
        except (OSError, ValueError):
            continue
    return entry


def cmd_lint(args) -> int:
    """terraform fmt over the terraform dir: style only, so outside the gate (catalogue.NOT_CHECKED)."""
    from harness.stack.checks import check_fmt

    findings = check_fmt(Path(args.terraform_dir))
    for f in findings:
        print(f.line if not f.ran else f"{f.check}: {f.message}")
    return 0 if all(f.ok for f in findings) else 1


def cmd_runtime_env(args) -> int:
    """Build what the AWS runtime provides (RIC, SDK at AWS's version) for each declared runtime."""
    from harness.runtime import awsruntime

    runtimes = args.runtime or sorted({fn.runtime for fn in _declared_functions()})
    missing = 0
    for runtime in runtimes:
        try:
            env = awsruntime.ensure_runtime_env(runtime)
        except awsruntime.RuntimeEnvError as e:
            # not fatal for setup: the validation's 1A says it again, as a NO-GO
            print(f"warning: {e}", file=sys.stderr)
            missing += 1
            continue
        print(f"{runtime}: {env.interpreter.describe()}; {env.site_packages} "
              f"({', '.join(f'{k} {v}' for k, v in sorted(env.versions.items()))}); userland {env.userland}")
    return 0 if not missing or not args.strict else 1


def cmd_provision_python(args) -> int:
    """A CPython of each declared runtime's version from Debian's archive, where the machine has none."""
    from harness.runtime import provision

    runtimes = args.runtime or sorted({fn.runtime for fn in _declared_functions()})
    return provision.main(runtimes, if_missing=args.if_missing)


def _declared_functions():
    from harness.stack.terraform import load_stack

    return load_stack(REPO / "terraform").functions.values()


def main(argv: list[str] | None = None) -> int:
    from harness.rollout import cli as rollout_cli

    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the deployment package and the ffmpeg layer")
    serve = sub.add_parser("serve", help="serve the embedded stack in the foreground")
    serve.add_argument("--env-file", help="also write the environment to this file")
    serve.add_argument("--state-dir", help="where the outputs file goes (default: a temp dir)")
    serve.add_argument("--workspace", default=None, help="terraform workspace (tfvars in terraform/env/)")
    serve.add_argument("--lambda-src", default=None, help="deploy the function built from this source directory")
    lg = sub.add_parser("ledger", help="the last verdict per step and target, with its code identity")
    lg.add_argument("--report-dir", default="reports")
    lg.add_argument("--since", metavar="REF", help="what changed since a git revision: verdicts then and now")
    lg.add_argument("--html", action="store_true", help="also write <report dir>/ledger.html (history and 5B trend)")
    lint = sub.add_parser("lint", help="terraform fmt -check (needs the terraform CLI; not part of the gate)")
    lint.add_argument("--terraform-dir", default=str(REPO / "terraform"))
    ro = sub.add_parser("rollout", help="move real jobs from Celery to Lambda by weight, judged after every job",
                        description=rollout_cli.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rollout_cli.add_arguments(ro)
    pp = sub.add_parser("provision-python", help="unpack a CPython of each declared runtime from Debian's archive")
    pp.add_argument("runtime", nargs="*", help="declared runtime (default: every one terraform declares)")
    pp.add_argument("--if-missing", action="store_true", help="skip a runtime already provisioned in build/python")
    rt = sub.add_parser("runtime-env", help="build the Lambda runtime's own site-packages for the sandbox")
    rt.add_argument("--strict", action="store_true", help="exit 1 when a runtime has no interpreter")
    rt.add_argument("--runtime", action="append", help="declared runtime (default: every one terraform declares)")
    st = sub.add_parser("aws-selftest", help="run the aws target against the served embedded stack")
    st.add_argument("--phase", default="3")
    st.add_argument("--lambda-src", default=None, help="serve and validate the function built from this source")
    st.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    return {"build": cmd_build, "serve": cmd_serve, "aws-selftest": cmd_aws_selftest,
            "runtime-env": cmd_runtime_env, "provision-python": cmd_provision_python,
            "rollout": rollout_cli.run, "ledger": cmd_ledger, "lint": cmd_lint}[args.command](args)
