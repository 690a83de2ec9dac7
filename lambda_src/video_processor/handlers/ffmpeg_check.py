"""Step: prove the ffmpeg layer is present and runnable; never raises for a bad binary."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from ..config import read_ffmpeg_path
from ..s3io import sha256_file

VERSION_TIMEOUT_S = 15


def check_ffmpeg(path: str, timeout_s: float = VERSION_TIMEOUT_S) -> dict:
    """Run ``<path> -version``; report availability, first line and the binary's sha256."""
    result: dict[str, Any] = {"available": False, "version": None, "path": path, "sha256": None, "error": None}
    if not os.path.isfile(path):
        result["error"] = f"ffmpeg binary not found at {path}"
        return result
    try:
        result["sha256"] = sha256_file(path)
    except OSError as exc:
        result["error"] = f"cannot read {path}: {exc.strerror or exc}"
        return result
    try:
        proc = subprocess.run(
            [path, "-version"], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        result["error"] = f"{path} -version did not finish within {timeout_s} s"
        return result
    except OSError as exc:
        result["error"] = f"cannot execute {path}: {exc.strerror or exc}"
        return result
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        result["error"] = f"{path} -version exited with code {proc.returncode}" + (f": {tail[-1]}" if tail else "")
        return result
    result["available"] = True
    result["version"] = lines[0].strip()
    return result


def handler(event: Any, context: Any) -> dict:
    return check_ffmpeg(read_ffmpeg_path())
