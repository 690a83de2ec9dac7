"""What the function's code expects, read statically from lambda_src (no import).

Env vars it reads, the import graph (which handler reaches which module), the
handler functions that exist, and the table's hash key constant.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class EnvRead:
    name: str
    required: bool
    module: str
    file: str
    line: int


@dataclass
class CodeFacts:
    root: Path
    modules: dict[str, Path] = field(default_factory=dict)
    imports: dict[str, set[str]] = field(default_factory=dict)
    env_reads: list[EnvRead] = field(default_factory=list)
    computed_env_reads: list[EnvRead] = field(default_factory=list)   # name is the expression: not checkable
    functions: dict[str, set[str]] = field(default_factory=dict)
    constants: dict[str, dict[str, tuple[object, int]]] = field(default_factory=dict)

    def reachable(self, module: str) -> set[str]:
        seen, todo = set(), [module]
        while todo:
            mod = todo.pop()
            if mod in seen or mod not in self.modules:
                continue
            seen.add(mod)
            todo.extend(self.imports.get(mod, ()))
        return seen

    def env_reads_of_handler(self, handler: str) -> list[EnvRead]:
        module = handler.rsplit(".", 1)[0].replace("/", ".")
        reach = self.reachable(module)
        return [r for r in self.env_reads if r.module in reach]

    def computed_env_reads_of_handler(self, handler: str) -> list[EnvRead]:
        reach = self.reachable(handler.rsplit(".", 1)[0].replace("/", "."))
        return [r for r in self.computed_env_reads if r.module in reach]

    def handler_problem(self, handler: str) -> str | None:
        if "." not in handler:
            return f"handler {handler!r} is not of the form module.function"
        module, func = handler.rsplit(".", 1)
        module = module.replace("/", ".")
        if module not in self.modules:
            return f"handler {handler!r}: module {module} does not exist in the package ({self.root})"
        if func not in self.functions.get(module, set()):
            return (f"handler {handler!r}: {self.modules[module].relative_to(self.root.parent)} "
                    f"defines no function {func!r}")
        return None


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "environ") or \
        (isinstance(node, ast.Attribute) and node.attr == "environ")


def scan(root: Path) -> CodeFacts:
    facts = CodeFacts(root=root)
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        name = _module_name(root, path)
        facts.modules[name] = path
    for name, path in facts.modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        imports: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imports.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")
                    parent = parent[: len(parent) - (node.level - 1)] if node.level > 1 else parent
                    base = ".".join([*parent, base] if base else parent)
                imports.add(base)
                imports.update(f"{base}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
                key = node.slice
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    facts.env_reads.append(EnvRead(key.value, True, name, str(path), node.lineno))
                else:
                    facts.computed_env_reads.append(EnvRead(ast.unparse(key), True, name, str(path), node.lineno))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                func = node.func
                is_get = func.attr == "get" and _is_environ(func.value)
                is_getenv = func.attr == "getenv"
                if (is_get or is_getenv) and node.args and isinstance(node.args[0], ast.Constant):
                    facts.env_reads.append(EnvRead(str(node.args[0].value), False, name, str(path), node.lineno))
                elif (is_get or is_getenv) and node.args:
                    facts.computed_env_reads.append(EnvRead(ast.unparse(node.args[0]), False, name, str(path),
                                                            node.lineno))
        facts.imports[name] = {i for i in imports if i}
        facts.functions[name] = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        consts = {}
        for n in tree.body:
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant):
                for t in n.targets:
                    if isinstance(t, ast.Name):
                        consts[t.id] = (n.value.value, n.lineno)
            elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and isinstance(n.value, ast.Constant):
                consts[n.target.id] = (n.value.value, n.lineno)
        facts.constants[name] = consts
    return facts
