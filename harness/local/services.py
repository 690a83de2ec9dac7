"""The backend side on loopback: a real redis-server, a real Celery worker, uvicorn serving the app.

All three point at the embedded AWS through standard AWS env vars, and are
stopped at the end of the run, after failures too.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from harness.local.net import free_port

REPO = Path(__file__).resolve().parents[2]


class ServiceError(RuntimeError):
    """A backend service did not start; the message names it and shows its last output."""


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


@dataclass
class Process:
    name: str
    proc: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)


def _spawn(name: str, cmd: list[str], env: dict, log_dir: Path, cwd: Path = REPO) -> Process:
    log = log_dir / f"{name}.log"
    fh = open(log, "ab")   # a restarted service keeps its earlier output
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    return Process(name, proc, log)


def _spawn_web(port: int, env: dict, log_dir: Path, cwd: Path) -> Process:
    """uvicorn serving the backend app on loopback (started, and restarted with a new environment)."""
    return _spawn("uvicorn", [sys.executable, "-m", "uvicorn", "backend.app:app", "--host", "127.0.0.1",
                              "--port", str(port), "--log-level", "warning"], env, log_dir, cwd=cwd)


def redis_binary() -> str:
    exe = shutil.which("redis-server")
    if not exe:
        raise ServiceError("redis-server is not installed; it is the real Celery broker. "
                           "Run `make setup` (installs Debian's redis-server) or apt-get install redis-server")
    return exe


@dataclass
class Backend:
    url: str
    env: dict
    processes: list[Process] = field(default_factory=list)
    log_dir: Path | None = None
    cwd: Path = REPO

    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def close(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        if self.log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def logs(self, name: str) -> str:
        return _tail(self.process(name).log, 200)

    def restart_web(self, timeout: float = 60, **env_changes: str) -> None:
        """What an operator does on Railway to change a setting: set the env var, restart the web process.

        uvicorn stops (SIGTERM: in-flight requests finish) and starts again on the same port with the new
        environment; redis and the Celery worker keep running, so queued Celery work is not lost.
        """
        old = self.process("uvicorn")
        self.env = {**self.env, **env_changes}
        old.stop()
        new = _spawn_web(int(self.url.rsplit(":", 1)[1]), self.env, old.log.parent, self.cwd)
        self.processes[self.processes.index(old)] = new
        _wait_http(f"{self.url}/api/health", new, timeout)


def failure_queue_url(stack) -> str:
    """The processor's on-failure destination queue on this stack, if terraform declares one."""
    arn = stack.spec.function("video_processor").on_failure
    if not arn:
        return ""
    return stack.client("sqs").get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]


def backend_env(stack, *, redis_url: str, use_lambda: bool = True, backend_src: Path | None = None) -> dict:
    import imageio_ffmpeg

    spec = stack.spec
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    env.update({
        "AWS_ENDPOINT_URL": stack.endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": spec.region, "AWS_DEFAULT_REGION": spec.region,
        "AWS_BUCKET_NAME": spec.bucket, "DYNAMODB_TABLE_NAME": spec.table.name,
        "LAMBDA_FUNCTION_NAME": spec.function("video_processor").name,
        "PROCESSING_STALE_AFTER_SECONDS": str(int(spec.function("video_processor").timeout_s) + 60),
        "FAILURE_QUEUE_URL": failure_queue_url(stack),
        "USE_LAMBDA_PROCESSING": "true" if use_lambda else "false", "ENABLE_TEST_ENDPOINTS": "true",
        "REDIS_URL": redis_url, "FFMPEG_PATH": imageio_ffmpeg.get_ffmpeg_exe(),
        "PYTHONPATH": os.pathsep.join([str(p) for p in (backend_src, REPO, REPO / "lambda_src") if p]),
    })
    for name in spec.parameters:                 # terraform/rollout.tf: the backend reads, never writes
        if name.endswith("/rollout/lambda-weight"):
            env["ROLLOUT_WEIGHT_PARAMETER"] = name
        elif name.endswith("/rollout/salt"):
            env["ROLLOUT_SALT_PARAMETER"] = name
    env["ROLLOUT_CACHE_SECONDS"] = "1"          # 5C's drill steps last seconds; the production default is 5
    if "video_processor_test" in spec.functions:
        env["LAMBDA_TEST_FUNCTION_NAME"] = spec.function("video_processor_test").name
    return env


def start_backend(stack, *, with_worker: bool = True, use_lambda: bool = True, timeout: float = 60,
                  backend_src: Path | None = None) -> Backend:
    log_dir = Path(tempfile.mkdtemp(prefix="rollout-backend-"))
    redis_port, api_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = backend_env(stack, redis_url=redis_url, use_lambda=use_lambda, backend_src=backend_src)
    backend = Backend(url=f"http://127.0.0.1:{api_port}", env=env, log_dir=log_dir, cwd=backend_src or REPO)
    try:
        backend.processes.append(_spawn("redis", [redis_binary(), "--port", str(redis_port), "--bind", "127.0.0.1",
                                                  "--save", "", "--appendonly", "no"], env, log_dir))
        _wait_redis(redis_port, backend.process("redis"), timeout)
        if with_worker:
            backend.processes.append(_spawn("celery", [sys.executable, "-m", "celery", "-A", "backend.tasks",
                                                       "worker", "--pool=threads", "--concurrency=2",
                                                       "--loglevel=INFO", "--without-gossip", "--without-mingle",
                                                       "--without-heartbeat"], env, log_dir,
                                            cwd=backend_src or REPO))
        backend.processes.append(_spawn_web(api_port, env, log_dir, backend_src or REPO))
        _wait_http(f"{backend.url}/api/health", backend.process("uvicorn"), timeout)
        if with_worker:
            _wait_celery(backend.process("celery"), timeout)
    except Exception:
        backend.close()
        raise
    return backend


def _wait_redis(port: int, proc: Process, timeout: float) -> None:
    import redis

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise ServiceError(f"redis-server exited with {proc.proc.returncode}:\n{_tail(proc.log)}")
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return
        except redis.exceptions.ConnectionError:
            time.sleep(0.1)
    raise ServiceError(f"redis-server did not answer on port {port} within {timeout:.0f} s")


def _wait_http(url: str, proc: Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise ServiceError(f"{proc.name} exited with {proc.proc.returncode}:\n{_tail(proc.log)}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise ServiceError(f"{proc.name} did not answer {url} within {timeout:.0f} s:\n{_tail(proc.log)}")


def _wait_celery(proc: Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise ServiceError(f"celery worker exited with {proc.proc.returncode}:\n{_tail(proc.log)}")
        if "ready." in _tail(proc.log, 50):
            return
        time.sleep(0.1)
    raise ServiceError(f"celery worker not ready within {timeout:.0f} s:\n{_tail(proc.log)}")
