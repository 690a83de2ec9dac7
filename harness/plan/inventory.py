"""The step inventory: every test of every rollout step, whatever a command line collected.

A verdict covers a step only if every one of its tests ran. pytest knows only what the command
line collected (a node id, one file of a two-file step, `-k`, `-m`, `--deselect`), so the run
collects all of `phases/` for the inventory and compares: what the inventory expects of a
selected step and the run's target, and the run did not collect, is missing evidence, and the
step is `partial`. Pure: entries in, decisions out.
"""
from __future__ import annotations

from dataclasses import dataclass

TARGETS = ("local", "aws")


@dataclass(frozen=True)
class Entry:
    key: str                    # the test id without its target parameter (evidence_key)
    step: str
    targets: frozenset[str]     # the targets it is parametrized for
    local_only: bool            # injects faults only the embedded target can inject
    large: bool                 # needs the 1 GB tier (--large)


def evidence_key(nodeid: str) -> str:
    """A test's identity across targets: the nodeid without its target parameter."""
    for target in TARGETS:
        nodeid = nodeid.replace(f"[{target}-", "[").replace(f"[{target}]", "")
    return nodeid


def expected(entries: list[Entry], selected: tuple[str, ...], target: str, large: bool) -> dict[str, Entry]:
    """The tests a run of `selected` steps on `target` must run, by evidence key."""
    return {e.key: e for e in entries
            if e.step in selected and target in e.targets and (large or not e.large)}


def left_out(entries: list[Entry], collected: list[str], selected: tuple[str, ...], target: str,
             large: bool) -> list[tuple[str, str]]:
    """(key, step) of every expected test the run did not collect, in inventory order."""
    have = {evidence_key(n) for n in collected}
    return [(key, e.step) for key, e in expected(entries, selected, target, large).items() if key not in have]


def local_evidence_needed(entries: list[Entry], selected: tuple[str, ...], large: bool) -> list[str]:
    """For an aws run: the local-only tests of its steps, which the ledger's local GO runs must hold."""
    return sorted(e.key for e in entries if e.local_only and e.step in selected and (large or not e.large))


def large_not_checked(entries: list[Entry], selected: tuple[str, ...], large: bool) -> list[str]:
    """The selected steps' --large tests a run without --large leaves unproven."""
    if large:
        return []
    return sorted(e.key for e in entries if e.large and e.step in selected)
