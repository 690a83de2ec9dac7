"""1A's dated table of Lambda Python runtimes: blocked runtimes fail, near deprecation warns."""
from datetime import date

from harness.stack import runtimes


def test_python3_11_is_blocked_after_its_update_block_date() -> None:
    ok, line = runtimes.judge("python3.11", date(2026, 12, 7))
    assert not ok and "blocks function updates since 2026-08-31" in line and "python3.13" in line


def test_a_runtime_past_block_create_but_not_update_fails_naming_both_dates() -> None:
    ok, line = runtimes.judge("python3.11", date(2026, 8, 1))
    assert not ok and "2026-07-31" in line and "2026-08-31" in line


def test_within_180_days_of_deprecation_is_a_warning_not_a_failure() -> None:
    ok, line = runtimes.judge("python3.12", date(2028, 6, 1))
    assert ok and line.startswith("warning:") and "in 152 days" in line


def test_a_supported_runtime_passes_citing_its_source() -> None:
    ok, line = runtimes.judge("python3.13", date(2026, 12, 7))
    assert ok and "supported until 2029-06-30" in line and "lambda-runtimes" in line


def test_an_unknown_runtime_fails_naming_the_value() -> None:
    ok, line = runtimes.judge("python2.7", date(2026, 12, 7))
    assert not ok and "'python2.7'" in line
