"""Deterministic builds of the deployment package and the FFmpeg layer.

Same inputs, same bytes: files in sorted order, a fixed timestamp and fixed
modes, so the sha256 identifies the code in the report and in terraform's
source_code_hash. The layer's bin/ffmpeg comes from the pinned imageio-ffmpeg
wheel; its sha256 is pinned here and checked at build time.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO / "build"
PACKAGE_SRC = REPO / "lambda_src"
# imageio-ffmpeg 0.6.0, ffmpeg-linux-x86_64-v7.0.2: a static ffmpeg 7.0.2.
PINNED_FFMPEG_SHA256 = "e7e7fb30477f717e6f55f9180a70386c62677ef8a4d4d1a5d948f4098aa3eb99"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}


class BuildError(RuntimeError):
    """An artifact cannot be built as pinned."""


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    zipped_bytes: int
    unzipped_bytes: int


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ffmpeg_source() -> Path:
    import imageio_ffmpeg

    return Path(imageio_ffmpeg.get_ffmpeg_exe())


def _package_files(src: Path) -> list[tuple[Path, str]]:
    files = []
    for root, dirs, names in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(names):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(root) / name
            files.append((path, path.relative_to(src).as_posix()))
    return files


def _write_zip(out: Path, entries: list[tuple[Path, str]]) -> Artifact:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}-")
    os.close(fd)
    unzipped = 0
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path, arcname in sorted(entries, key=lambda e: e[1]):
            info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            with open(path, "rb") as src, zf.open(info, "w") as dst:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    dst.write(chunk)
            unzipped += path.stat().st_size
    os.replace(tmp, out)
    return Artifact(out, sha256_file(out), out.stat().st_size, unzipped)


def _inputs_digest(entries: list[tuple[Path, str]]) -> str:
    digest = hashlib.sha256()
    for path, arcname in sorted(entries, key=lambda e: e[1]):
        st = path.stat()
        digest.update(f"{arcname}\0{st.st_size}\0{st.st_mtime_ns}\0{os.access(path, os.X_OK)}\n".encode())
    return digest.hexdigest()


def _cached_build(out: Path, entries: list[tuple[Path, str]]) -> Artifact:
    """Rebuild only when an input changed; safe when xdist workers build at once."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = out.with_suffix(out.suffix + ".inputs")
    key = _inputs_digest(entries)
    with FileLock(str(out) + ".lock"):
        if out.exists() and stamp.exists() and stamp.read_text().split("\n")[0] == key:
            sha, unzipped = stamp.read_text().split("\n")[1:3]
            return Artifact(out, sha, out.stat().st_size, int(unzipped))
        art = _write_zip(out, entries)
        stamp.write_text(f"{key}\n{art.sha256}\n{art.unzipped_bytes}\n")
        return art


REQUIREMENTS = "requirements.txt"
DEFAULT_RUNTIME = "python3.13"
LAMBDA_PLATFORM = "manylinux2014_x86_64"     # glibc 2.17: what AWS tells Lambda users to install for


def pip_install_args(req: Path, target: Path, runtime: str) -> list[str]:
    """pip's arguments to install a package's dependencies as AWS tells Lambda users to: wheels only, for
    the Lambda platform and the declared runtime's Python, whatever the host is (docs.aws.amazon.com/lambda/
    latest/dg/python-package.html#python-package-native-libraries)."""
    version = runtime.removeprefix("python")
    if not version.replace(".", "").isdigit():
        raise BuildError(f"runtime {runtime!r} is not a Python runtime like python3.11")
    return ["install", "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:",
            "--no-compile", "--platform", LAMBDA_PLATFORM, "--implementation", "cp",
            "--python-version", version, "--target", str(target), "-r", str(req)]


def _vendored_files(src: Path, runtime: str = DEFAULT_RUNTIME) -> list[tuple[Path, str]]:
    """The function's pinned dependencies (src/requirements.txt), installed once per pin set.

    pip installs exactly the listed versions (--no-deps: the list is complete, or the import
    fails in 1A as it would on AWS), from wheels only; then every module is byte-compiled with
    unchecked-hash pycs, which are deterministic and spare each cold start recompiling them
    (/var/task is read-only, so Python could not cache them there).
    """
    req = src / REQUIREMENTS
    if not req.is_file():
        return []
    import compileall
    import py_compile
    import shutil
    import subprocess
    import sys

    text = req.read_text()
    key = hashlib.sha256(f"{runtime}\n{LAMBDA_PLATFORM}\n{text}".encode()).hexdigest()[:16]
    deps = BUILD_DIR / "deps" / key
    with FileLock(str(deps) + ".lock"):
        if not (deps / ".complete").exists():
            tmp = deps.with_name(deps.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            proc = subprocess.run([sys.executable, "-m", "pip", *pip_install_args(req, tmp, runtime)],
                                  capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                raise BuildError(f"installing {req} for the package failed: "
                                 + " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:]))
            shutil.rmtree(tmp / "bin", ignore_errors=True)
            if runtime == f"python{sys.version_info.major}.{sys.version_info.minor}":   # pycs of this Python only
                compileall.compile_dir(str(tmp), quiet=1, workers=1,
                                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            shutil.rmtree(deps, ignore_errors=True)
            os.replace(tmp, deps)
            (deps / ".complete").write_text(text)
    files = []
    for root, dirs, names in os.walk(deps):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.parent == deps and name.startswith("."):
                continue
            files.append((path, path.relative_to(deps).as_posix()))
    return files


def build_package(src: Path = PACKAGE_SRC, out: Path | None = None, *, cache: bool = True,
                  runtime: str = DEFAULT_RUNTIME) -> Artifact:
    entries = [e for e in _package_files(src) if e[1] != REQUIREMENTS] + _vendored_files(src, runtime)
    if not entries:
        raise BuildError(f"{src} holds no files to package")
    out = out or BUILD_DIR / "function.zip"
    return _cached_build(out, entries) if cache else _write_zip(out, entries)


def build_layer(out: Path | None = None, *, binary: Path | None = None, pinned: str | None = PINNED_FFMPEG_SHA256,
                cache: bool = True) -> Artifact:
    binary = binary or ffmpeg_source()
    if not binary.exists():
        raise BuildError(f"ffmpeg binary {binary} does not exist; reinstall imageio-ffmpeg==0.6.0")
    if pinned is not None:
        actual = sha256_file(binary)
        if actual != pinned:
            raise BuildError(f"ffmpeg binary {binary} has sha256 {actual}, but the build pins {pinned} "
                             "(imageio-ffmpeg 0.6.0): refusing to build the layer from another binary")
    out = out or BUILD_DIR / "ffmpeg-layer.zip"
    entries = [(binary, "bin/ffmpeg")]
    return _cached_build(out, entries) if cache else _write_zip(out, entries)
