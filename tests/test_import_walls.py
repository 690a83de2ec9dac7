"""The walls between the harness, the phases, the function and the backend, checked by parsing imports.

- phases/ import neither the function (video_processor) nor the backend: they test a deployed
  black box through AWS APIs and HTTP;
- lambda_src imports nothing of the harness, the fixtures, the backend or the phases;
- the harness never imports the phases or the function;
- the backend imports only the processing core (video_processor.core).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# tree -> (forbidden top-level packages, allowed exceptions as full module names)
WALLS = {
    "phases": ({"video_processor", "backend", "lambda_src"}, set()),
    "lambda_src": ({"harness", "fixtures", "backend", "phases", "tests", "bench"}, set()),
    "harness": ({"phases", "video_processor", "lambda_src"}, set()),
    "backend": ({"harness", "phases", "fixtures", "video_processor"}, {"video_processor.core"}),
}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in a file, relative imports resolved to absolute ones."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def breaches(root: Path, tree: str) -> list[str]:
    forbidden, allowed = WALLS[tree]
    lines = []
    for path in sorted((root / tree).rglob("*.py")):
        for lineno, module in imports(path):
            if module.split(".")[0] in forbidden and module not in allowed:
                lines.append(f"{path.relative_to(root)}:{lineno} imports {module}, across the {tree}/ wall")
    return lines


@pytest.mark.parametrize("tree", sorted(WALLS))
def test_no_import_crosses_a_wall(tree: str) -> None:
    assert breaches(REPO, tree) == []


def test_a_planted_breach_is_named_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "phases").mkdir()
    (tmp_path / "phases" / "test_9z_x.py").write_text("import os\n\nfrom video_processor.events import parse_job_event\n")
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "x.py").write_text("from video_processor.core import run_job\nimport video_processor.jobs\n")
    assert breaches(tmp_path, "phases") == [
        "phases/test_9z_x.py:3 imports video_processor.events, across the phases/ wall"]
    assert breaches(tmp_path, "backend") == ["backend/x.py:2 imports video_processor.jobs, across the backend/ wall"]
