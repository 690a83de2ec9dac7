"""Step 5A: USE_LAMBDA_PROCESSING picks the path, proven by processing_method and invocation records;
flipping it is the rollback, and a broken Lambda falls back to Celery."""
from __future__ import annotations

import concurrent.futures

import pytest

from harness.judge.invariants import check_job
from harness.targets.backend_client import BackendClient

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
@pytest.mark.local_only
def test_rollback_drill_env_var_and_restart_mid_flight_loses_no_job(target, manifest, evidence) -> None:
    """The catalogue's rollback, done as an operator does it: USE_LAMBDA_PROCESSING=false in the backend's
    environment and a restart of its web process, while Lambda jobs are in flight. (local_only: the harness
    cannot restart a backend deployed elsewhere.)"""
    fixture = manifest["standard_720p"]
    api = BackendClient(target.backend())
    key = target.upload_file(fixture.path)
    with api.flag(True):
        in_flight = [_submit(target, api, key)[0] for _ in range(4)]
        states = [(target.get_job(j) or {}).get("status") for j in in_flight]
        target.restart_backend(USE_LAMBDA_PROCESSING="false")
        try:
            assert api.health()["processing_method"] == "celery", "the restarted backend did not read the env var"
            after = [_submit(target, api, key)[0] for _ in range(3)]
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                finals = dict(zip(in_flight + after, pool.map(lambda j: _finish(target, api, j, fixture),
                                                              in_flight + after)))
        finally:
            target.restart_backend(USE_LAMBDA_PROCESSING="true")
    assert all(finals[j]["processing_method"] == "lambda" for j in in_flight), \
        {j: finals[j]["processing_method"] for j in in_flight}
    assert all(finals[j]["processing_method"] == "celery" for j in after), \
        {j: finals[j]["processing_method"] for j in after}
    evidence.add("rollback", f"drill: USE_LAMBDA_PROCESSING=false and a backend restart with 4 Lambda jobs in "
                             f"flight ({', '.join(map(str, states))} at the restart); all 7 jobs COMPLETED, the 3 "
                             f"submitted after it on Celery")


@pytest.mark.contract("B4")
@pytest.mark.local_only
def test_terraform_rollback_drill_deleting_the_processor_mid_flight(target, manifest, evidence) -> None:
    """The other rollback the catalogue prints, `terraform destroy -target=aws_lambda_function.video_processor`,
    performed for real on the embedded stack (DeleteFunction) while jobs are in flight: uploads after it must
    complete through the Celery fallback, and no job may be lost or stuck."""
    fixture = manifest["standard_720p"]
    api = BackendClient(target.backend())
    key = target.upload_file(fixture.path)
    name = target.stack.function("video_processor").name
    with api.flag(True):
        in_flight = [_submit(target, api, key)[0] for _ in range(3)]
        with target.broken_function("video_processor", "missing"):
            gone = target.lambda_.list_functions()["Functions"]
            assert name not in {f["FunctionName"] for f in gone}, f"{name} still deployed after DeleteFunction"
            after = [_submit(target, api, key)[0] for _ in range(3)]
            finals = {j: api.wait(j, timeout=target.stack.function("video_processor").timeout_s + 30,
                                  stuck=target.stuck_reason) for j in in_flight + after}
    final_states = {j: f["status"] for j, f in finals.items()}
    assert set(final_states.values()) <= {"COMPLETED", "FAILED"}, f"jobs not in a final state: {final_states}"
    for j in after:
        assert finals[j]["processing_method"] == "celery" and finals[j]["status"] == "COMPLETED", \
            f"{j} submitted after the function was deleted: {finals[j]['processing_method']} {finals[j]['status']}"
        assert (target.get_job(j) or {}).get("fallback_reason"), f"{j}: the fallback reason was not recorded"
    for j in in_flight + after:
        expect = final_states[j]
        inv = check_job(target, j, fixture=fixture if expect == "COMPLETED" else None, expect=expect,
                        verify_media=False)
        assert inv.ok, inv.summary()
    done = sum(1 for j in in_flight if final_states[j] == "COMPLETED")
    evidence.add("rollback", f"drill: DeleteFunction on {name} (terraform destroy -target) with 3 jobs in flight "
                             f"({done} COMPLETED, {3 - done} FAILED, none stuck); the 3 uploads after it "
                             f"COMPLETED through the Celery fallback")


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
