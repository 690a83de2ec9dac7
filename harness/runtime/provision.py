"""`python -m harness provision-python`: a CPython of the declared runtime's version, from Debian's archive.

For a machine with no interpreter of that version (a fresh Debian 12 has 3.11 only): Debian 13
(trixie) ships CPython 3.13. The packages below are fetched with apt from Debian's own archive,
through a private apt state (the host's apt is not touched), and unpacked with dpkg-deb into
build/python/<runtime>/root. Their glibc comes with them: on the host the interpreter runs through
that root's loader, and in the sandbox the userland is built from that root. Nothing runs as a
maintainer script; nothing is installed on the host.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from .interpreters import PROVISIONED, InterpreterMissing, find

SUITES = {"python3.13": ("trixie", "3.13")}
ARCHIVE = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# The interpreter, its standard library's shared libraries, glibc, and the userland's shell and coreutils.
PACKAGES = ("python{v}-minimal", "libpython{v}-minimal", "libpython{v}-stdlib", "libc6", "libssl3t64", "libffi8",
            "libexpat1", "zlib1g", "libbz2-1.0", "liblzma5", "libsqlite3-0", "libuuid1", "libmpdec4", "libzstd1",
            "libncursesw6", "libtinfo6", "libreadline8t64", "libgcc-s1", "libstdc++6", "bash", "coreutils",
            "libacl1", "libattr1", "libselinux1", "libpcre2-8-0", "libgmp10", "libcap2", "libcrypt1", "tzdata",
            "netbase", "media-types", "dash")


class ProvisionError(RuntimeError):
    pass


def provision(runtime: str, *, dest: Path = PROVISIONED, say=print) -> Path:
    """Unpack runtime's CPython and its libraries into dest/<runtime>/root; returns the interpreter.json."""
    if runtime not in SUITES:
        raise ProvisionError(f"no Debian suite ships {runtime} here (known: {', '.join(sorted(SUITES))}); "
                             f"pass --python-for {runtime}=/path/to/python instead")
    suite, version = SUITES[runtime]
    home = dest / runtime
    state = dest / ".apt" / suite
    debs = state / "debs"
    for d in (state / "lists" / "partial", state / "cache" / "archives" / "partial", debs):
        d.mkdir(parents=True, exist_ok=True)
    (state / "sources.list").write_text(f"deb [signed-by={KEYRING}] {ARCHIVE} {suite} main\n")
    (state / "status").touch()
    opts = ["-o", f"Dir::State={state}", "-o", f"Dir::State::Lists={state / 'lists'}",
            "-o", f"Dir::State::status={state / 'status'}", "-o", f"Dir::Cache={state / 'cache'}",
            "-o", f"Dir::Etc::SourceList={state / 'sources.list'}", "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", "APT::Architecture=amd64", "-o", "Debug::NoLocking=1", "-qq"]
    say(f"provision-python: {runtime} from Debian {suite} ({ARCHIVE}), private apt state in {state}")
    _run(["apt-get", *opts, "update"], "apt-get update", cwd=state)
    packages = [p.format(v=version) for p in PACKAGES]
    for old in debs.glob("*.deb"):
        old.unlink()
    _run(["apt-get", *opts, "download", *packages], "apt-get download", cwd=debs)
    tmp = home.with_name(runtime + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    root = tmp / "root"
    root.mkdir(parents=True)
    for deb in sorted(debs.glob("*.deb")):
        _run(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {deb.name}")
    for top in ("bin", "lib", "lib64", "sbin"):          # merged /usr, as trixie's base-files makes it
        if not (root / top).exists():
            (root / top).symlink_to(f"usr/{top}")
    (root / "usr" / "lib" / f"python{version}" / "site-packages").mkdir(parents=True, exist_ok=True)
    meta = {"runtime": runtime, "suite": suite, "executable": f"usr/bin/python{version}",
            "loader": ["usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "--library-path",
                       "usr/lib/x86_64-linux-gnu"],
            "packages": sorted(p.name for p in debs.glob("*.deb"))}
    (tmp / "interpreter.json").write_text(json.dumps(meta, indent=1))
    shutil.rmtree(home, ignore_errors=True)
    tmp.rename(home)
    return home / "interpreter.json"


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ProvisionError(f"{what} failed: {e}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-2:]
        raise ProvisionError(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}")


def main(runtimes: list[str], *, if_missing: bool) -> int:
    """Provision each runtime (with if_missing: unless already provisioned). Debian's build is optimized
    (PGO and LTO, as AWS's runtimes are) where pyenv's default builds are not: measured here, pyenv's
    3.13.0 ran a JSON-and-arithmetic loop in 146 us, Debian's 3.13.5 in 92 us. A failure is fatal only
    when no other interpreter of that version exists."""
    status = 0
    for runtime in runtimes:
        if if_missing and (PROVISIONED / runtime / "interpreter.json").is_file():
            print(f"provision-python: {runtime} already provisioned in {PROVISIONED / runtime}")
            continue
        try:
            provision(runtime)
            found = find(runtime, {})
            print(f"provision-python: {runtime} ready: {found.describe()}")
        except (ProvisionError, InterpreterMissing) as e:
            try:
                other = find(runtime, {})
            except InterpreterMissing:
                print(f"provision-python: {e}", file=sys.stderr)
                status = 1
                continue
            print(f"provision-python: warning: {e}; using {other.describe()} instead", file=sys.stderr)
    return status
