"""Contract tests: async (Event) retries and reserved concurrency, as on AWS."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from harness.runtime import LambdaRuntime, TooManyRequests
from harness.runtime.testing import make_spec, write_package

APP = """
import time, uuid

INSTANCE = uuid.uuid4().hex   # one per execution environment, as a function would tell them apart
ATTEMPTS = {}

def fail(event, context):
    print("TRACE", context.aws_request_id)
    raise RuntimeError("always fails")

def ok(event, context):
    print("TRACE", context.aws_request_id)
    return "fine"

def flaky(event, context):
    print("TRACE", context.aws_request_id)
    ATTEMPTS[context.aws_request_id] = ATTEMPTS.get(context.aws_request_id, 0) + 1
    if ATTEMPTS[context.aws_request_id] < 2:
        raise RuntimeError("first attempt fails")
    return "second time lucky"

def effect_then_linger(event, context):
    print("EFFECT", flush=True)    # stands for the job record the function writes before it returns
    time.sleep(1.0)
    return "done"

def slow(event, context):
    time.sleep(event.get("s", 0.5))
    return INSTANCE
"""


def traces(rt: LambdaRuntime, name: str = "fn") -> list[str]:
    return [line.split("TRACE ", 1)[1] for line in rt.logs(name) if "TRACE " in line]


@pytest.fixture()
def code(tmp_path: Path) -> Path:
    d = tmp_path / "code"
    write_package(d, {"app.py": APP})
    return d


@pytest.fixture()
def rt(tmp_path: Path):
    runtime = LambdaRuntime(tmp_path / "rt", async_retry_delays=(0.1, 0.1))
    yield runtime
    runtime.close()


def test_async_failure_runs_three_times_same_request_id(tmp_path: Path, rt: LambdaRuntime, code: Path) -> None:
    res = rt.invoke(make_spec(code, "app.fail"), b"{}", invocation_type="Event")
    assert res.status_code == 202 and res.payload == b"" and res.function_error is None
    assert rt.wait_idle(20)
    assert traces(rt) == [res.request_id] * 3
    recs = rt.records("fn")
    assert [r.attempt for r in recs] == [1, 2, 3]
    assert {r.request_id for r in recs} == {res.request_id}
    assert all(r.outcome == "error" and r.invocation_type == "Event" for r in recs)
    assert recs[1].started - recs[0].ended >= 0.09   # the retry delay is honoured


def test_async_success_runs_once_and_retry_can_succeed(tmp_path: Path, rt: LambdaRuntime, code: Path) -> None:
    rt.invoke(make_spec(code, "app.ok", name="ok"), b"{}", invocation_type="Event")
    rt.invoke(make_spec(code, "app.flaky", name="flaky"), b"{}", invocation_type="Event")
    assert rt.wait_idle(20)
    assert len(traces(rt, "ok")) == 1 and len(traces(rt, "flaky")) == 2
    assert [r.outcome for r in rt.records("flaky")] == ["error", "success"]


def test_async_timeout_is_retried(tmp_path: Path, rt: LambdaRuntime, code: Path) -> None:
    rt.invoke(make_spec(code, "app.slow", timeout_s=0.3), b'{"s": 5}', invocation_type="Event")
    assert rt.wait_idle(20)
    recs = rt.records("fn")
    assert [r.outcome for r in recs] == ["timeout"] * 3 and len({r.pid for r in recs}) == 3


def test_reserved_concurrency_throttles_sync(rt: LambdaRuntime, code: Path) -> None:
    spec = make_spec(code, "app.slow", reserved_concurrency=1)
    rt.invoke(spec, b'{"s": 0}')                     # warm it up so the busy window is predictable
    results: list[object] = []
    t = threading.Thread(target=lambda: results.append(rt.invoke(spec, b'{"s": 1.0}')))
    t.start()
    deadline = time.monotonic() + 5
    while not rt.in_flight("fn") and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(TooManyRequests) as exc:
        rt.invoke(spec, b'{"s": 0}')
    assert exc.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    t.join(10)
    assert results and results[0].function_error is None
    assert [r.outcome for r in rt.records("fn")].count("throttled") == 1
    rt.invoke(spec, b'{"s": 0}')                     # free again once the first call finished


def test_reserved_concurrency_zero_throttles_everything(tmp_path: Path, code: Path) -> None:
    """Since 2021-08 AWS sends an async event of a function with reserved concurrency 0 to its on-failure
    destination at once, without retries (invocation-async-retain-records.html)."""
    import dataclasses

    sent: list[dict] = []
    with LambdaRuntime(tmp_path / "z", deliver=lambda dest, body: sent.append(json.loads(body))) as rt:
        spec = dataclasses.replace(make_spec(code, "app.ok", reserved_concurrency=0), on_failure="arn:q")
        with pytest.raises(TooManyRequests):
            rt.invoke(spec, b"{}")
        res = rt.invoke(spec, b'{"job_id": "z"}', invocation_type="Event")
        assert rt.wait_idle(5)
        assert traces(rt) == []
        assert {r.outcome for r in rt.records("fn")} == {"throttled"}
    assert [r["requestContext"] for r in sent] == [{
        "requestId": res.request_id, "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST",
        "condition": "ZeroReservedConcurrency", "approximateInvokeCount": 0}]
    assert "responsePayload" not in sent[0] and sent[0]["requestPayload"] == {"job_id": "z"}


def _occupy(rt: LambdaRuntime, spec, seconds: float) -> threading.Thread:
    """Hold the function's only slot with a synchronous call for about `seconds`."""
    t = threading.Thread(target=lambda: rt.invoke(spec, json.dumps({"s": seconds}).encode()), daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not rt.in_flight(spec.name) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rt.in_flight(spec.name) == 1
    return t


def test_a_throttled_async_event_stays_queued_and_runs_when_a_slot_frees(rt: LambdaRuntime, code: Path) -> None:
    spec = make_spec(code, "app.slow", reserved_concurrency=1)
    rt.invoke(spec, b'{"s": 0}')                          # warm, so the busy window is predictable
    blocker = _occupy(rt, spec, 1.5)
    res = rt.invoke(spec, b'{"s": 0, "queued": 1}', invocation_type="Event")
    assert res.status_code == 202                           # accepted, not refused, while throttled
    assert rt.wait_idle(20)
    blocker.join(10)
    recs = sorted(rt.records("fn"), key=lambda r: r.started)
    mine = [r for r in recs if b"queued" in r.event]
    assert [r.outcome for r in mine] == ["success"] and mine[0].request_id == res.request_id
    assert mine[0].started >= recs[-2].ended - 0.01         # ran once the blocker was done


def test_an_async_event_throttled_past_its_maximum_age_goes_to_the_destination(tmp_path: Path, code: Path) -> None:
    """Throttled events are retried (with backoff) only until MaximumEventAgeInSeconds; then Lambda sends
    the on-failure record with condition EventAgeExceeded. The function never ran: no response part."""
    import dataclasses

    sent: list[tuple[float, dict]] = []
    with LambdaRuntime(tmp_path / "age", deliver=lambda dest, body: sent.append((time.monotonic(),
                                                                                 json.loads(body)))) as rt:
        spec = dataclasses.replace(make_spec(code, "app.slow", reserved_concurrency=1), on_failure="arn:q",
                                   max_event_age_s=1)
        rt.invoke(spec, b'{"s": 0}')
        blocker = _occupy(rt, spec, 4.0)
        t0 = time.monotonic()
        res = rt.invoke(spec, b'{"s": 0, "job_id": "old"}', invocation_type="Event")
        assert rt.wait_idle(10)
        blocker.join(10)
        recs = [r for r in rt.records("fn") if b"old" in r.event]
    assert [(r.outcome, r.request_id) for r in recs] == [("throttled", res.request_id)]
    assert len(sent) == 1
    when, record = sent[0]
    assert 0.9 <= when - t0 < 3.0, f"delivered {when - t0:.2f} s after the invoke, the maximum age is 1 s"
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"s": 0, "job_id": "old"}
    assert "responsePayload" not in record and "responseContext" not in record


def test_a_throttled_event_runs_with_the_configuration_of_the_moment(rt: LambdaRuntime, code: Path) -> None:
    """Raising the reserved concurrency lets a queued event run before the call that held the slot ends."""
    import dataclasses

    spec = make_spec(code, "app.slow", reserved_concurrency=1)
    rt.invoke(spec, b'{"s": 0}')
    blocker = _occupy(rt, spec, 4.0)
    config = {"now": spec}
    t0 = time.monotonic()
    rt.invoke(spec, b'{"s": 0, "queued": 1}', invocation_type="Event", refresh=lambda: config["now"])
    time.sleep(0.3)
    assert not [r for r in rt.records("fn") if b"queued" in r.event], "ran although the only slot was busy"
    config["now"] = dataclasses.replace(spec, reserved_concurrency=2)
    rt.configuration_changed("fn")                          # what PutFunctionConcurrency does
    assert rt.wait_idle(10)
    ran = [r for r in rt.records("fn") if b"queued" in r.event]
    assert [r.outcome for r in ran] == ["success"]
    assert blocker.is_alive(), "the queued event only ran after the slot freed, not after the change"
    assert time.monotonic() - t0 < 3.0
    blocker.join(10)


def test_an_attempt_is_running_or_recorded_once_its_effects_show(rt: LambdaRuntime, code: Path) -> None:
    """A job record written by the function is visible before the attempt ends; wait_recorded bridges
    that window, so 'no invocation recorded' never follows a COMPLETED job."""
    rt.invoke(make_spec(code, "app.effect_then_linger"), b'{"job_id": "j-77"}', invocation_type="Event")
    deadline = time.monotonic() + 20
    while not any("EFFECT" in line for line in rt.logs("fn")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any("EFFECT" in line for line in rt.logs("fn"))
    assert rt.records("fn") == []                           # the effect shows, the attempt has not ended
    assert rt.wait_recorded("fn", b"j-77", timeout=10)
    assert [r.outcome for r in rt.records("fn")] == ["success"]
    assert rt.wait_recorded("fn", b"j-77", timeout=0)      # nothing running: at once
    assert rt.wait_idle(5)


def test_async_events_queue_at_the_limit(rt: LambdaRuntime, code: Path) -> None:
    spec = make_spec(code, "app.slow", reserved_concurrency=1)
    for _ in range(3):
        rt.invoke(spec, b'{"s": 0.3}', invocation_type="Event")
    assert rt.wait_idle(20)
    recs = sorted(rt.records("fn"), key=lambda r: r.started)
    assert [r.outcome for r in recs] == ["success"] * 3
    for a, b in zip(recs, recs[1:]):
        assert b.started >= a.ended - 0.01      # never two at once
    assert len({r.pid for r in recs}) == 1      # and one warm instance served them all


def test_concurrent_sync_invokes_start_extra_instances(rt: LambdaRuntime, code: Path) -> None:
    spec = make_spec(code, "app.slow")
    pids: list[int] = []
    threads = [threading.Thread(target=lambda: pids.append(json.loads(rt.invoke(spec, b'{"s": 0.5}').payload)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(set(pids)) == 3
    again = {json.loads(rt.invoke(spec, b'{"s": 0}').payload) for _ in range(3)}
    assert again <= set(pids)   # idle warm instances are reused


@pytest.mark.parametrize("retries", [0, 1])
def test_async_attempts_follow_the_declared_maximum_retry_attempts(tmp_path: Path, rt: LambdaRuntime, code: Path,
                                                                    retries: int) -> None:
    """MaximumRetryAttempts from terraform's aws_lambda_function_event_invoke_config, not a constant."""
    import dataclasses

    spec = dataclasses.replace(make_spec(code, "app.fail", name=f"r{retries}"), max_retry_attempts=retries)
    rt.invoke(spec, b"{}", invocation_type="Event")
    assert rt.wait_idle(20)
    assert [r.attempt for r in rt.records(f"r{retries}")] == list(range(1, retries + 2))


def test_an_event_that_fails_every_attempt_goes_to_the_on_failure_destination(tmp_path: Path, code: Path) -> None:
    """The record has the shape AWS documents for destinations (invocation-async-retain-records.html)."""
    import dataclasses

    sent: list[tuple[str, dict]] = []
    arn = "arn:aws:sqs:us-east-1:123456789012:failures"
    with LambdaRuntime(tmp_path / "d", async_retry_delays=(0.1, 0.1),
                       deliver=lambda dest, body: sent.append((dest, json.loads(body)))) as rt:
        spec = dataclasses.replace(make_spec(code, "app.fail", name="dst"), on_failure=arn)
        res = rt.invoke(spec, b'{"job_id": "j1"}', invocation_type="Event")
        ok = dataclasses.replace(make_spec(code, "app.ok", name="dst-ok"), on_failure=arn)
        rt.invoke(ok, b"{}", invocation_type="Event")
        assert rt.wait_idle(20)
    assert len(sent) == 1, sent
    dest, record = sent[0]
    assert dest == arn
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload", "responseContext",
                           "responsePayload"}
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
    assert record["requestContext"] == {"requestId": res.request_id,
                                        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:dst:$LATEST",
                                        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["requestPayload"] == {"job_id": "j1"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "always fails"
