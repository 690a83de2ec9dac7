"""Routing by weight: stable per job, monotone in the weight, the flag above it, bad values to Celery."""
from __future__ import annotations

import logging
import uuid

import pytest

from backend import rollout

JOBS = [str(uuid.UUID(int=i)) for i in range(4000)]


def test_widening_the_weight_only_ever_adds_jobs_to_lambda() -> None:
    at = {w: {j for j in JOBS if rollout.to_lambda(j, w, "salt")} for w in (100, 500, 2500, 5000, 10000)}
    assert at[100] <= at[500] <= at[2500] <= at[5000] <= at[10000] == set(JOBS)
    assert not {j for j in JOBS if rollout.to_lambda(j, 0, "salt")}


@pytest.mark.parametrize("weight", [500, 2500, 5000])
def test_the_share_of_jobs_on_lambda_follows_the_weight(weight: int) -> None:
    share = sum(rollout.to_lambda(j, weight, "salt") for j in JOBS) / len(JOBS)
    assert abs(share - weight / 10000) < 0.03, share


def test_the_salt_reshuffles_which_jobs_go_first_and_a_job_keeps_its_path() -> None:
    a = {j for j in JOBS if rollout.to_lambda(j, 2500, "a")}
    b = {j for j in JOBS if rollout.to_lambda(j, 2500, "b")}
    assert a != b and a == {j for j in JOBS if rollout.to_lambda(j, 2500, "a")}


def test_the_flag_is_above_the_weight() -> None:
    assert rollout.decide("j", False, "10000", "s") == rollout.Route("celery", 0, "kill-switch")
    assert rollout.decide("j", True, "0", "s") == rollout.Route("lambda", 10000, "flag")
    assert rollout.decide("j", None, "10000", "s") == rollout.Route("lambda", 10000, "weight")


@pytest.mark.parametrize("raw", ["12.5", "ten", "-1", "10001", ""])
def test_a_malformed_weight_routes_to_celery_and_logs_one_line_naming_it(raw: str, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="backend.rollout"):
        route = rollout.decide("job-1", None, raw, "s")
    assert route == rollout.Route("celery", 0, "malformed-weight")
    [record] = caplog.records
    assert "job-1" in record.getMessage() and (repr(raw) in record.getMessage() or raw in record.getMessage())


def test_an_unreadable_weight_routes_to_celery() -> None:
    assert rollout.decide("j", None, None, "s") == rollout.Route("celery", 0, "unreadable-weight")


def test_the_reader_caches_for_its_ttl_and_survives_an_ssm_failure() -> None:
    class Ssm:
        def __init__(self) -> None:
            self.calls, self.fail = 0, False

        def get_parameters(self, Names):
            self.calls += 1
            if self.fail:
                raise RuntimeError("AccessDenied")
            return {"Parameters": [{"Name": Names[0], "Value": "2500"}, {"Name": Names[1], "Value": "pepper"}]}

    ssm = Ssm()
    reader = rollout.WeightReader(ssm, "/p/rollout/lambda-weight", "/p/rollout/salt", ttl=60)
    assert reader.current() == ("2500", "pepper") and reader.current() == ("2500", "pepper") and ssm.calls == 1
    ssm.fail = True
    assert rollout.WeightReader(ssm, "/w", "/s").current() == (None, "")
