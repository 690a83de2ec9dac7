"""pytest plugin: rollout steps, local/aws targets, --phase, gating and the go/no-go report.

Mechanism:
- The step of a test comes from its module name (harness.plan.steps).
- Phase tests that use the `target` fixture are parametrized over the targets
  `local` and `aws`, each carrying its marker. aws items are selected only when
  `-m` names aws, so a plain run never reaches a real account.
- Phase items run sorted by step. Before a test runs, the gate decides from the
  results of earlier steps whether it may run; if not, it is skipped as blocked.
  Under xdist the controller owns the results and publishes finished steps to a
  file that workers poll (harness.run.gatefile).
- Every test report reaches the run record (harness.run.record) on the controller; at the
  end it builds the report (facts -> pure harness.tell.report) and writes it
  (harness.tell.report_writer). NO-GO makes pytest exit non-zero.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.judge.compare import MIN_ROUNDS
from harness.plan.steps import StepNameError, parse_phase, step_index, step_of_module, step_of_nodeid, steps_up_to
from harness.run import gatefile, interrupt
from harness.run.record import PLUGIN_NAME, SETTINGS, RunRecord, RunSettings, record_of, settings
from harness.run.selection import run_target

SIGNALS = pytest.StashKey[dict]()   # the signal handlers interrupt.install replaced

TARGETS = ("local", "aws")
MARKERS = {
    "local": "runs against the embedded target: a moto server plus the local Lambda runtime "
             "executing the real deployment package (the default)",
    "aws": "runs against a real AWS account (or any AWS-compatible endpoint); selected only "
           "when -m names aws",
    "local_only: the test injects faults that only the embedded target can inject; "
    "it is not collected for aws": None,
    "large: needs the 1 GB fixture tier; selected only with --large": None,
    "injects(*signs): the test deliberately causes these early warning signs (lambda_timeout, "
    "memory_limit, s3_permission_denied, dynamodb_throttling); the report counts them apart": None,
    "contract(*clauses): the CONTRACT.md clauses this phase test checks (E1, F1, ...); every phase "
    "test cites at least one": None,
}
GATE_TIMEOUT_HELP = "seconds a test waits for earlier steps to finish under xdist (default 3600)"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rollout", "phased-rollout validation")
    group.addoption("--phase", default=None, metavar="N",
                    help="validate every rollout step up to N (1-5 or a step id like 3A); a step some of whose "
                         "tests the run did not collect (node ids, paths, -k, -m, --deselect) is 'partial' "
                         "and the verdict NO-GO")
    group.addoption("--report-dir", default="reports", metavar="DIR",
                    help="where the go/no-go report is written (default reports/)")
    group.addoption("--gate-timeout", type=float, default=3600.0, help=GATE_TIMEOUT_HELP)
    group.addoption("--no-gate", action="store_true", default=False,
                    help="run selected tests even when earlier steps did not pass (for iterating on one "
                         "step; the verdict stays NO-GO while any selected step lacks evidence)")
    group.addoption("--backend-url", default=os.environ.get("ROLLOUT_BACKEND_URL"),
                    help="backend base URL for the aws target (env ROLLOUT_BACKEND_URL)")
    group.addoption("--large", action="store_true", default=False,
                    help="include the 1 GB fixture tier")
    group.addoption("--allow-prod", action="store_true", default=False,
                    help="allow the aws target on a workspace or stage named like production")
    group.addoption("--tf-var", action="append", default=[], metavar="NAME=VALUE",
                    help="terraform variable override, like terraform -var")
    group.addoption("--tf-workspace", default=None, metavar="NAME",
                    help="terraform workspace whose *.tfvars apply (default: terraform/'s selected one)")
    group.addoption("--lambda-price-gb-s", type=float, default=0.0000166667, metavar="USD",
                    help="Lambda price per GB-second for 5B's cost estimate (default x86 us-east-1)")
    group.addoption("--better-factor", type=float, default=1.25, metavar="F",
                    help="5B rule: the 95%% upper bound of Lambda/Celery's workload median ratio <= F (default 1.25; "
                         "above it the verdict says weakened)")
    group.addoption("--compare-runs", type=int, default=5, metavar="N",
                    help="interleaved rounds per path between 5B's looks (default and minimum 5: fewer cannot give "
                         "an interval that decides)")
    group.addoption("--compare-max-runs", type=int, default=25, metavar="M",
                    help="5B looks every --compare-runs rounds and stops at the first decisive look, after at "
                         "most M rounds per path (default 25; alpha is split over the looks)")
    group.addoption("--terraform-dir", default=None, metavar="DIR",
                    help="the terraform stack to validate (default terraform/)")
    group.addoption("--lambda-src", default=None, metavar="DIR",
                    help="the function's source to package (default lambda_src/); the processor in it is "
                         "held to CONTRACT.md")
    group.addoption("--backend-src", default=None, metavar="DIR",
                    help="a directory holding the backend package to serve on local (default: this repo's)")
    group.addoption("--ffmpeg-binary", default=None, metavar="PATH",
                    help="build the layer from this binary instead of the pinned wheel's (the pin check "
                         "then decides whether it is acceptable)")
    group.addoption("--cold-start", action="store_true", default=False,
                    help="local: start a fresh function process for every invocation (default: warm "
                         "instances are reused while idle, as on AWS)")
    group.addoption("--cpu-scaling", choices=("on", "off"), default="on",
                    help="local: give each instance Lambda's CPU share, MemorySize/1769 vCPU (default on); "
                         "'off' is for iterating, and the report then says reduced fidelity")
    group.addoption("--aws-timing", action="store_true", default=False,
                    help="local: async retries after 60 s and 120 s, as AWS spaces them (default 0.5 s and 1 s, "
                         "to keep the validation fast); the stale-job threshold is always the real one")
    group.addoption("--python-for", action="append", default=[], metavar="RUNTIME=PATH",
                    help="local: run functions declared RUNTIME (e.g. python3.13) on this CPython; otherwise one "
                         "of that version is searched in build/python, PATH, pyenv and uv "
                         "(harness/runtime/interpreters.py); also HARNESS_PYTHON_FOR")
    group.addoption("--lambda-runtime", choices=("process", "container"), default="process",
                    help="how the local target runs functions: processes (default) or the "
                         "official base image in a Docker engine")


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}" if text else name)
    phase = config.getoption("--phase")
    try:
        last = parse_phase(phase) if phase else None
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("--compare-runs") < MIN_ROUNDS:
        raise pytest.UsageError(f"--compare-runs {config.getoption('--compare-runs')}: 5B needs at least {MIN_ROUNDS} "
                                "rounds per path for an interval that can decide; use --compare-runs 5 or more")
    if config.getoption("--compare-max-runs") < config.getoption("--compare-runs"):
        raise pytest.UsageError(f"--compare-max-runs {config.getoption('--compare-max-runs')} is fewer than "
                                f"--compare-runs {config.getoption('--compare-runs')}: 5B must reach its first look")
    if config.getoption("--python-for"):
        from harness.runtime import interpreters

        try:
            interpreters.parse_overrides(config.getoption("--python-for"))
        except (ValueError, interpreters.InterpreterMissing) as exc:
            raise pytest.UsageError(str(exc)) from None
        os.environ["HARNESS_PYTHON_FOR"] = ",".join(config.getoption("--python-for"))
    if config.getoption("--gate-timeout") <= 0:
        raise pytest.UsageError("--gate-timeout must be a positive number of seconds")
    if hasattr(config.option, "maxschedchunk") and config.option.maxschedchunk is None:
        # Small chunks keep both workers inside the same step; big ones park a worker on a later
        # step's test, waiting at the gate while the other one works through the current step.
        config.option.maxschedchunk = 2
    selected, container = steps_up_to(last), _container_engine_problem(config)
    worker = getattr(config, "workerinput", None)
    config.stash[SIGNALS] = interrupt.install(forward=worker is None)
    if worker is not None:
        config.stash[SETTINGS] = RunSettings.for_worker(selected, last, worker, container)
    else:
        config.stash[SETTINGS] = RunSettings.for_controller(selected, last, container)
        config.pluginmanager.register(RunRecord(config, config.stash[SETTINGS]), PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the signal handlers; the gate directory is the controller's, and goes when the run does."""
    import shutil

    interrupt.restore(config.stash.get(SIGNALS, {}))
    if record_of(config) is not None:
        shutil.rmtree(settings(config).gate_dir, ignore_errors=True)


def _container_engine_problem(config: pytest.Config) -> str | None:
    """None unless --lambda-runtime container was asked for; then why it cannot run, if it cannot."""
    if config.getoption("--lambda-runtime") != "container":
        return None
    try:
        from python_on_whales import docker

        docker.info()
    except Exception as exc:  # python-on-whales raises several kinds when no engine answers
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"no Docker engine reachable ({first[:120]}): --lambda-runtime container runs are not collected"
    return ("a Docker engine is reachable, but running invocations in the Lambda base image is not "
            "implemented yet: --lambda-runtime container runs are not collected")


class _PhaseFileError(pytest.File):
    def collect(self):
        raise self.CollectError(self.config.stash.get(_NAME_ERRORS, {}).get(str(self.path), ""))


_NAME_ERRORS = pytest.StashKey[dict]()


def _in_phases_dir(path: Path) -> bool:
    return path.parent.name == "phases"


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix != ".py" or not _in_phases_dir(file_path):
        return None
    if file_path.name in ("conftest.py", "__init__.py") or file_path.name.startswith("_"):
        return None
    try:
        step_of_module(file_path)
    except StepNameError as exc:
        errors = parent.config.stash.setdefault(_NAME_ERRORS, {})
        errors[str(file_path)] = str(exc)
        return _PhaseFileError.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    if step_of_nodeid(metafunc.definition.nodeid) is None:
        return
    local_only = metafunc.definition.get_closest_marker("local_only") is not None
    params = [pytest.param("local", marks=pytest.mark.local, id="local")]
    if not local_only:
        params.append(pytest.param("aws", marks=pytest.mark.aws, id="aws"))
    metafunc.parametrize("target", params, indirect=True, scope="session")


def _aws_requested(config: pytest.Config) -> bool:
    return run_target(config) == "aws"


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    selected_steps = set(settings(config).selected)
    keep, drop = [], []
    for item in items:
        step = step_of_nodeid(item.nodeid)
        if step is None:
            keep.append(item)
            continue
        if step not in selected_steps or item.get_closest_marker("aws") and not _aws_requested(config) or item.get_closest_marker("local") and settings(config).container_problem or item.get_closest_marker("large") and not config.getoption("--large"):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    keep.sort(key=lambda it: (step_index(step_of_nodeid(it.nodeid)) + 1
                              if step_of_nodeid(it.nodeid) else 0))
    items[:] = keep


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    step = step_of_nodeid(item.nodeid)
    if step is None or item.config.getoption("--no-gate"):
        return
    config = item.config
    run = settings(config)
    record = record_of(config)
    if record is None:      # an xdist worker: the controller's gate file says what finished
        reason = gatefile.wait_for_blocker(run.gate_dir, run.selected, step,
                                           timeout=config.getoption("--gate-timeout"))
    else:
        reason = record.gate.blocker(step)
    if reason:
        pytest.skip(reason)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    problem = settings(config).container_problem if SETTINGS in config.stash else None
    if problem:
        terminalreporter.write_line(problem)
    record = record_of(config)
    if record is None or record.report is None:
        return
    report, paths = record.report, record.paths
    terminalreporter.write_sep("=", "go/no-go report")
    terminalreporter.write_line(report.headline)
    for line in report.failure_lines:
        terminalreporter.write_line(f"  {line}")
    terminalreporter.write_line(f"report: {paths[0]}")
