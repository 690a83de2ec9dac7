"""Which glibc a binary needs, against the glibc of a Lambda runtime's OS.

A dynamically linked binary carries version needs (GLIBC_2.28, ...) in its
.gnu.version_r section; the loader refuses to start it on an older glibc. A
static binary has no interpreter and no needs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.stack.errors import CheckNotRun

# The OS under each managed Python runtime, and its glibc.
RUNTIME_GLIBC: dict[str, tuple[int, int]] = {
    "python3.8": (2, 26), "python3.9": (2, 26), "python3.10": (2, 26), "python3.11": (2, 26),
    "python3.12": (2, 34), "python3.13": (2, 34), "python3.14": (2, 34),
}
RUNTIME_OS = {(2, 26): "Amazon Linux 2", (2, 34): "Amazon Linux 2023"}
_GLIBC = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True)
class GlibcNeeds:
    path: str
    static: bool
    interpreter: str | None
    needed_libs: tuple[str, ...]
    glibc_versions: tuple[str, ...]

    @property
    def max_glibc(self) -> tuple[int, int] | None:
        found = [(int(m.group(1)), int(m.group(2))) for v in self.glibc_versions if (m := _GLIBC.match(v))]
        return max(found) if found else None


ELF_READER_INSTALL = "pip install 'pyelftools>=0.31,<1' (pyproject.toml declares it: `make setup` installs it)"


def glibc_needs(path: Path) -> GlibcNeeds:
    """Read the binary's loader needs; CheckNotRun when the ELF reader or the binary is missing."""
    try:
        import elftools  # noqa: F401
    except ImportError as exc:
        raise CheckNotRun(f"no ELF reader to read {Path(path).name} ({exc})", ELF_READER_INSTALL,
                          tool="pyelftools") from exc
    if not Path(path).is_file():
        raise CheckNotRun(f"the ffmpeg binary {path} does not exist",
                          "`make setup` installs the pinned imageio-ffmpeg wheel that holds it, "
                          "or pass --ffmpeg-binary PATH", tool="ffmpeg")
    with open(path, "rb") as fh:
        return glibc_needs_of(fh, str(path))


def glibc_needs_of(stream, name: str) -> GlibcNeeds:
    """The loader needs of an ELF file read from a seekable stream (a file, or a member of a zip)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection

    try:
        elf = ELFFile(stream)
        interp = None
        for seg in elf.iter_segments():
            if seg.header.p_type == "PT_INTERP":
                interp = seg.get_interp_name()
        libs, versions = [], []
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                libs += [t.needed for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
            if isinstance(section, GNUVerNeedSection):
                for _verneed, auxs in section.iter_versions():
                    versions += [aux.name for aux in auxs]
    except (ELFError, OSError) as exc:
        raise ValueError(f"{name} is not a readable ELF binary: {exc}") from exc
    return GlibcNeeds(name, static=interp is None and not libs, interpreter=interp,
                      needed_libs=tuple(libs), glibc_versions=tuple(sorted(set(versions))))


def runtime_compatibility(needs: GlibcNeeds, runtime: str) -> tuple[bool, str]:
    """(ok, one line) for running `needs` on the OS of `runtime`."""
    have = RUNTIME_GLIBC.get(runtime)
    if have is None:
        return False, f"runtime {runtime!r} is not a known Python runtime ({', '.join(RUNTIME_GLIBC)})"
    os_name = RUNTIME_OS[have]
    if needs.static:
        return True, f"{Path(needs.path).name} is statically linked: runs on {runtime} ({os_name}, glibc {have[0]}.{have[1]})"
    need = needs.max_glibc
    if need is None:
        return True, f"{Path(needs.path).name} needs no versioned glibc symbols"
    if need > have:
        return False, (f"{Path(needs.path).name} needs GLIBC_{need[0]}.{need[1]} but {runtime} runs on "
                       f"{os_name} with glibc {have[0]}.{have[1]}: the layer cannot start there")
    return True, f"{Path(needs.path).name} needs GLIBC_{need[0]}.{need[1]} <= {have[0]}.{have[1]} on {runtime} ({os_name})"
