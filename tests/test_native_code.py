"""Native code built for Lambda's platform (CONTRACT I2): every ELF file of the package and its layers.

Planted defects use real shared libraries of this Debian host, which is newer than Amazon Linux: one
that needs a glibc newer than the runtime's, and one that links a library Amazon Linux does not ship.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.stack import native
from harness.stack.elf import GlibcNeeds, glibc_needs

REPO = Path(__file__).resolve().parents[1]
HOST_LIBS = Path("/usr/lib/x86_64-linux-gnu")


def needs(name: str, glibc: tuple[str, ...] = ("GLIBC_2.2.5",), libs: tuple[str, ...] = ("libc.so.6",)) -> GlibcNeeds:
    return GlibcNeeds(name, static=False, interpreter=None, needed_libs=libs, glibc_versions=glibc)


def test_a_glibc_newer_than_the_runtimes_is_named_with_file_and_symbol() -> None:
    members = [("package:lib/libfast.so", needs("x", ("GLIBC_2.2.5", "GLIBC_2.35")))]
    [problem] = native.judge(members, "python3.12")
    assert problem.line == ("package:lib/libfast.so needs GLIBC_2.35 (GLIBC_2.35) but python3.12 runs on "
                            "Amazon Linux 2023 with glibc 2.34")
    assert native.judge(members, "python3.12")[0].where == "package:lib/libfast.so"
    assert native.judge([("p:ok.so", needs("y", ("GLIBC_2.34",)))], "python3.12") == []


def test_a_library_the_runtime_lacks_is_named_unless_the_package_ships_it() -> None:
    members = [("package:_ext.so", needs("x", libs=("libc.so.6", "libbsd.so.0")))]
    [problem] = native.judge(members, "python3.11")
    assert "links libbsd.so.0, which Amazon Linux 2 (python3.11) does not ship" in problem.line
    shipped = members + [("package:lib/libbsd.so.0", needs("y"))]
    assert native.judge(shipped, "python3.11") == []


def _host_library(predicate) -> Path:
    for path in sorted(HOST_LIBS.glob("*.so.*")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            found = glibc_needs(path)
        except ValueError:          # not an ELF file the reader can parse: not a candidate
            found = None
        if found is not None and predicate(found):
            return path
    raise AssertionError(f"no shared library under {HOST_LIBS} fits the planted defect")


AL2023 = native.RUNTIME_LIBRARIES["Amazon Linux 2023"]    # the stack's python3.13 runs there (glibc 2.34)


def _newer_glibc(n: GlibcNeeds) -> bool:
    return bool(n.max_glibc and n.max_glibc > (2, 34)) and all(lib in AL2023 for lib in n.needed_libs)


def _foreign_library(n: GlibcNeeds) -> bool:
    return any(lib not in AL2023 for lib in n.needed_libs) and not (n.max_glibc and n.max_glibc > (2, 34))


@pytest.mark.parametrize("defect", ["newer_glibc", "foreign_library"])
def test_a_planted_native_defect_is_no_go_at_1a_naming_the_file(tmp_path: Path, defect: str) -> None:
    lib = _host_library(_newer_glibc if defect == "newer_glibc" else _foreign_library)
    src = tmp_path / "lambda_src"
    shutil.copytree(REPO / "lambda_src", src, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "lib").mkdir(exist_ok=True)
    shutil.copy(lib, src / "lib" / f"libplanted_{defect}.so")
    reports = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_STEP_SUMMARY"))}
    proc = subprocess.run([sys.executable, "-m", "pytest", "phases/", "-m", "local", "-p", "no:cacheprovider", "-q",
                           "--report-dir", str(reports), "--lambda-src", str(src), "--phase", "1A", "--no-gate",
                           "-k", "native_code"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    data = json.loads((reports / "latest.json").read_text())
    step = data["steps"][0]
    assert proc.returncode != 0 and step["status"] == "failed", (step["summary"], proc.stdout[-1500:])
    [failure] = step["failures"]
    assert f"package:lib/libplanted_{defect}.so" in failure["message"], failure["message"]
    assert ("needs GLIBC_" if defect == "newer_glibc" else "does not ship") in failure["message"]


def test_every_elf_file_of_a_zip_is_read(tmp_path: Path) -> None:
    archive = tmp_path / "p.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(sys.executable, "bin/python")
        zf.writestr("app.py", "print('not elf')\n")
    [(where, found)] = native.elf_members(archive, "package")
    assert where == "package:bin/python" and found.needed_libs
