"""Step 5A: USE_LAMBDA_PROCESSING picks the path, proven by processing_method and invocation records;
flipping it is the rollback, and a broken Lambda falls back to Celery."""
from __future__ import annotations

import concurrent.futures
import pytest

from harness.backend_client import BackendClient
from harness.invariants import check_job

FIXTURE = "short_3s"


def _submit(target, api: BackendClient, key: str) -> tuple[str, dict]:
    job_id = target.new_job_id()
    return job_id, api.upload_complete(key, job_id)


def _finish(target, api, job_id: str, fixture) -> dict:
    final = api.wait(job_id, timeout=target.stack.function("video_processor").timeout_s + 30,
                     stuck=target.stuck_reason)
    inv = check_job(target, job_id, fixture=fixture, expect="COMPLETED", verify_media=False)
    assert inv.ok, inv.summary()
    return final


@pytest.mark.contract("B4")
@pytest.mark.parametrize("use_lambda,method", [(True, "lambda"), (False, "celery")])
def test_flag_routes_jobs_to_the_chosen_path(target, manifest, evidence, use_lambda, method) -> None:
    fixture = manifest[FIXTURE]
    api = BackendClient(target.backend())
    key = target.upload_file(fixture.path)
    with api.flag(use_lambda):
        assert api.health()["processing_method"] == method
        job_id, started = _submit(target, api, key)
        assert started["processing_method"] == method, started
        final = _finish(target, api, job_id, fixture)
    assert final["processing_method"] == method, f"job ran on {final['processing_method']}, flag said {method}"
    ran = target.invocations_for_job(job_id, expect_some=use_lambda)
    if use_lambda:
        assert ran, f"job {job_id} COMPLETED but the processor has no invocation record for it"
    else:
        assert not ran, f"flag off, yet the processor was invoked for job {job_id} ({len(ran)} records)"
    evidence.add("works", f"USE_LAMBDA_PROCESSING={str(use_lambda).lower()}: job ran on {method} "
                          f"(processing_method and {len(ran)} invocation records agree)")


@pytest.mark.contract("B4")
def test_rollback_drill_flipping_the_flag_mid_flight_loses_no_job(target, manifest, evidence) -> None:
    fixture = manifest["standard_720p"]
    api = BackendClient(target.backend())
    key = target.upload_file(fixture.path)
    with api.flag(True):
        in_flight = [_submit(target, api, key)[0] for _ in range(4)]
        api.set_processing_method(False)   # the rollback, while those jobs run
        after = [_submit(target, api, key)[0] for _ in range(3)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            finals = dict(zip(in_flight + after, pool.map(lambda j: _finish(target, api, j, fixture),
                                                          in_flight + after)))
    assert all(finals[j]["processing_method"] == "lambda" for j in in_flight), \
        {j: finals[j]["processing_method"] for j in in_flight}
    assert all(finals[j]["processing_method"] == "celery" for j in after), \
        {j: finals[j]["processing_method"] for j in after}
    evidence.add("rollback", "drill: flag flipped off with 4 Lambda jobs in flight; all 7 jobs COMPLETED, "
                             "the 3 new ones on Celery")


@pytest.mark.contract("B4")
@pytest.mark.local_only
def test_broken_lambda_falls_back_to_celery(target, manifest, evidence) -> None:
    fixture = manifest[FIXTURE]
    api = BackendClient(target.backend())
    key = target.upload_file(fixture.path)
    with api.flag(True), target.broken_function("video_processor", "missing"):
        job_id, started = _submit(target, api, key)
        assert started["processing_method"] == "celery", f"no fallback with the Lambda deleted: {started}"
        final = _finish(target, api, job_id, fixture)
    assert final["processing_method"] == "celery"
    assert (target.get_job(job_id) or {}).get("fallback_reason"), "the fallback reason was not recorded"
    evidence.add("rollback", "with the processor deleted, /api/upload/complete fell back to Celery and the job completed")
