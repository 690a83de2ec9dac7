"""R1, R2 and R3 from the wire (harness.judge.writers) and the barrier that forces the race."""
from __future__ import annotations

import threading
import time

from harness.judge.writers import finished_once, no_write_after, one_delivery_wrote
from harness.local.faults import FaultRule
from harness.local.wire import WireEntry, error_code, is_write

JOB = "0b6f4a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


def w(op: str, resource: str, request: str | None, status: int = 200, attempt: int = 1, at: float = 0.0,
      service: str = "s3") -> WireEntry:
    return WireEntry(at, service, op, resource, status, None if status < 300 else "ConditionalCheckFailedException",
                     "fn", "i1", request, attempt)


def test_one_delivery_writing_while_the_other_is_refused_is_r1() -> None:
    entries = [w("UpdateItem", f'{{"video_id": "{JOB}"}}', "a", service="dynamodb"),
               w("UpdateItem", f'{{"video_id": "{JOB}"}}', "b", status=400, service="dynamodb"),
               w("PutObject", f"processed/{JOB}/segment_000.mp4", "a")]
    assert one_delivery_wrote(entries, JOB) == []


def test_two_deliveries_writing_the_same_keys_is_named_with_both_request_ids() -> None:
    entries = [w("PutObject", f"processed/{JOB}/segment_000.mp4", "a"),
               w("PutObject", f"processed/{JOB}/segment_000.mp4", "b")]
    [line] = one_delivery_wrote(entries, JOB)
    assert line.startswith(f"job {JOB}: 2 deliveries wrote, where exactly one may: request a made 1 write(s)")
    assert "request b made 1 write(s): PutObject processed/" in line


def test_a_write_after_the_handler_returned_is_named() -> None:
    [line] = one_delivery_wrote([w("PutObject", f"processed/{JOB}/segment_001.mp4", None)], JOB)
    assert "while no invocation was running" in line


def test_a_redelivery_that_writes_anything_breaks_r2() -> None:
    entries = [w("PutObject", f"processed/{JOB}/segment_000.mp4", "a", at=1.0),
               w("UpdateItem", "{}", "b", status=400, at=5.0, service="dynamodb")]
    assert no_write_after(entries, 2.0) == []
    assert no_write_after(entries + [w("PutObject", f"processed/{JOB}/segment_000.mp4", "b", at=6.0)], 2.0)[0] \
        .startswith("the redelivery wrote 1 time(s): PutObject processed/")


def test_the_finishing_attempt_writes_each_output_once() -> None:
    prefix = f"processed/{JOB}/"
    good = [w("PutObject", prefix + "segment_000.mp4", "a", attempt=1),
            w("PutObject", prefix + "segment_000.mp4", "a", attempt=2),
            w("PutObject", prefix + "segment_001.mp4", "a", attempt=2)]
    assert finished_once(good, prefix) == []
    twice = good + [w("CompleteMultipartUpload", prefix + "segment_001.mp4", "a", attempt=2)]
    assert finished_once(twice, prefix) == [f"attempt 2 of request a wrote {prefix}segment_001.mp4 2 times"]


def test_writes_and_error_codes_are_read_from_the_answer() -> None:
    assert is_write("s3", "UploadPart") and is_write("dynamodb", "TransactWriteItems")
    assert not is_write("s3", "GetObject") and not is_write("dynamodb", "GetItem")
    assert error_code(b'{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}') == \
        "ConditionalCheckFailedException"
    assert error_code(b"<Error><Code>AccessDenied</Code></Error>") == "AccessDenied"


def test_the_barrier_releases_the_deliveries_together() -> None:
    rule = FaultRule(service="dynamodb", barrier=2, barrier_timeout_s=5)
    released: list[float] = []

    def arrive(delay: float) -> None:
        time.sleep(delay)
        rule.wait_at_barrier()
        released.append(time.monotonic())

    threads = [threading.Thread(target=arrive, args=(d,)) for d in (0.0, 0.3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rule.released_together == 2 and abs(released[0] - released[1]) < 0.1


def test_a_barrier_never_met_lets_the_request_go_after_its_timeout() -> None:
    rule = FaultRule(service="dynamodb", barrier=2, barrier_timeout_s=0.2)
    t0 = time.monotonic()
    assert rule.wait_at_barrier() is False and rule.released_together == 0
    assert 0.15 < time.monotonic() - t0 < 2
