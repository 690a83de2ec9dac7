"""Native code built for Lambda's platform: every ELF file of a package and its layers, against the runtime.

The most common Lambda packaging failure is a wheel or a `.so` built for the developer's machine:
it imports here and fails on AWS with `Runtime.ImportModuleError` ("GLIBC_2.28 not found",
"cannot open shared object file"). This scan reads each ELF file's version needs and DT_NEEDED
libraries (harness.stack.elf) and judges them against the declared runtime's OS: its glibc, and
the libraries that OS ships. A library the zip or a layer ships itself satisfies its own need.

RUNTIME_LIBRARIES lists, per OS, the shared libraries a function may link without shipping them:
glibc's own, the GCC runtime, and what the Python runtime image carries for the interpreter
(zlib, bz2, lzma, expat, ffi, OpenSSL, sqlite, uuid). Source: the packages of the
public.ecr.aws/lambda/python base images (Dockerfile.python3.11 on Amazon Linux 2 and
Dockerfile.python3.12 on Amazon Linux 2023, aws/aws-lambda-base-images), as of 2026-12-01.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.stack.elf import RUNTIME_GLIBC, RUNTIME_OS, GlibcNeeds, glibc_needs_of

_GLIBC_LIBS = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
               "libresolv.so.2", "libnsl.so.1", "libcrypt.so.1", "libanl.so.1", "ld-linux-x86-64.so.2",
               "linux-vdso.so.1", "libgcc_s.so.1", "libstdc++.so.6"}
RUNTIME_LIBRARIES: dict[str, frozenset[str]] = {
    "Amazon Linux 2": frozenset(_GLIBC_LIBS | {"libz.so.1", "libbz2.so.1", "liblzma.so.5", "libexpat.so.1",
                                              "libffi.so.6", "libssl.so.10", "libcrypto.so.10", "libuuid.so.1",
                                              "libsqlite3.so.0"}),
    "Amazon Linux 2023": frozenset(_GLIBC_LIBS | {"libz.so.1", "libbz2.so.1", "liblzma.so.5", "libexpat.so.1",
                                                  "libffi.so.8", "libssl.so.3", "libcrypto.so.3", "libuuid.so.1",
                                                  "libsqlite3.so.0"}),
}


@dataclass(frozen=True)
class NativeProblem:
    where: str          # "package:path/in/zip" or "layer <name>:path"
    line: str


def elf_members(archive: Path, label: str) -> list[tuple[str, GlibcNeeds]]:
    """(where, needs) for every ELF file inside a zip (a deployment package or a layer)."""
    out = []
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir() or info.file_size < 64:
                continue
            with zf.open(info) as fh:
                head = fh.read(4)
            if head != b"\x7fELF":
                continue
            where = f"{label}:{info.filename}"
            out.append((where, glibc_needs_of(io.BytesIO(zf.read(info)), where)))
    return out


def judge(members: list[tuple[str, GlibcNeeds]], runtime: str) -> list[NativeProblem]:
    """Each need that `runtime`'s OS cannot meet, naming the file and the symbol version or library (pure)."""
    have = RUNTIME_GLIBC.get(runtime)
    if have is None:
        return [NativeProblem("runtime", f"runtime {runtime!r} is not a known Python runtime")]
    os_name = RUNTIME_OS[have]
    shipped = {Path(where.split(":", 1)[1]).name for where, _ in members}
    problems = []
    for where, needs in members:
        if needs.static:
            continue
        need = needs.max_glibc
        if need is not None and need > have:
            symbols = [v for v in needs.glibc_versions if v.startswith("GLIBC_")]
            problems.append(NativeProblem(where, f"{where} needs GLIBC_{need[0]}.{need[1]} ({symbols[-1]}) but "
                                                 f"{runtime} runs on {os_name} with glibc {have[0]}.{have[1]}"))
        missing = [lib for lib in needs.needed_libs if lib not in RUNTIME_LIBRARIES[os_name] and lib not in shipped]
        if missing:
            problems.append(NativeProblem(where, f"{where} links {', '.join(missing)}, which {os_name} ({runtime}) "
                                                 "does not ship and neither the package nor its layers carry"))
    return problems
