"""The walls between the harness's rooms, the phases, the function and the backend, checked by parsing imports.

- phases/ import neither the function (video_processor) nor the backend: they test a deployed
  black box through AWS APIs and HTTP;
- lambda_src imports nothing of the harness, the fixtures, the backend or the phases;
- the harness never imports the phases or the function;
- inside the harness: the plan (harness.plan) imports no other room; the judges (harness.judge)
  import nothing of running (harness.run) or telling (harness.tell), and no pytest; telling
  imports no running and no pytest;
- the backend imports only the processing core (video_processor.core);
- no import circle, in the harness or the backend (lazy imports count).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# tree -> (forbidden modules and everything under them, allowed exceptions as full module names)
WALLS = {
    "phases": ({"video_processor", "backend", "lambda_src"}, set()),
    "lambda_src": ({"harness", "fixtures", "backend", "phases", "tests", "bench"}, set()),
    "harness": ({"phases", "video_processor", "lambda_src"}, set()),
    "harness/plan": ({"harness.run", "harness.judge", "harness.tell", "harness.targets", "harness.local",
                      "harness.runtime", "harness.stack", "pytest", "_pytest"}, set()),
    "harness/judge": ({"harness.run", "harness.tell", "harness.cli", "pytest", "_pytest"}, set()),
    "harness/tell": ({"harness.run", "harness.cli", "pytest", "_pytest"}, set()),
    "harness/rollout": ({"harness.run", "harness.tell", "pytest", "_pytest"}, set()),
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
            out += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return out


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def breaches(root: Path, tree: str) -> list[str]:
    forbidden, allowed = WALLS[tree]
    lines = []
    for path in sorted((root / tree).rglob("*.py")):
        seen = set()
        for lineno, module in imports(path):
            hit = next((p for p in forbidden if _under(module, p)), None)
            if hit and module not in allowed and not any(_under(module, a) for a in allowed) \
                    and (lineno, hit) not in seen:
                seen.add((lineno, hit))
                lines.append(f"{path.relative_to(root)}:{lineno} imports {module}, across the {tree}/ wall")
    return lines


def module_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (lazy imports included)."""
    mods = {}
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        mods[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = set()
        for _, module in imports(path):
            while module and module not in mods:
                module = module.rpartition(".")[0]
            if module and module != name and not name.startswith(module + "."):
                targets.add(module)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


@pytest.mark.parametrize("tree", sorted(WALLS))
def test_no_import_crosses_a_wall(tree: str) -> None:
    assert breaches(REPO, tree) == []


@pytest.mark.parametrize("package", ["backend", "harness"])
def test_no_import_circle(package: str) -> None:
    assert cycles(module_graph(REPO, package)) == []


def test_a_planted_breach_is_named_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "phases").mkdir()
    (tmp_path / "phases" / "test_9z_x.py").write_text("import os\n\nfrom video_processor.events import parse_job_event\n")
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "x.py").write_text("from video_processor.core import run_job\nimport video_processor.jobs\n")
    assert breaches(tmp_path, "phases") == [
        "phases/test_9z_x.py:3 imports video_processor.events, across the phases/ wall"]
    assert breaches(tmp_path, "backend") == ["backend/x.py:2 imports video_processor.jobs, across the backend/ wall"]


@pytest.mark.parametrize("tree, line, module", [
    ("harness/judge", "from harness.run.record import record_of", "harness.run.record"),
    ("harness/judge", "from harness.tell import report", "harness.tell"),
    ("harness/judge", "import pytest", "pytest"),
    ("harness/tell", "from harness.run.gate import Gate", "harness.run.gate"),
    ("harness/tell", "import pytest", "pytest"),
    ("harness/plan", "from harness.judge import compare", "harness.judge"),
])
def test_a_planted_breach_of_each_room_wall_is_named(tmp_path: Path, tree: str, line: str, module: str) -> None:
    (tmp_path / tree).mkdir(parents=True)
    (tmp_path / tree / "planted.py").write_text(f'"""x"""\n{line}\n')
    assert breaches(tmp_path, tree) == [f"{tree}/planted.py:2 imports {module}, across the {tree}/ wall"]


def test_a_planted_circle_is_found(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import x\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from pkg import a\n")
    assert cycles(module_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b"]]
