from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat import __version__
from fusionmat.cli import main
from fusionmat.engines import weights
from tests.conftest import requires_weights


def all_commands(group=main, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("command", [(), *all_commands()])
def test_every_command_has_help_with_text(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_help_and_version_do_not_import_heavy_modules():
    code = ("import sys; from fusionmat.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('tensorflow', 'cv2', 'pymatting', 'tf_keras', 'onnxruntime') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "HEAVY []" in out


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "fusionmat", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


@pytest.fixture
def photo_dir(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "astro.png")
    return tmp_path


@requires_weights
def test_predict_writes_aligned_outputs(photo_dir, astronaut):
    result = CliRunner().invoke(main, ["predict", str(photo_dir / "astro.png"), "--cutout"])
    assert result.exit_code == 0, result.output
    matte = Image.open(photo_dir / "astro_matting.png")
    assert matte.mode == "L" and matte.size == (512, 512)
    concat = Image.open(photo_dir / "astro_concat.jpg")
    assert concat.mode == "RGB" and concat.size == (1024, 512)
    both = np.asarray(concat, dtype=np.float32)
    assert np.abs(both[:, :512] - astronaut).mean() < 3  # left: the input (JPEG error only)
    assert np.abs(both[:, 512:, 0] - np.asarray(matte, np.float32)).mean() < 3  # right: the matte
    cutout = np.asarray(Image.open(photo_dir / "astro_cutout.png"))
    assert cutout.shape == (512, 512, 4)
    np.testing.assert_array_equal(cutout[..., 3], np.asarray(matte))
    assert sorted(p.name for p in photo_dir.iterdir()) == [
        "astro.png", "astro_concat.jpg", "astro_cutout.png", "astro_matting.png"]


@requires_weights
@pytest.mark.parametrize("orientation, stored_rot", [(3, 2), (6, 1), (8, -1)])
def test_predict_follows_exif_orientation(tmp_path, astronaut, orientation, stored_rot):
    wide = np.ascontiguousarray(astronaut[:, 56:456])  # 512 x 400: orientation changes the size
    Image.fromarray(wide).save(tmp_path / "upright.png")
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(wide, stored_rot)))
    exif = stored.getexif()
    exif[0x0112] = orientation
    stored.save(tmp_path / "tagged.png", exif=exif)
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "upright.png"), str(tmp_path / "tagged.png")])
    assert result.exit_code == 0, result.output
    upright = np.asarray(Image.open(tmp_path / "upright_matting.png"))
    tagged = np.asarray(Image.open(tmp_path / "tagged_matting.png"))
    assert tagged.shape == upright.shape == (512, 400)
    np.testing.assert_array_equal(tagged, upright)


@requires_weights
def test_predict_out_dir(photo_dir, tmp_path):
    out = tmp_path / "results" / "deep"
    result = CliRunner().invoke(main, ["predict", str(photo_dir / "astro.png"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["astro_concat.jpg", "astro_matting.png"]


@requires_weights
def test_bad_input_is_one_line_error_and_others_still_done(photo_dir):
    bad = photo_dir / "notes.jpg"
    bad.write_text("not a photo")
    result = CliRunner().invoke(main, ["predict", str(bad), str(photo_dir / "astro.png")])
    assert result.exit_code == 1
    assert f"error: {bad}: not an image Pillow can read\n" in result.output
    assert "1 of 2 image(s) failed" in result.output
    assert (photo_dir / "astro_matting.png").exists()
    assert not (photo_dir / "notes_matting.png").exists()
    assert not [p for p in photo_dir.iterdir() if p.name.startswith(".")]  # no temp files left


@requires_weights
def test_never_overwrites_an_input(photo_dir):
    precious = photo_dir / "astro_concat.jpg"
    precious.write_bytes(b"my own file, not an output")
    result = CliRunner().invoke(main, ["predict", str(photo_dir / "astro.png"), str(precious)])
    assert result.exit_code == 1
    assert "refusing to overwrite an input file" in result.output
    assert precious.read_bytes() == b"my own file, not an output"


@requires_weights
def test_two_inputs_with_one_stem_do_not_clobber(photo_dir, astronaut):
    Image.fromarray(astronaut).save(photo_dir / "astro.jpg")
    result = CliRunner().invoke(main, ["predict", str(photo_dir / "astro.png"), str(photo_dir / "astro.jpg")])
    assert result.exit_code == 1
    assert "would overwrite those of" in result.output


def test_missing_weights_say_what_to_run(photo_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path / "empty"))
    result = CliRunner().invoke(main, ["predict", str(photo_dir / "astro.png")])
    assert result.exit_code == 1
    assert "model file missing; run `fusionmat weights fetch`" in result.output
    assert not (photo_dir / "astro_matting.png").exists()


@requires_weights
def test_tampered_weights_are_refused(photo_dir, monkeypatch, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(weights.weights_home(), home)
    target = home / "selfie_segmentation.tflite"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    monkeypatch.setenv("FUSIONMAT_HOME", str(home))
    result = CliRunner().invoke(main, ["predict", str(photo_dir / "astro.png")])
    assert result.exit_code == 1
    assert "selfie_segmentation.tflite: sha256 mismatch" in result.output
    listing = CliRunner().invoke(main, ["weights", "list"])
    assert "corrupt  selfie_segmentation.tflite" in listing.output


def test_engine_options_come_from_the_engines_declaration(photo_dir):
    result = CliRunner().invoke(main, ["predict", str(photo_dir / "astro.png"), "-E", "weights=x.h5"])
    assert result.exit_code == 2 and "engine modnet has no option 'weights' (it takes long_side" in result.output
    bad = CliRunner().invoke(main, ["predict", str(photo_dir / "astro.png"), "-E", "long_side=abc"])
    assert bad.exit_code == 2 and "engine option long_side must be a whole number" in bad.output
    listing = CliRunner().invoke(main, ["engines"])
    assert listing.exit_code == 0 and "-E long_side=" in listing.output and "-E weights=" in listing.output


@requires_weights
def test_default_engine_never_imports_tensorflow(photo_dir):
    code = ("import sys; from fusionmat.cli import main\n"
            f"try: main(['predict', {str(photo_dir / 'astro.png')!r}])\n"
            "except SystemExit as e: assert e.code in (0, None)\n"
            "print('TF', [m for m in ('tensorflow', 'tf_keras', 'keras') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "TF []" in out.stdout, out.stdout + out.stderr
    assert (photo_dir / "astro_matting.png").exists()


@requires_weights
def test_predict_turns_a_sideways_photo_upright_and_back(tmp_path, astronaut):
    Image.fromarray(np.ascontiguousarray(np.rot90(astronaut, 1))).save(tmp_path / "side.png")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "side.png"), "--save-steps", str(tmp_path / "steps")])
    assert result.exit_code == 0, result.output
    assert "step 1: rotate, turned -90.0 degrees" in result.output
    assert (tmp_path / "steps" / "side_1_rotate.jpg").is_file()
    matte = np.asarray(Image.open(tmp_path / "side_matting.png"))
    assert matte.shape == (512, 512)
    upright = np.rot90(matte, -1)
    assert upright[100:160, 190:260].mean() > 240  # her face, back in the input's orientation
    assert upright[:60, :60].mean() < 15  # the flag corner stays background


@requires_weights
def test_predict_with_explicit_steps(photo_dir):
    astro = str(photo_dir / "astro.png")
    result = CliRunner().invoke(main, ["predict", astro, "--rotate", "none", "--crop", "50,0,400,512"])
    assert result.exit_code == 0, result.output
    matte = np.asarray(Image.open(photo_dir / "astro_matting.png"))
    assert matte.shape == (512, 512) and matte[:, :40].max() == 0  # zero outside the crop (and its band)
    assert matte[100:160, 190:260].mean() > 240
    result = CliRunner().invoke(main, ["predict", astro, "--rotate", "15", "--crop", "none", "--aspect", "4:3"])
    assert result.exit_code == 0, result.output
    matte = np.asarray(Image.open(photo_dir / "astro_matting.png"))
    assert matte.shape == (512, 512) and matte[100:160, 190:260].mean() > 240


@pytest.mark.parametrize("option, value, message", [("--rotate", "sideways", "rotate must be auto, none or an angle"),
                                                    ("--crop", "1,2,3", "crop must be auto, none or X,Y,W,H"),
                                                    ("--aspect", "wide", "aspect must be none, W:H")])
def test_bad_preprocessing_values_are_usage_errors(photo_dir, option, value, message):
    result = CliRunner().invoke(main, ["predict", str(photo_dir / "astro.png"), option, value])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize("given,expected", [(None, "1"), ("3", "3")])
def test_cli_keeps_blas_single_threaded_unless_told(given, expected):
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    script = "import os, fusionmat.cli; print(os.environ['OPENBLAS_NUM_THREADS'])"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == expected
