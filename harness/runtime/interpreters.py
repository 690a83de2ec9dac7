"""The CPython each function runs on: one of its declared runtime's version, never the host's by default.

A function declared `python3.13` runs on a CPython 3.13 found on this machine,
in this order (the first that answers with the right version wins):

1. `--python-for python3.13=/path/to/python` (or HARNESS_PYTHON_FOR, comma-separated);
2. `build/python/python3.13/`, unpacked by `python -m harness provision-python` (`make setup` does):
   Debian's optimized build (PGO, LTO), the closest to AWS's own;
3. `python3.13` on PATH;
4. pyenv's builds (`$PYENV_ROOT/versions/3.13*`, default ~/.pyenv);
5. uv's managed Pythons (`~/.local/share/uv/python/cpython-3.13*`).

When none answers, `find` raises `InterpreterMissing` with one line naming the
runtime, where it looked and the fix; the runtime never falls back to another
version. The pure part (`candidates`, `parse_overrides`) takes its inputs as
arguments; `probe` runs the candidate once to read its version and prefix.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROVISIONED = REPO / "build" / "python"
RUNTIME_RE = re.compile(r"^python(3)\.(\d+)$")
WHERE = "--python-for, HARNESS_PYTHON_FOR, build/python (provision-python), PATH, pyenv, uv"


class InterpreterMissing(RuntimeError):
    """No CPython of the declared runtime's version on this machine; the message is one line."""


@dataclass(frozen=True)
class Interpreter:
    runtime: str                 # declared, e.g. python3.13
    version: str                 # what it answered, e.g. 3.13.0
    executable: str              # host path
    prefix: str                  # sys.base_prefix on the host: bound at /var/lang
    source: str                  # which place in WHERE found it
    root: str = "/"              # the file system its shared libraries come from ("/" = the host)
    loader: tuple[str, ...] = field(default=())   # argv prefix to run it on the host (a provisioned root)

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    def describe(self) -> str:
        return f"CPython {self.version} ({self.source}: {self.executable})"


def version_of(runtime: str) -> str:
    """'python3.13' -> '3.13'; anything else is refused naming the value (pure)."""
    m = RUNTIME_RE.match(runtime or "")
    if not m:
        raise InterpreterMissing(f"runtime {runtime!r} is not a CPython runtime like python3.13")
    return f"{m.group(1)}.{m.group(2)}"


def parse_overrides(values: list[str] | tuple[str, ...] | str | None) -> dict[str, str]:
    """['python3.13=/usr/bin/python3.13'] (or 'a=b,c=d') -> {'python3.13': '/usr/bin/python3.13'} (pure)."""
    if not values:
        return {}
    if isinstance(values, str):
        values = [values]
    out: dict[str, str] = {}
    for value in values:
        for item in (v.strip() for v in value.split(",")):
            if not item:
                continue
            runtime, sep, path = item.partition("=")
            if not sep or not path:
                raise ValueError(f"--python-for {item!r}: expected RUNTIME=PATH, e.g. python3.13=/usr/bin/python3.13")
            version_of(runtime)
            out[runtime] = path
    return out


def candidates(runtime: str, *, overrides: dict[str, str], path_env: str, pyenv_root: str,
               uv_dir: str, provisioned: Path) -> list[tuple[str, str]]:
    """(source, path) in search order for runtime; only existing files (reads directories only)."""
    ver = version_of(runtime)
    out: list[tuple[str, str]] = []
    if runtime in overrides:
        out.append(("--python-for", overrides[runtime]))
    meta = provisioned / runtime / "interpreter.json"
    if meta.is_file():
        out.append(("provisioned", str(meta)))
    which = shutil.which(f"python{ver}", path=path_env)
    if which:
        out.append(("PATH", which))
    for d in sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{ver}*")), reverse=True):
        exe = os.path.join(d, "bin", f"python{ver}")
        if re.fullmatch(rf"{re.escape(ver)}(\.\d+)?", os.path.basename(d)) and os.path.isfile(exe):
            out.append(("pyenv", exe))
    for d in sorted(glob.glob(os.path.join(uv_dir, f"cpython-{ver}.*")), reverse=True):
        exe = os.path.join(d, "bin", f"python{ver}")
        if os.path.isfile(exe):
            out.append(("uv", exe))
    return out


def probe(runtime: str, source: str, path: str) -> Interpreter | str:
    """Run the candidate once; an Interpreter, or one line saying why it does not qualify."""
    if source == "provisioned":
        return _provisioned(runtime, Path(path))
    if not os.path.isfile(path):
        return f"{path}: no such file"
    return _ask(runtime, source, str(Path(path).absolute()), (), "/")


def _provisioned(runtime: str, meta: Path) -> Interpreter | str:
    info = json.loads(meta.read_text())
    root = meta.parent / "root"
    loader = tuple(str(root / p) if i == 0 or p.startswith("usr/") else p for i, p in enumerate(info["loader"]))
    found = _ask(runtime, "provisioned", str(root / info["executable"]), loader, str(root))
    if isinstance(found, Interpreter):      # run through the loader it cannot tell its prefix: the layout's
        found = Interpreter(**{**found.__dict__, "prefix": str(root / "usr")})
    return found


def _ask(runtime: str, source: str, exe: str, loader: tuple[str, ...], root: str) -> Interpreter | str:
    code = "import sys, platform; print(platform.python_version(), sys.base_prefix, sys.implementation.name)"
    try:
        proc = subprocess.run([*loader, exe, "-S", "-E", "-c", code], capture_output=True, text=True,
                              timeout=30, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError) as e:
        return f"{exe}: cannot run: {e}"
    if proc.returncode != 0:
        return f"{exe}: exit status {proc.returncode}: " + (proc.stderr.strip().splitlines() or [""])[-1]
    version, prefix, impl = proc.stdout.split()
    if impl != "cpython":
        return f"{exe} is {impl}, not CPython"
    if ".".join(version.split(".")[:2]) != version_of(runtime):
        return f"{exe} is Python {version}, not {version_of(runtime)}"
    return Interpreter(runtime=runtime, version=version, executable=exe, prefix=prefix, source=source,
                       root=root, loader=loader)


_CACHE: dict[tuple, Interpreter] = {}
_LOCK = threading.Lock()


def default_overrides() -> dict[str, str]:
    return parse_overrides(os.environ.get("HARNESS_PYTHON_FOR"))


def find(runtime: str, overrides: dict[str, str] | None = None) -> Interpreter:
    """The interpreter for runtime, or InterpreterMissing naming the runtime, the places and the fix."""
    overrides = default_overrides() if overrides is None else overrides
    key = (runtime, tuple(sorted(overrides.items())))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    ver = version_of(runtime)
    rejected = []
    for source, path in candidates(runtime, overrides=overrides, path_env=os.environ.get("PATH", ""),
                                   pyenv_root=os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")),
                                   uv_dir=os.path.expanduser("~/.local/share/uv/python"),
                                   provisioned=PROVISIONED):
        found = probe(runtime, source, path)
        if isinstance(found, Interpreter):
            with _LOCK:
                _CACHE[key] = found
            return found
        if source == "--python-for":
            raise InterpreterMissing(f"--python-for {runtime}={path}: {found}")
        rejected.append(found)
    tried = f" (rejected: {'; '.join(rejected)})" if rejected else ""
    raise InterpreterMissing(
        f"runtime {runtime}: no CPython {ver} on this machine{tried}; looked in {WHERE} — run "
        f"`python -m harness provision-python {runtime}` or pass --python-for {runtime}=/path/to/python{ver}")


def host(runtime: str | None = None) -> Interpreter:
    """The harness's own interpreter, as an Interpreter (for the sandbox probe and tests)."""
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    return Interpreter(runtime=runtime or f"python{ver}", version=".".join(map(str, sys.version_info[:3])),
                       executable=sys.executable, prefix=sys.base_prefix, source="harness")
