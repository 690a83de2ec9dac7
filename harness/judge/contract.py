"""CONTRACT.md's clauses, and which phase tests cite which (pure reading, no imports of phases).

A phase test cites the clauses it checks with `@pytest.mark.contract("E3", "F1")` (or a
module-level `pytestmark`). `problems()` lists every phase test that cites nothing or cites a
clause CONTRACT.md does not define; tests/test_contract_citations.py requires it to be empty.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "CONTRACT.md"
_CLAUSE = re.compile(r"^\s*- \*\*([A-Z]\d+)\*\*", re.MULTILINE)
_VERSION = re.compile(r"^Version \*\*([0-9.]+)\*\*", re.MULTILINE)


def reason_class(manifest_reason: str) -> str:
    """The fixture manifest's reason class in CONTRACT.md F1's spelling: invalid_media -> InvalidMedia."""
    return "".join(part.capitalize() for part in manifest_reason.split("_"))


def clauses(path: Path = CONTRACT) -> set[str]:
    return set(_CLAUSE.findall(path.read_text(encoding="utf-8")))


def version(path: Path = CONTRACT) -> str:
    m = _VERSION.search(path.read_text(encoding="utf-8"))
    return m.group(1) if m else "unknown"


def _contract_ids(node: ast.expr) -> list[str] | None:
    """The clause ids of a `pytest.mark.contract(...)` expression, else None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr == "contract"):
        return None
    return [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def citations(module: Path) -> dict[str, list[str]]:
    """{test function name: cited clause ids} for one phase module (module-level marks included)."""
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    module_ids: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                for t in node.targets):
            marks = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            for mark in marks:
                module_ids += _contract_ids(mark) or []
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            ids = list(module_ids)
            for dec in node.decorator_list:
                ids += _contract_ids(dec) or []
            out[node.name] = ids
    return out


def problems(phases_dir: Path, contract: Path = CONTRACT) -> list[str]:
    """One line per phase test that cites no clause, or a clause the contract does not define."""
    known = clauses(contract)
    lines = []
    for module in sorted(Path(phases_dir).glob("test_*.py")):
        for test, ids in citations(module).items():
            where = f"{module.name}::{test}"
            if not ids:
                lines.append(f"{where} cites no CONTRACT.md clause: add @pytest.mark.contract(\"<id>\", ...)")
            for cid in ids:
                if cid not in known:
                    lines.append(f"{where} cites {cid!r}, which CONTRACT.md does not define")
    return lines
