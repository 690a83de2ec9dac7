from harness.judge.lambda_logs import concurrency


def test_overlapping_invocations_are_counted_from_start_and_end_lines() -> None:
    lines = ["START RequestId: a Version: $LATEST", "[INFO] working", "START RequestId: b Version: $LATEST",
             "END RequestId: a", "REPORT RequestId: a\tDuration: 1 ms", "START RequestId: c Version: $LATEST",
             "END RequestId: b", "END RequestId: c"]
    c = concurrency(lines)
    assert (c.peak, c.invocations, c.unended, c.orphan_ends) == (2, 3, (), 0)


def test_a_start_without_an_end_is_reported_and_an_end_without_a_start_counted() -> None:
    c = concurrency(["END RequestId: z", "START RequestId: a", "START RequestId: b", "END RequestId: b"])
    assert (c.peak, c.unended, c.orphan_ends) == (2, ("a",), 1)


def test_a_retry_with_the_same_request_id_is_two_invocations_not_one_overlap() -> None:
    c = concurrency(["START RequestId: a", "END RequestId: a", "START RequestId: a", "END RequestId: a"])
    assert (c.peak, c.invocations, c.unended) == (1, 2, ())


def test_log_lines_that_only_mention_start_are_not_invocations() -> None:
    assert concurrency(["[INFO] START RequestId: x is what we log", "no"]).invocations == 0


from harness.judge.lambda_logs import attempts


def test_a_successful_attempt_that_left_the_job_unfinished_is_one_clean_report() -> None:
    lines = ["START RequestId: r1 Version: $LATEST", '{"level": "INFO", "msg": "claimed"}', "END RequestId: r1",
             "REPORT RequestId: r1\tDuration: 10.00 ms\tBilled Duration: 10 ms"]
    a = attempts(lines, "r1")
    assert (len(a.reports), a.last_failed, a.last_error) == (1, False, None)


def test_failed_attempts_are_counted_and_the_last_error_quoted() -> None:
    lines = []
    for n in range(3):
        lines += ["START RequestId: r2 Version: $LATEST", "START RequestId: other Version: $LATEST",
                  f"[ERROR] ValidationException: attempt {n} bad key", "END RequestId: r2",
                  "REPORT RequestId: r2\tDuration: 5 ms\tStatus: error\tError Type: Runtime.ExitError"]
    a = attempts(lines, "r2")
    assert len(a.reports) == 3 and a.last_failed and a.last_error == "[ERROR] ValidationException: attempt 2 bad key"


def test_an_attempt_still_running_has_no_report() -> None:
    assert attempts(["START RequestId: r3 Version: $LATEST", "working"], "r3").reports == ()
