"""The function's /usr and /etc: what Lambda's runtime image ships, from one list, not the host's.

AWS's python images (public.ecr.aws/lambda/python, Amazon Linux 2023 minimal)
give a function a shell and coreutils, the interpreter and the libraries it
links; no curl, git, gcc, tar, perl or terraform. Here the same set is copied
out of a source root (the host's `/`, or the root `provision-python` unpacked)
into `build/userland/<key>/`, which every sandbox binds read-only at `/usr` and
`/etc`. Whatever a function execs that is not on these lists is missing, as on
AWS, unless its package or a layer ships it.

`closure` is pure over a reader of DT_NEEDED lists; `ensure` does the copying
once per key (the list, the source root and the interpreter), under a lock.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from filelock import FileLock

REPO = Path(__file__).resolve().parents[2]
USERLAND_DIR = REPO / "build" / "userland"
LAYOUT = 2

# Programs of the image's bash and coreutils packages (AL2023's coreutils-single, bash), by name.
PROGRAMS = (
    "sh", "bash", "arch", "base64", "basename", "cat", "chgrp", "chmod", "chown", "cksum", "comm", "cp",
    "csplit", "cut", "date", "dd", "df", "dir", "dircolors", "dirname", "du", "echo", "env", "expand",
    "expr", "factor", "false", "fmt", "fold", "groups", "head", "hostid", "id", "install", "join", "link",
    "ln", "logname", "ls", "md5sum", "mkdir", "mkfifo", "mknod", "mktemp", "mv", "nice", "nl", "nohup",
    "nproc", "numfmt", "od", "paste", "pathchk", "pr", "printenv", "printf", "ptx", "pwd", "readlink",
    "realpath", "rm", "rmdir", "seq", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum",
    "shred", "shuf", "sleep", "sort", "split", "stat", "stty", "sum", "sync", "tac", "tail", "tee", "test",
    "timeout", "touch", "tr", "true", "truncate", "tsort", "tty", "uname", "unexpand", "uniq", "unlink",
    "users", "vdir", "wc", "who", "whoami", "yes", "[",
)
# glibc's libraries and the GCC runtime, which the image ships whether or not the interpreter links them
# (the runtime interface client's C extension needs libstdc++; harness.stack.native's _GLIBC_LIBS is the
# same list, judged there against a package's needs), plus the NSS modules glibc loads by name.
BASE_LIBS = ("libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
             "libresolv.so.2", "libnsl.so.1", "libcrypt.so.1", "libanl.so.1", "libgcc_s.so.1", "libstdc++.so.6",
             "libnss_files.so.2", "libnss_dns.so.2")
# /etc as the image has it, minus passwd and group (the sandbox writes its own).
ETC_FILES = ("hosts", "nsswitch.conf", "resolv.conf", "protocols", "services", "localtime",
             "ssl/certs/ca-certificates.crt", "ssl/openssl.cnf", "mime.types", "host.conf")
SHARE_DIRS = ("usr/share/zoneinfo",)
# Interpreter extension modules the image cannot load (no X11, no Tcl/Tk on Lambda).
SKIP_MODULES = ("_tkinter",)
LIB_DIRS = ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib64", "lib64", "usr/lib", "lib")
SOURCE = ("AWS Lambda base images for Python (aws/aws-lambda-base-images, Amazon Linux 2023 minimal: "
          "bash, coreutils-single, glibc and the interpreter's libraries), as of 2026-12-01")


def usr_path(rel: str) -> str:
    """'lib/x86_64-linux-gnu/libc.so.6' -> 'usr/lib/x86_64-linux-gnu/libc.so.6' (merged /usr; pure)."""
    rel = rel.lstrip("/")
    for top in ("bin/", "sbin/", "lib/", "lib64/"):
        if rel.startswith(top):
            return "usr/" + rel
    return rel


def closure(seeds: Iterable[str], needed: Callable[[str], tuple[tuple[str, ...], str | None]],
            resolve: Callable[[str], str | None]) -> tuple[list[str], list[str]]:
    """Every file the seeds load (DT_NEEDED and the ELF interpreter, transitively), and what was missing.

    needed(path) -> (libraries, interpreter) for a root-relative path; resolve(soname) -> the
    root-relative path of that library or None. Pure over those two.
    """
    todo, seen, missing = list(seeds), set(), []
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        libs, interp = needed(rel)
        if interp:
            todo.append(interp.lstrip("/"))
        for lib in libs:
            found = resolve(lib)
            if found is None:
                missing.append(f"{lib} (needed by /{rel})")
            else:
                todo.append(found)
    return sorted(seen), sorted(set(missing))


def seeds_of(root: Path, prefix: Path) -> tuple[list[str], list[str]]:
    """Root-relative programs of PROGRAMS found in root, and the interpreter's ELF files under prefix."""
    progs = []
    for name in PROGRAMS:
        for d in ("usr/bin", "bin"):
            if (root / d / name).exists():
                progs.append(f"{d}/{name}")
                break
    interp = []
    for p in sorted(prefix.rglob("*")):
        if p.is_file() and not p.is_symlink() and (p.suffix == ".so" or ".so." in p.name or p.parent.name == "bin"):
            if any(p.name.startswith(m) for m in SKIP_MODULES) or not _is_elf(p):
                continue
            interp.append(str(p))
    return progs, interp


def _is_elf(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def key(root: Path, prefix: Path) -> str:
    h = hashlib.sha256(json.dumps([LAYOUT, PROGRAMS, ETC_FILES, SHARE_DIRS, SKIP_MODULES, str(root),
                                   str(prefix)]).encode())
    for probe in ("usr/lib/x86_64-linux-gnu/libc.so.6", "usr/bin/bash"):
        try:
            st = (root / probe).stat()
            h.update(f"{probe}:{st.st_size}:{st.st_mtime_ns}".encode())
        except OSError:
            pass
    return h.hexdigest()[:16]


def ensure(root: str | Path, prefix: str | Path, *, base: Path = USERLAND_DIR) -> Path:
    """build/userland/<key>/ with usr/ and etc/ for an interpreter at prefix with libraries from root."""
    root, prefix = Path(root), Path(prefix)
    dest = base / key(root, prefix)
    if (dest / "manifest.json").is_file():
        return dest
    base.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock", timeout=600):
        if (dest / "manifest.json").is_file():
            return dest
        _build(root, prefix, dest)
    return dest


def _build(root: Path, prefix: Path, dest: Path) -> None:
    from harness.stack.elf import glibc_needs

    tmp = dest.with_name(dest.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    progs, interp_files = seeds_of(root, prefix)

    def needed(rel: str) -> tuple[tuple[str, ...], str | None]:
        path = Path(rel) if rel.startswith("/") else root / rel
        try:
            n = glibc_needs(path)
        except Exception:       # not ELF (a script): nothing to load
            return (), None
        return n.needed_libs, n.interpreter

    def resolve(soname: str) -> str | None:
        if (prefix / "lib" / soname).exists():      # libpython: the interpreter's own, at /var/lang/lib
            return str(prefix / "lib" / soname)
        for d in LIB_DIRS:
            if (root / d / soname).exists():
                return f"{d}/{soname}"
        return None

    libs = [found for name in BASE_LIBS if (found := resolve(name))]
    files, missing = closure([*progs, *interp_files, *libs], needed, resolve)
    copied = []
    for rel in files:
        if rel.startswith("/"):        # the interpreter's own files: bound at /var/lang, not copied
            continue
        target = tmp / usr_path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target, follow_symlinks=True)
        copied.append("/" + usr_path(rel))
    for name in ETC_FILES:
        src = root / "etc" / name
        if src.exists():
            (tmp / "etc" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tmp / "etc" / name, follow_symlinks=True)
    for d in SHARE_DIRS:
        if (root / d).is_dir():
            shutil.copytree(root / d, tmp / d, symlinks=True)
    for point in ("usr/lib/locale", "usr/local/bin", "etc"):   # mount points and AWS's empty dirs
        (tmp / point).mkdir(parents=True, exist_ok=True)
    for name in ("passwd", "group"):
        (tmp / "etc" / name).touch()
    for dirpath, _dirs, names in os.walk(tmp):
        os.chmod(dirpath, 0o755)
        for n in names:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                os.chmod(p, 0o755 if os.access(p, os.X_OK) else 0o644)
    (tmp / "manifest.json").write_text(json.dumps(
        {"source_root": str(root), "interpreter_prefix": str(prefix), "source": SOURCE,
         "files": copied, "missing": missing}, indent=1))
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)


def manifest(dest: Path) -> dict:
    return json.loads((dest / "manifest.json").read_text())
