"""What a run selected: the target its -m expression names, and the step inventory it is held to.

The inventory is every test of every step in <rootdir>/phases, collected whatever the command line
collected (harness.plan.inventory decides, purely, what a run left out of it).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.plan import inventory
from harness.plan.steps import StepNameError, step_of_module


def run_target(config: pytest.Config) -> str:
    """The target this run validates: aws when the -m expression selects an aws-marked test, else local.

    Evaluated with pytest's own expression parser: `-m "local and not aws"` is a local run."""
    from _pytest.mark.expression import Expression

    expr = (config.option.markexpr or "").strip()
    if not expr:
        return "local"
    try:
        return "aws" if Expression.compile(expr).evaluate(lambda name, **_: name == "aws") else "local"
    except Exception:       # pytest itself reports a malformed -m as a usage error
        return "local"


def collect_inventory(session: pytest.Session) -> tuple[list[inventory.Entry], list[tuple[str, str]]]:
    """Every test of every step in <rootdir>/phases, whatever the command line collected, and the
    modules that could not be collected for it (each a collection error of the run)."""
    root = Path(session.config.rootpath)
    entries, errors = [], []
    for path in sorted((root / "phases").glob("test_*.py")):
        try:
            step = step_of_module(path)
        except StepNameError:
            continue            # collection names it when it is collected; no step to take evidence from
        try:
            module = pytest.Module.from_parent(session, path=path)
            for item in _items(module):
                params = getattr(getattr(item, "callspec", None), "params", {})
                targets = frozenset([params["target"]]) if "target" in params else frozenset(inventory.TARGETS)
                entries.append(inventory.Entry(
                    key=inventory.evidence_key(item.nodeid), step=step, targets=targets,
                    local_only=item.get_closest_marker("local_only") is not None,
                    large=item.get_closest_marker("large") is not None))
        except Exception as exc:
            errors.append((str(path.relative_to(root)), f"inventory of {path.name}: {type(exc).__name__}: {exc}"))
    merged: dict[str, inventory.Entry] = {}
    for e in entries:       # one entry per evidence key, with every target it runs on
        old = merged.get(e.key)
        merged[e.key] = e if old is None else dataclasses.replace(old, targets=old.targets | e.targets)
    return list(merged.values()), errors


def _items(node):
    if isinstance(node, pytest.Item):
        yield node
        return
    for child in node.collect():
        yield from _items(child)
