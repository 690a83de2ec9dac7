"""The backend's own code identity: what a validation run compares with its checkout (CONTRACT B6).

The same digest as the harness's tree hash: sha256 over (relative path, bytes) of every ``*.py``
under this package, sorted. Computed once per process, from the files actually deployed.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@cache
def code_sha256(root: Path = PACKAGE) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*.py") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
