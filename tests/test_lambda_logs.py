from harness.lambda_logs import concurrency


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
