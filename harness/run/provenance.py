"""What a verdict rests on, beyond the function: the harness, the phases, the fixtures, the rules, the plugins.

A local GO counts as evidence for an aws run only if it proved the same thing: the same code
under test (package, layer, terraform, backend), the same judge (harness/, phases/, fixtures/,
the root conftest and pytest.ini), the same rules (the options that change what passes) and the
same pytest plugins, from a clean tree, at full fidelity. A run that weakened any of these says
so in its headline and never counts as evidence.
"""
from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

from harness.tell.ledger import tree_sha256

# The judge's own sources: (identity key, folder, patterns). Untracked files here make the tree dirty too.
JUDGE_TREES = (
    ("harness_sha256", "harness", ("*.py", "*.j2")),
    ("phases_sha256", "phases", ("*.py",)),
    ("fixtures_sha256", "fixtures", ("*.py", "*.json")),
)
ROOT_FILES = ("conftest.py", "pytest.ini", "pyproject.toml", "CONTRACT.md")

DEFAULT_BETTER_FACTOR = 1.25
MIN_COMPARE_RUNS = 5


def judge_identity(root: Path) -> dict:
    """Hashes of the harness, the phases, the fixture generator and the root files that configure pytest."""
    root = Path(root)
    out = {key: tree_sha256(root / folder, patterns) for key, folder, patterns in JUDGE_TREES}
    digest = hashlib.sha256()
    for name in ROOT_FILES:
        path = root / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"(absent)") + b"\0")
    out["root_files_sha256"] = digest.hexdigest()
    return out


def rules(config) -> dict:
    """The options that change what passes, as the run used them (defaults included)."""
    return {
        "tf_var": sorted(config.getoption("--tf-var") or []),
        "tf_workspace": config.getoption("--tf-workspace"),
        "better_factor": config.getoption("--better-factor"),
        "compare_runs": config.getoption("--compare-runs"),
        "compare_max_runs": config.getoption("--compare-max-runs"),
        "large": bool(config.getoption("--large")),
        "python_for": sorted(config.getoption("--python-for") or []),
        "aws_timing": bool(config.getoption("--aws-timing")),
    }


def plugins(config) -> list[str]:
    """Every pytest plugin module loaded, with a content hash for those outside the installed packages,
    and every plugin distribution with its version: a `-p` plugin that rewrites outcomes shows here."""
    prefixes = tuple({str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    out = set()
    for _name, plugin in config.pluginmanager.list_name_plugin():
        if not isinstance(plugin, types.ModuleType):
            continue
        name = plugin.__name__
        if name.startswith("_pytest.") or name == "pytest":
            continue
        path = getattr(plugin, "__file__", None)
        resolved = Path(path).resolve() if path else None
        installed = resolved is not None and ("site-packages" in resolved.parts or str(resolved).startswith(prefixes))
        if resolved is not None and not installed and resolved.is_file():
            name += "@" + hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
        out.add(name)
    for _plugin, dist in config.pluginmanager.list_plugin_distinfo():
        out.add(f"{dist.project_name}=={dist.version}")
    return sorted(out)


def rules_sha256(rule_values: dict, plugin_names: list[str]) -> str:
    text = json.dumps({"rules": rule_values, "plugins": plugin_names}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def weakenings(*, better_factor: float, compare_runs: int, no_gate: bool, cpu_scaling_off: bool = False) -> list[str]:
    """Each option by which this run proves less than a default run, in words for the headline (pure).
    Reduced fidelity (what the kernel did not enforce) is the report's to add: it reads the fidelity table."""
    out = []
    if cpu_scaling_off:
        out.append("cpu-scaling off")
    if compare_runs < MIN_COMPARE_RUNS:
        out.append(f"compare-runs {compare_runs}")
    if better_factor > DEFAULT_BETTER_FACTOR:
        out.append(f"better-factor {better_factor:g}")
    if no_gate:
        out.append("no-gate")
    return out
