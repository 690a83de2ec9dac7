"""Helpers for tests: write a tiny handler package and a spec for it."""
from __future__ import annotations

import hashlib
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

from .spec import FunctionSpec


def write_package(code_dir: Path, files: Mapping[str, str]) -> str:
    """Write {relative path: source} into code_dir; returns a sha256 of the contents."""
    code_dir.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    for rel, src in sorted(files.items()):
        p = code_dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(src)
        p.write_text(text)
        h.update(rel.encode() + b"\0" + text.encode())
    return h.hexdigest()


# The runtime tests' functions declare the harness's own Python: always present, so they test the platform,
# not the search for interpreters (tests/test_interpreters.py does that).
HOST_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


def make_spec(code_dir: Path, handler: str = "app.handler", *, name: str = "fn", memory_mb: int = 128,
              timeout_s: float = 3.0, ephemeral_mb: int = 16, env: Mapping[str, str] | None = None,
              opt_dir: Path | None = None, reserved_concurrency: int | None = None,
              code_sha256: str = "") -> FunctionSpec:
    return FunctionSpec(name=name, handler=handler, runtime=HOST_RUNTIME, memory_mb=memory_mb,
                        timeout_s=timeout_s, ephemeral_mb=ephemeral_mb, env=dict(env or {}),
                        code_dir=code_dir, opt_dir=opt_dir, reserved_concurrency=reserved_concurrency,
                        code_sha256=code_sha256)
