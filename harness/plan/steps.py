"""Step ids and the rule that maps a phase module to its rollout step.

A phase module is `phases/test_<step>_<slug>.py`; the step is part of the file
name so that a reader of a failure line knows at once which rollout step broke.
"""
from __future__ import annotations

import re
from pathlib import PurePath

from harness.plan.catalogue import STEP_IDS  # the rollout plan is the one list of steps

_MODULE_RE = re.compile(r"^test_(?P<step>[0-9][a-z])_(?P<slug>[a-z0-9_]+)\.py$")


class StepNameError(ValueError):
    """A file in phases/ does not follow the naming rule."""


def step_index(step_id: str) -> int:
    return STEP_IDS.index(step_id)


def step_of_module(path: str | PurePath) -> str:
    """Return the step id of a phase module, or raise StepNameError naming the file."""
    name = PurePath(path).name
    match = _MODULE_RE.match(name)
    if not match:
        raise StepNameError(
            f"{path}: phase modules must be named test_<step>_<slug>.py with a step in "
            f"{' '.join(s.lower() for s in STEP_IDS)} (for example test_2a_ffmpeg_layer.py)"
        )
    step = match.group("step").upper()
    if step not in STEP_IDS:
        raise StepNameError(
            f"{path}: unknown rollout step {match.group('step')!r}; phase modules must be named "
            f"test_<step>_<slug>.py with a step in {' '.join(s.lower() for s in STEP_IDS)}"
        )
    return step


def step_of_nodeid(nodeid: str) -> str | None:
    """The step of a test node id, or None when it is not in a phase module."""
    path = nodeid.split("::", 1)[0]
    parts = PurePath(path).parts
    if "phases" not in parts or not PurePath(path).name.startswith("test_"):
        return None
    try:
        return step_of_module(path)
    except StepNameError:
        return None


def parse_phase(value: str) -> str:
    """Turn a --phase value (1..5 or a step id like 3A) into the last step selected."""
    text = value.strip().upper()
    if text in STEP_IDS:
        return text
    if text.isdigit() and 1 <= int(text) <= 5:
        return last_of_phase(text)
    raise ValueError(
        f"--phase {value!r} is not a phase: use 1 to 5 or a step id such as 3A "
        f"({', '.join(STEP_IDS)})"
    )


def last_of_phase(phase: str) -> str:
    """The last step of a phase: '3' -> '3B', '5' -> '5C'."""
    return [s for s in STEP_IDS if s.startswith(phase)][-1]


def steps_up_to(last: str | None) -> tuple[str, ...]:
    if last is None:
        return STEP_IDS
    return STEP_IDS[: step_index(last) + 1]


def rollout_label(last: str | None) -> str:
    """What the report calls the rollout step it decides: '3' for --phase 3, '3A', or 'all'."""
    if last is None:
        return "all"
    return last[0] if last == last_of_phase(last[0]) else last
