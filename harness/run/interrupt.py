"""Ctrl-C and SIGTERM end a run the way pytest ends on Ctrl-C: fixtures tear down, the report is written.

pytest turns SIGINT into KeyboardInterrupt; SIGTERM (what CI timeouts and `kill` send) would kill the
process on the spot, leaving the embedded stack's services and sandboxes running and no report. Here
SIGTERM raises KeyboardInterrupt too, once: a second signal during teardown is ignored, so teardown
finishes. The xdist controller passes SIGTERM on to its workers (they hold the stacks); a signal sent
to the whole process group reaches them directly, and their handler ignores the repeat.
"""
from __future__ import annotations

import signal

import psutil

_state = {"signal": None}


def received() -> str | None:
    """The signal that interrupted this process ("SIGINT", "SIGTERM"), if one did."""
    return _state["signal"]


def _handler(forward: bool):
    def handle(signum, frame):
        name = signal.Signals(signum).name
        if _state["signal"] is not None:
            return                           # already stopping: let teardown finish
        _state["signal"] = name
        if forward and signum == signal.SIGTERM:
            for child in psutil.Process().children():
                try:
                    child.send_signal(signal.SIGTERM)
                except psutil.Error:
                    pass
        raise KeyboardInterrupt(f"run interrupted by {name}")
    return handle


def install(*, forward: bool) -> dict:
    """Install the handlers (main thread only); returns the previous ones for `restore`."""
    _state["signal"] = None
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue                     # started with the signal ignored (nohup, a background job): keep it
            previous[sig] = signal.signal(sig, _handler(forward))
        except ValueError:                   # not the main thread
            pass
    return previous


def restore(previous: dict) -> None:
    for sig, handler in previous.items():
        try:
            signal.signal(sig, handler)
        except ValueError:
            pass
