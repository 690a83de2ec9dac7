"""Deterministic builds and the glibc check of the layer against runtimes."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.stack import build
from harness.stack.elf import glibc_needs, runtime_compatibility

REPO = Path(__file__).resolve().parents[1]


def test_package_zip_builds_to_the_same_sha256_twice(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(REPO / "lambda_src", src, ignore=shutil.ignore_patterns("__pycache__"))
    a = build.build_package(src, tmp_path / "a.zip", cache=False)
    (src / "video_processor" / "hello.txt").write_text("x")  # touch the tree: mtimes change, bytes don't
    (src / "video_processor" / "hello.txt").unlink()
    b = build.build_package(src, tmp_path / "b.zip", cache=False)
    assert a.sha256 == b.sha256
    (src / "video_processor" / "extra.py").write_text("X = 1\n")
    assert build.build_package(src, tmp_path / "c.zip", cache=False).sha256 != a.sha256


def test_layer_build_refuses_an_unpinned_binary(tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_bytes(b"\x7fELF not really")
    with pytest.raises(build.BuildError, match="pins"):
        build.build_layer(tmp_path / "l.zip", binary=fake, cache=False)


def test_layer_is_deterministic_and_holds_bin_ffmpeg(tmp_path: Path) -> None:
    import zipfile

    a = build.build_layer(tmp_path / "a.zip", cache=False)
    b = build.build_layer(tmp_path / "b.zip", cache=False)
    assert a.sha256 == b.sha256
    with zipfile.ZipFile(a.path) as zf:
        info = zf.getinfo("bin/ffmpeg")
        assert (info.external_attr >> 16) & 0o111, "bin/ffmpeg must be executable"


def test_the_pinned_ffmpeg_is_static_and_runs_on_python311() -> None:
    needs = glibc_needs(build.ffmpeg_source())
    assert needs.static
    assert runtime_compatibility(needs, "python3.11")[0]


def test_a_binary_needing_newer_glibc_is_rejected_for_amazon_linux_2() -> None:
    candidates = [Path(p) for p in ("/usr/bin/ls", "/bin/ls", "/usr/bin/python3")]
    binary = next(p for p in candidates if p.exists())
    needs = glibc_needs(binary)
    assert not needs.static and needs.max_glibc is not None
    if needs.max_glibc <= (2, 26):
        pytest.skip(f"{binary} needs only glibc {needs.max_glibc}; nothing newer than AL2 to test with")
    ok, line = runtime_compatibility(needs, "python3.11")
    assert not ok and "Amazon Linux 2" in line and "2.26" in line
    assert runtime_compatibility(needs, "python3.12")[0] == (needs.max_glibc <= (2, 34))


def test_unknown_runtime_is_an_error() -> None:
    ok, line = runtime_compatibility(glibc_needs(build.ffmpeg_source()), "nodejs20.x")
    assert not ok and "nodejs20.x" in line


def test_dependencies_install_for_lambdas_platform_and_the_declared_python() -> None:
    """As AWS tells Lambda users: manylinux2014 wheels for the runtime's Python, never the host's builds."""
    from pathlib import Path

    args = build.pip_install_args(Path("req.txt"), Path("out"), "python3.12")
    assert args[args.index("--platform") + 1] == "manylinux2014_x86_64"
    assert args[args.index("--python-version") + 1] == "3.12"
    assert "--only-binary=:all:" in args and "--implementation" in args
    with pytest.raises(build.BuildError, match="'nodejs20.x'"):
        build.pip_install_args(Path("req.txt"), Path("out"), "nodejs20.x")
