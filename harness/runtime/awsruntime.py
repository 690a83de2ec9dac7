"""What the AWS Python runtime itself provides, and its stand-in on this machine.

On AWS a python3.13 function sees the standard library, its package
(/var/task), its layers (/opt/python...) and what the runtime ships in
/var/lang/lib/python3.13/site-packages: the runtime interface client and the
SDK. Nothing else. Here that site-packages directory is built once by the
project's setup (`python -m harness runtime-env`, run by `make setup`) with
pip from PyPI, for the runtime's Python and Lambda's platform, and bind-mounted
read-only into every sandbox, over the interpreter of the declared runtime's
version (harness.runtime.interpreters). The harness venv is never visible.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from . import interpreters, userland

REPO = Path(__file__).resolve().parents[2]
RUNTIME_ENV_DIR = REPO / "build" / "lambda-runtime"

# The SDK each managed runtime ships. Source: "Runtime-included SDK versions",
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html#python-sdk-included
# (the table as published in 2024; the page now says the version "depends on the
# runtime version and your AWS Region" and to print boto3.__version__ in a
# function to see it). Update a row when a function on your account prints another.
# AWS does not publish the runtime interface client's version inside its images,
# so the harness's own awslambdaric range stands in for it.
SDK_VERSIONS: dict[str, dict[str, str]] = {
    "python3.10": {"boto3": "1.34.42", "botocore": "1.34.42"},
    "python3.11": {"boto3": "1.34.42", "botocore": "1.34.42"},
    "python3.12": {"boto3": "1.34.42", "botocore": "1.34.42"},
    # not in the 2024 table; the page now says to print boto3.__version__ in a function: the same stand-in
    "python3.13": {"boto3": "1.34.42", "botocore": "1.34.42"},
}
RIC_REQUIREMENT = "awslambdaric>=3,<5"
SDK_SOURCE = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html#python-sdk-included"

# The sandbox's fixed paths and user, as on AWS.
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
LANG_DIR = "/var/lang"
SANDBOX_USER = "sbx_user1051"     # uid 993, gid 990 on AWS (not documented by AWS; observed)
SANDBOX_UID = 993
SANDBOX_GID = 990

# The bootstrap the runtime runs: sys.path in AWS's order for 3.11+
# (https://docs.aws.amazon.com/lambda/latest/dg/python-image.html: /var/task first,
# then the layers, then the runtime's site-packages, then /var/runtime).
BOOTSTRAP = '''\
"""Lambda bootstrap (rollout harness stand-in): AWS's sys.path order, then the RIC."""
import os
import sys

_py = "python%d.%d" % sys.version_info[:2]
_front = [os.environ["LAMBDA_TASK_ROOT"], "/opt/python/lib/%s/site-packages" % _py, "/opt/python"]
sys.path[:] = _front + [p for p in sys.path if p not in _front and p != os.path.dirname(__file__)]
_site = "/var/lang/lib/%s/site-packages" % _py
if _site not in sys.path:     # a Debian-built CPython's site.py names dist-packages instead
    sys.path.append(_site)
sys.path.insert(sys.path.index(_site) + 1, "/var/runtime")

from awslambdaric.__main__ import main

main([sys.argv[0], sys.argv[1]])
'''


class RuntimeEnvError(RuntimeError):
    """The runtime environment cannot be built."""


@dataclass(frozen=True)
class RuntimeEnv:
    runtime: str              # declared, e.g. python3.13
    python: str               # the interpreter's X.Y, always the declared runtime's
    site_packages: Path       # bound at /var/lang/lib/pythonX.Y/site-packages
    runtime_dir: Path         # bound at /var/runtime (the bootstrap)
    versions: dict
    locale_dir: Path | None = None   # bound at /usr/lib/locale: en_US.UTF-8, as LANG says
    interpreter: interpreters.Interpreter | None = None   # its prefix is bound at /var/lang
    userland: Path | None = None     # build/userland/<key>: bound at /usr and /etc


def host_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def sdk_for(runtime: str) -> dict[str, str]:
    if runtime in SDK_VERSIONS:
        return SDK_VERSIONS[runtime]
    known = ", ".join(sorted(SDK_VERSIONS))
    raise RuntimeEnvError(f"no runtime-included SDK versions recorded for runtime {runtime!r}; "
                          f"known: {known} (add a row to SDK_VERSIONS in {__file__})")


def env_dir(runtime: str, base: Path = RUNTIME_ENV_DIR) -> Path:
    return base / runtime


def ensure_runtime_env(runtime: str, *, base: Path = RUNTIME_ENV_DIR,
                       interpreter: interpreters.Interpreter | None = None) -> RuntimeEnv:
    """The built environment for runtime on an interpreter of its version; builds it (pip, PyPI) when
    missing. Safe across processes. RuntimeEnvError (one line) when no such interpreter exists."""
    sdk = sdk_for(runtime)
    try:
        interp = interpreter or interpreters.find(runtime)
    except interpreters.InterpreterMissing as e:
        raise RuntimeEnvError(str(e)) from None
    root = env_dir(runtime, base)
    stamp = root / "versions.json"
    wanted = {**sdk, "awslambdaric": RIC_REQUIREMENT, "python": interp.minor, "layout": 4}
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock", timeout=600):
        current = json.loads(stamp.read_text()) if stamp.exists() else None
        locale_missing = (not (root / "locale" / "en_US.UTF-8").is_dir()
                          and Path("/usr/share/i18n/locales/en_US").exists())
        if current is None or current.get("wanted") != wanted or locale_missing:
            _build(root, sdk, wanted)
        versions = json.loads(stamp.read_text())["installed"]
    locale = root / "locale"
    return RuntimeEnv(runtime=runtime, python=interp.minor, site_packages=root / "site-packages",
                      runtime_dir=root / "runtime", versions=versions,
                      locale_dir=locale if (locale / "en_US.UTF-8").is_dir() else None,
                      interpreter=interp, userland=userland.ensure(interp.root, interp.prefix))


def _build(root: Path, sdk: dict[str, str], wanted: dict) -> None:
    tmp = root.with_name(root.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    site = tmp / "site-packages"
    # for the runtime's Python and Lambda's platform, whatever the host runs (AWS's own advice)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
           "--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", wanted["python"],
           "--only-binary=:all:", "--target", str(site), f"boto3=={sdk['boto3']}", f"botocore=={sdk['botocore']}", RIC_REQUIREMENT]
    print(f"building the Lambda runtime environment in {root} (pip, PyPI)", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeEnvError(f"building the Lambda runtime environment failed: {e}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeEnvError("building the Lambda runtime environment failed: `" + " ".join(cmd[2:]) +
                              "`: " + " | ".join(tail))
    _build_locale(tmp / "locale")
    (tmp / "runtime").mkdir(parents=True)
    (tmp / "runtime" / "bootstrap.py").write_text(BOOTSTRAP)
    installed = _installed_versions(site)
    (tmp / "versions.json").write_text(json.dumps({"wanted": wanted, "installed": installed}, indent=1))
    for dirpath, dirnames, filenames in os.walk(tmp):   # the sandbox user reads it
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644 if not name.endswith(".so") else 0o755)
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)


def _build_locale(dest: Path) -> None:
    """en_US.UTF-8 (LANG on AWS) compiled with glibc's localedef, plus the host's C.utf8.

    Without it Python would coerce the locale and set LC_CTYPE, a variable AWS never sets.
    The sources come from Debian's `locales` package (`make setup` installs it).
    """
    dest.mkdir(parents=True)
    c_utf8 = Path("/usr/lib/locale/C.utf8")
    if c_utf8.is_dir():
        shutil.copytree(c_utf8, dest / "C.utf8")
    try:
        proc = subprocess.run(["localedef", "-i", "en_US", "-f", "UTF-8", str(dest / "en_US.UTF-8")],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"warning: en_US.UTF-8 not built for the Lambda sandbox: {e}", file=sys.stderr)
        return
    if proc.returncode != 0 or not (dest / "en_US.UTF-8").is_dir():
        print("warning: en_US.UTF-8 not built for the Lambda sandbox (install Debian's `locales`): "
              + (proc.stderr.strip().splitlines() or [""])[-1], file=sys.stderr)


def _installed_versions(site: Path) -> dict[str, str]:
    out = {}
    for info in sorted(site.glob("*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        out[name.lower().replace("_", "-")] = version
    return out


def aws_environment(*, runtime: str, handler: str, name: str, memory_mb: int, region: str,
                    log_stream: str, api_address: str, credentials: dict[str, str],
                    function_env: dict[str, str]) -> dict[str, str]:
    """The process environment AWS defines for a Python function, plus the function's own variables.

    Reserved and runtime-set variables, with the python3.11 base image's values:
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html and
    aws/aws-lambda-base-images Dockerfile.python3.11. Nothing of the harness's. A function's own value of
    a variable AWS sets but does not reserve (PATH, LD_LIBRARY_PATH, LANG, TZ, PYTHONPATH, the X-Ray
    variables) is kept, as AWS keeps it; reserved ones never reach the function from its configuration.
    """
    env: dict[str, str] = {}
    env.update({
        "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
                           "/var/task:/var/task/lib:/opt/lib",
        "LANG": "en_US.UTF-8",
        "TZ": ":/etc/localtime",
        "LAMBDA_TASK_ROOT": TASK_ROOT,
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "_HANDLER": handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
    })
    env.update({k: str(v) for k, v in function_env.items() if k not in RESERVED_ENV})
    if "LD_LIBRARY_PATH" in function_env and "/var/lang/lib" not in env["LD_LIBRARY_PATH"].split(":"):
        # the host's CPython, mounted at /var/lang, finds its libpython only there (AWS's is linked to
        # find it anyway): appended, so the function's own directories still come first
        env["LD_LIBRARY_PATH"] += ":/var/lang/lib"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if key in credentials:
            env[key] = credentials[key]
    return env


# Variables AWS sets itself; a function's own environment cannot set them (the
# CreateFunction API refuses them). One list, used by the runtime and by 1A's checks.
RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})

# What a function may legitimately see in its environment beyond its own variables.
AWS_SET = RESERVED_ENV | {"PATH", "LD_LIBRARY_PATH", "LANG", "TZ", "AWS_XRAY_CONTEXT_MISSING",
                          "AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_PORT"}
