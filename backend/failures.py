"""Consumes the processor's on-failure destination: a job whose async invocation failed for good
(an OOM kill, a crash, the hard timeout on every attempt) is marked FAILED with Lambda's reason.

Why the backend and not a second function: the backend already owns the job records' lifecycle
(it writes QUEUED, reports status, falls back to Celery), it runs all the time, and the local
stack has no event-source mappings to drive a consumer function. One thread long-polls the queue;
each record becomes one conditional update (only a QUEUED or PROCESSING job is touched, so a
late COMPLETED is never overwritten), and the message is deleted once handled.

A function killed after a segment landed could not delete its outputs (CONTRACT.md F3: a failed
job leaves nothing under processed/<job_id>/), so the consumer deletes them, then marks the job
FAILED: every attempt has ended by the time Lambda sends the record.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from video_processor.core import PROCESSING, QUEUED, delete_prefix, job_output_prefix

from backend.aws import JobStore

log = logging.getLogger("backend.failures")


def reason_of(record: dict) -> str:
    """error_message for the job (CONTRACT.md F1/F4): Lambda's errorType is the reason class. An event
    that never ran (too old while throttled, or reserved concurrency 0) has no response: its reason is
    the condition itself."""
    context = record.get("requestContext") or {}
    condition = context.get("condition", "failed")
    response = record.get("responsePayload")
    if isinstance(response, dict):
        etype = response.get("errorType") or "Lambda.Unknown"
        message = " ".join(str(response.get("errorMessage") or "").split())
    elif response is None and "responseContext" not in record:
        etype, message = f"Lambda.{condition}", "the function never ran this event"
    else:
        etype, message = "Lambda.Unknown", " ".join(str(response or "").split())
    return (f"{etype}: {message} ({condition} after "
            f"{context.get('approximateInvokeCount', '?')} attempts)")[:1000]


def handle(record: dict, store: JobStore, cleanup: Callable[[str], int] | None = None) -> str | None:
    """Mark the record's job FAILED if it is still QUEUED or PROCESSING, deleting its partial outputs
    first (so FAILED always means no outputs); returns the job id touched."""
    payload = record.get("requestPayload")
    job_id = payload.get("job_id") if isinstance(payload, dict) else None
    if not isinstance(job_id, str):
        log.warning("on-failure record without a job id: %s", str(record)[:300])
        return None
    job = store.get(job_id) or {}
    status = job.get("status")
    if status not in (PROCESSING, QUEUED):
        return None                      # finished (or unknown): a late record never touches it
    if cleanup is not None:
        deleted = cleanup(job_id)
        if deleted:
            log.info("job %s: deleted %d partial output(s)", job_id, deleted)
    reason = reason_of(record)
    for only_if in (status, PROCESSING, QUEUED):
        if store.update(job_id, {"status": "FAILED", "error_message": reason}, only_if_status=only_if):
            log.info("job %s: FAILED from the on-failure destination: %s", job_id, reason)
            return job_id
    return None


def output_cleaner(s3: Any, bucket: str) -> Callable[[str], int]:
    """Deletes one job's outputs (processed/<job_id>/) from the bucket; returns how many objects."""
    return lambda job_id: delete_prefix(s3, bucket, job_output_prefix(job_id))


class FailureConsumer:
    def __init__(self, sqs: Any, queue_url: str, store: JobStore, *, wait_s: int = 1,
                 cleanup: Callable[[str], int] | None = None) -> None:
        self.sqs, self.queue_url, self.store, self.wait_s = sqs, queue_url, store, wait_s
        self.cleanup = cleanup
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        resp = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                        WaitTimeSeconds=self.wait_s)
        handled = 0
        for msg in resp.get("Messages", []):
            try:
                handle(json.loads(msg["Body"]), self.store, self.cleanup)
            except ValueError:
                log.warning("on-failure message is not JSON: %s", msg.get("Body", "")[:300])
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=msg["ReceiptHandle"])
            handled += 1
        return handled

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("polling %s failed", self.queue_url)
                self._stop.wait(1.0)

    def start(self) -> FailureConsumer:
        self._thread = threading.Thread(target=self._run, name="failure-consumer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_s + 5)
