"""Tiny pytest plugin (loaded with ``-p bench.firsttest``): wall-clock time at which each
process's first test body starts running, appended to $BENCH_FIRST_TEST_FILE."""
from __future__ import annotations

import os
import time

_seen = False


def pytest_runtest_call(item):
    global _seen
    if _seen:
        return
    _seen = True
    path = os.environ.get("BENCH_FIRST_TEST_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{time.time():.6f} {os.getpid()} {item.nodeid}\n")
