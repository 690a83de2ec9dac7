"""The backend's HTTP API as the phase modules use it: real HTTP, bounded polls, clear failures."""
from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

log = logging.getLogger("harness.backend")


class BackendError(AssertionError):
    """The backend answered something other than what the contract says."""


class BackendClient:
    def __init__(self, base_url: str, *, timeout: float = 60) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.request_ids: dict[str, str] = {}     # job id -> the Lambda request id the backend got

    def _json(self, resp: requests.Response, expect: tuple[int, ...]) -> dict:
        if resp.status_code not in expect:
            raise BackendError(f"{resp.request.method} {resp.url} -> {resp.status_code} "
                               f"(expected {'/'.join(map(str, expect))}): {resp.text[:300]}")
        return resp.json()

    def health(self) -> dict:
        return self._json(requests.get(f"{self.base}/api/health", timeout=self.timeout), (200,))

    def version(self) -> dict:
        """The deployed backend's own code hash (CONTRACT B6)."""
        return self._json(requests.get(f"{self.base}/api/version", timeout=self.timeout), (200,))

    def start_test_processing(self, s3_key: str, segment_duration: float | None = None) -> dict:
        body = {"s3_key": s3_key}
        if segment_duration is not None:
            body["segment_duration"] = segment_duration
        return self._remember(self._json(requests.post(f"{self.base}/api/test/lambda-processing", json=body,
                                                       timeout=self.timeout), (200, 202)))

    def upload_complete(self, s3_key: str, job_id: str, **extra) -> dict:
        return self._remember(self._json(requests.post(f"{self.base}/api/upload/complete",
                                                       json={"s3_key": s3_key, "job_id": job_id, **extra},
                                                       timeout=self.timeout), (200, 202)))

    def _remember(self, body: dict) -> dict:
        """The Lambda request id the backend got for a job: how a stuck job is traced to its invocation."""
        if isinstance(body, dict) and body.get("job_id") and body.get("lambda_request_id"):
            self.request_ids[body["job_id"]] = body["lambda_request_id"]
        return body

    def set_processing_method(self, use_lambda: bool | None) -> dict:
        return self._json(requests.post(f"{self.base}/api/admin/processing-method",
                                        json={"use_lambda": use_lambda}, timeout=self.timeout), (200,))

    @contextmanager
    def flag(self, use_lambda: bool | None):
        """Hold USE_LAMBDA_PROCESSING at a value (None: unset, the rollout weight decides) for the duration,
        then restore it.

        The flag is the backend's global state: tests that depend on it take a lock per backend
        URL, so xdist workers sharing one deployed backend (the aws target) do not flip it under
        each other; workers with their own local backend do not wait for each other.
        """
        from filelock import FileLock

        digest = hashlib.sha256(self.base.encode()).hexdigest()[:16]
        lock_dir = Path(tempfile.gettempdir()) / "rollout-backend-flag"
        lock_dir.mkdir(exist_ok=True)
        with FileLock(str(lock_dir / f"{digest}.lock"), timeout=900):
            previous = {"lambda": True, "celery": False}.get(self.health()["processing_method"])
            self.set_processing_method(use_lambda)
            try:
                yield
            finally:
                self.set_processing_method(previous)

    def status(self, job_id: str) -> dict:
        return self._json(requests.get(f"{self.base}/api/jobs/{job_id}/status", timeout=self.timeout), (200,))

    def wait(self, job_id: str, *, timeout: float, interval: float = 0.1, stuck=None) -> dict:
        """Poll the status endpoint until COMPLETED or FAILED; bounded, logging each change.
        stuck(job_id, status, request_id=...) -> reason | None (the target's stuck_reason) fails a job no
        invocation is left to finish, at once, quoting the function's own error."""
        deadline = time.monotonic() + timeout
        last = None
        stuck_since = None
        while True:
            body = self.status(job_id)
            if body.get("status") != last:
                last = body.get("status")
                log.info("job %s: %s", job_id, last)
            if last in ("COMPLETED", "FAILED"):
                return body
            reason = stuck(job_id, last, request_id=self.request_ids.get(job_id)) if stuck is not None else None
            stuck_since = (stuck_since or time.monotonic()) if reason else None
            if reason and time.monotonic() - stuck_since >= 1.0:
                raise AssertionError(reason)
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {last} after {timeout:.0f} s via /api/jobs/{job_id}/status")
            time.sleep(interval)
