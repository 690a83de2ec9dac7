"""The video-fixture generator: completeness, determinism, caching and xdist safety."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.videos import DEFAULT_NAMES, LARGE_NAMES, Manifest, default_cache_dir, ensure_fixtures
from fixtures.videos import generate as gen
from fixtures.videos.specs import SPECS_BY_NAME

REPO = Path(__file__).resolve().parents[1]
DETERMINISM_SUBSET = frozenset({"standard_720p", "short_3s"})
CHEAP_SUBSET = frozenset({"zero_byte_mp4", "text_as_mp4"})  # no encoding: fast cache tests


@pytest.fixture(scope="session")
def video_manifest() -> Manifest:
    """Default matrix, generated once into the (shared, locked) default cache."""
    return ensure_fixtures()


def test_default_matrix_is_complete(video_manifest: Manifest) -> None:
    assert set(video_manifest.names()) == set(DEFAULT_NAMES)
    assert "tier_1gb" not in video_manifest
    for fx in video_manifest:
        assert fx.path.is_file(), fx.name
        assert fx.path.stat().st_size == fx.size, fx.name
        assert fx.tier == "default"
        if fx.broken:
            assert fx.expected["status"] == "FAILED" and fx.expected["reason_class"], fx.name
        else:
            assert fx.expected == {"status": "COMPLETED", "segment_duration": 10,
                                   "segments": fx.expected_segments(10)}, fx.name


def test_manifest_json_round_trips(video_manifest: Manifest) -> None:
    on_disk = Manifest.load(video_manifest.path)
    assert on_disk.generator_version == gen.GENERATOR_VERSION
    for fx in video_manifest:
        assert on_disk[fx.name] == fx
        assert on_disk[fx.name].path == fx.path
    raw = json.loads(video_manifest.path.read_text(encoding="utf-8"))
    assert raw["schema_version"] == 1
    entry = raw["fixtures"]["standard_720p"]
    for key in ("name", "file", "size", "sha256", "duration", "streams", "container",
                "keyframe_interval", "tier", "broken", "expected", "keyframe_times",
                "params_hash", "observed"):
        assert key in entry
    assert "path" not in entry and "root" not in entry  # relative only, relocatable


def test_expected_outcomes_are_the_documented_ones(video_manifest: Manifest) -> None:
    segs = {fx.name: fx.expected.get("segments") for fx in video_manifest if not fx.broken}
    assert segs == {
        "standard_720p": 3, "standard_mov": 3, "standard_mkv": 3, "standard_webm": 3,
        "portrait_1080x1920": 2, "no_audio": 3, "audio_only": 3, "short_3s": 1,
        "variable_frame_rate": 2, "odd_resolution_641x359": 2, "unicode_name": 3,
        "tier_10mb": 2, "tier_100mb": 12,
    }
    reasons = {fx.name: fx.expected["reason_class"] for fx in video_manifest if fx.broken}
    assert reasons == {"truncated_mp4": "invalid_media", "random_bytes_mp4": "invalid_media",
                       "zero_byte_mp4": "empty_file", "text_as_mp4": "invalid_media"}


def test_size_tiers_are_about_their_size(video_manifest: Manifest) -> None:
    assert 9e6 < video_manifest["tier_10mb"].size < 12e6
    assert 90e6 < video_manifest["tier_100mb"].size < 115e6
    assert LARGE_NAMES == {"tier_1gb"}
    assert SPECS_BY_NAME["tier_1gb"].recipe["count"] * 4 == 1200  # 20 min at ~6.6 Mbit/s


def test_generation_is_deterministic(tmp_path: Path, video_manifest: Manifest) -> None:
    a = ensure_fixtures(tmp_path / "a", only=DETERMINISM_SUBSET)
    b = ensure_fixtures(tmp_path / "b", only=DETERMINISM_SUBSET)
    assert set(a.names()) == set(b.names()) == DETERMINISM_SUBSET
    for name in DETERMINISM_SUBSET:
        assert a[name].sha256 == b[name].sha256 == video_manifest[name].sha256, name
        assert a[name].to_dict() == b[name].to_dict() == video_manifest[name].to_dict(), name
    # only the requested fixtures (and their inputs) were built; never the 1 GB tier
    assert not list((tmp_path / "a").glob("tier_*"))


def test_cache_is_reused_and_invalidated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m1 = ensure_fixtures(tmp_path, only=CHEAP_SUBSET)
    text = m1["text_as_mp4"].path
    mtime = text.stat().st_mtime_ns
    m2 = ensure_fixtures(tmp_path, only=CHEAP_SUBSET)
    assert text.stat().st_mtime_ns == mtime and m2["text_as_mp4"] == m1["text_as_mp4"]

    text.write_bytes(b"tampered")  # size changed -> rebuilt
    m3 = ensure_fixtures(tmp_path, only=CHEAP_SUBSET)
    assert m3["text_as_mp4"].sha256 == m1["text_as_mp4"].sha256

    monkeypatch.setattr(gen, "GENERATOR_VERSION", "test-bump")
    m4 = ensure_fixtures(tmp_path, only=CHEAP_SUBSET)
    assert m4.generator_version == "test-bump"
    assert m4["text_as_mp4"].params_hash != m1["text_as_mp4"].params_hash
    assert m4["text_as_mp4"].sha256 == m1["text_as_mp4"].sha256


def test_partial_builds_merge_into_one_manifest(tmp_path: Path) -> None:
    ensure_fixtures(tmp_path, only={"zero_byte_mp4"})
    ensure_fixtures(tmp_path, only={"text_as_mp4"})
    assert set(Manifest.load(tmp_path).names()) == {"zero_byte_mp4", "text_as_mp4"}


def test_concurrent_generation_is_safe(tmp_path: Path) -> None:
    """Two processes (as under pytest-xdist) racing on one cache dir both succeed."""
    code = ("import sys; from fixtures.videos import ensure_fixtures; "
            "m = ensure_fixtures(sys.argv[1], only={'zero_byte_mp4', 'random_bytes_mp4'}); "
            "print(m['random_bytes_mp4'].sha256)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len({o[0] for o in outs}) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".tmp-", ".cut-"))]


def test_unknown_fixture_name_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        ensure_fixtures(tmp_path, only={"no_such_fixture"})


def test_cache_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEO_FIXTURES_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("VIDEO_FIXTURES_CACHE")
    assert default_cache_dir() == REPO / "fixtures" / "videos" / "cache"


def test_cli_prints_manifest_path(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fixtures.videos", "--cache-dir", str(tmp_path), "--only",
         "zero_byte_mp4"], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == (tmp_path / "manifest.json").resolve()
