"""The Late Fusion network: structure, parity with the released code, and the HDF5 loader."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.errors import WeightsError
from tests.conftest import SHARED, import_or_skip, requires_shared
from tests.latefusion_fixtures import write_keras2_h5

REFERENCE = SHARED / "reference" / "latefusion"
PROBES = {  # parity array -> layer whose output it is
    "fg_logit": "deFG_side_0_conv3", "bg_logit": "deBG_side_0_conv3", "beta_logit": "fusion_conv_output",
    "fg_features": "deFG_side_0_conv2", "bg_features": "deBG_side_0_conv2", "bn": "bn",
}
OUTPUTS = ("alpha", "fg", "bg", "beta")

import_or_skip("tf_keras")


@pytest.fixture(scope="module")
def parity_input() -> np.ndarray:
    if (REFERENCE / "parity_input.npy").is_file():
        return np.load(REFERENCE / "parity_input.npy")
    rng = np.random.default_rng(7)  # a fresh clone: any 96x64 image exercises the loader
    return rng.integers(0, 256, (96, 64, 3), dtype=np.uint8)


def run_all(model, image_uint8: np.ndarray) -> dict[str, np.ndarray]:
    """Every parity array: the four outputs and the probed intermediate layers."""
    import tf_keras

    from fusionmat.engines.latefusion_net.model import preprocess

    probe = tf_keras.Model(model.input, [*model.outputs, *(model.get_layer(n).output for n in PROBES.values())])
    values = probe(preprocess(image_uint8 / 255.0)[None], training=False)
    names = [*OUTPUTS, *PROBES]
    return {name: np.squeeze(v.numpy()[0]) for name, v in zip(names, values)}


def test_structure_has_the_published_size(recipe_model):
    from fusionmat.engines.latefusion_net.model import weighted_layers

    assert recipe_model.count_params() == 37_909_379
    assert len(weighted_layers(recipe_model)) == 450
    assert recipe_model.get_layer("conv1/conv").weights[0].shape == (7, 7, 3, 64)


def test_input_must_be_a_multiple_of_32():
    from fusionmat.engines.latefusion_net.model import build_latefusion

    with pytest.raises(ValueError, match="multiples of 32"):
        build_latefusion(100, 64)


@requires_shared
def test_every_weighted_layer_matches_the_manifest(recipe_model):
    from fusionmat.engines.latefusion_net.model import weighted_layers

    manifest = json.loads((REFERENCE / "manifest.json").read_text())
    ours = [(layer.name, type(layer).__name__, [[f"{layer.name}/{w.name.rsplit('/', 1)[-1]}", list(w.shape)]
                                               for w in layer.weights]) for layer in weighted_layers(recipe_model)]
    theirs = [(entry["layer"], entry["class"], entry["weights"]) for entry in manifest["layers"]]
    assert sorted(ours) == sorted(theirs)
    assert manifest["total_params"] == recipe_model.count_params()


@requires_shared
def test_parity_with_the_released_code(recipe_model, parity_input):
    expected = np.load(REFERENCE / "parity_expected.npz")
    got = run_all(recipe_model, parity_input)
    for name in OUTPUTS:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-4, rtol=0, err_msg=name)
    for name in PROBES:  # encoder, decoders and fusion checked separately
        tol = 1e-4 * float(np.std(expected[name]))
        np.testing.assert_allclose(got[name], expected[name], atol=tol, rtol=0, err_msg=name)


@pytest.fixture(scope="module")
def h5_files(tmp_path_factory, recipe_model):
    folder = tmp_path_factory.mktemp("h5")
    return {
        "weights_only": write_keras2_h5(folder / "weights_only.h5", recipe_model, extra_layer=True),
        "whole_model": write_keras2_h5(folder / "whole_model.h5", recipe_model, whole_model=True),
        "str_names": write_keras2_h5(folder / "str_names.h5", recipe_model, bytes_names=False),
    }


def test_cli_loads_keras2_file_and_reproduces_parity(h5_files, recipe_model, parity_input, tmp_path):
    from fusionmat.cli import main

    Image.fromarray(parity_input).save(tmp_path / "parity.png")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "parity.png"), "--engine", "latefusion",
                                       "-E", f"weights={h5_files['weights_only']}", "-E", "size=64x96"])
    assert result.exit_code == 0, result.output
    matte = np.asarray(Image.open(tmp_path / "parity_matting.png"), dtype=np.float32) / 255.0
    if (REFERENCE / "parity_expected.npz").is_file():
        expected = np.load(REFERENCE / "parity_expected.npz")["alpha"]
    else:
        expected = run_all(recipe_model, parity_input)["alpha"]
    assert matte.shape == expected.shape
    assert np.abs(matte - expected).max() <= 0.5 / 255 + 1e-4  # 8-bit rounding only
    concat = Image.open(tmp_path / "parity_concat.jpg")
    assert concat.size == (128, 96)


@pytest.mark.parametrize("variant", ["str_names", "whole_model"])
def test_loader_reads_every_layout(variant, h5_files, recipe_model, parity_input):
    """Names stored as str (not bytes), and a whole saved model (weights under model_weights/)."""
    from fusionmat.engines.latefusion_net.h5weights import load_h5_weights
    from fusionmat.engines.latefusion_net.model import build_latefusion

    model = build_latefusion(96, 64)
    report = load_h5_weights(model, h5_files[variant])
    assert len(report.loaded) == 450 and not report.skipped_missing
    np.testing.assert_allclose(run_all(model, parity_input)["alpha"], run_all(recipe_model, parity_input)["alpha"],
                               atol=1e-6)
    if variant == "str_names":
        assert load_h5_weights(model, h5_files["weights_only"]).extra_in_file == ["loss_head"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rename": {"deFG_deconv3_conv": "deFG_deconv3_conv_renamed"}}, "1 missing layer(s) (deFG_deconv3_conv)"),
        ({"reshape": "fusion_conv2"}, "fusion_conv2/kernel:0: file (3, 3, 128, 127), model (3, 3, 128, 128)"),
        ({"drop_prefix": "fusion_"}, "missing layer(s) (fusion_convrgb, fusion_bnrgb, fusion_conv0"),
    ],
)
def test_file_that_does_not_fit_is_refused_by_name(kwargs, message, recipe_model, tmp_path):
    from fusionmat.engines.latefusion_net.h5weights import load_h5_weights

    path = write_keras2_h5(tmp_path / "bad.h5", recipe_model, **kwargs)
    before = recipe_model.get_layer("fusion_conv2").get_weights()[0].copy()
    with pytest.raises(WeightsError) as info:
        load_h5_weights(recipe_model, path)
    assert message in str(info.value) and str(path) in str(info.value)
    np.testing.assert_array_equal(recipe_model.get_layer("fusion_conv2").get_weights()[0], before)  # untouched


def test_partial_loads_classifier_stage_file_loudly(recipe_model, tmp_path):
    from fusionmat.engines.latefusion_net.h5weights import load_h5_weights

    path = write_keras2_h5(tmp_path / "stage1.h5", recipe_model, drop_prefix="fusion_")
    report = load_h5_weights(recipe_model, path, allow_missing=("fusion_",))
    assert len(report.skipped_missing) == 13 and len(report.loaded) == 437  # convrgb, bnrgb, 5 conv+bn, output


def test_not_a_weights_file(tmp_path, recipe_model):
    from fusionmat.engines.latefusion_net.h5weights import load_h5_weights

    junk = tmp_path / "junk.h5"
    junk.write_text("hello")
    with pytest.raises(WeightsError, match="not an HDF5 file"):
        load_h5_weights(recipe_model, junk)


def test_missing_weights_file_says_where_it_looked(tmp_path, monkeypatch):
    from fusionmat.cli import main

    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path))
    Image.new("RGB", (64, 64)).save(tmp_path / "x.png")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "x.png"), "--engine", "latefusion"])
    assert result.exit_code == 1
    assert "Late Fusion weights not found (looked at" in result.output and "-E weights=FILE" in result.output


def test_inference_size_rules():
    from fusionmat.engines.latefusion import inference_size, parse_size

    assert inference_size(960, 640) == (800, 544)
    assert inference_size(640, 960, long_side=960) == (640, 960)
    assert all(v % 32 == 0 for v in inference_size(1234, 567))
    assert parse_size("608x800") == (800, 608)  # WIDTHxHEIGHT in, (height, width) out
    with pytest.raises(ValueError, match="multiples of 32"):
        parse_size("800x600")


TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|absl::InitializeLog|TensorFlow binary is optimized|"
                         r"rebuild TensorFlow|oneDNN custom operations|cuInit|"
                         r"Failed to load _ML|has not been tested with coremltools")
"""A line that TensorFlow's C++ logging (or absl's) printed, or coremltools as it loads."""


def stderr_of(code: str, *args: str) -> list[str]:
    """Standard error's lines of ``python -c code args`` run from the repository, with TensorFlow's
    log level left to fusionmat (as a user's shell does)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parent.parent, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_latefusion_runs_without_tensorflow_start_up_lines(h5_files, tmp_path):
    """absl, the CPU-feature note and, on a machine without an NVIDIA driver, the CUDA probe
    (``failed call to cuInit``) are not a user's business."""
    code = """
import sys
import numpy as np
from fusionmat.engines.latefusion import LateFusionEngine

engine = LateFusionEngine(weights=sys.argv[1], size=(96, 64))
print(engine.predict(np.zeros((96, 64, 3), np.float32)).shape)
"""
    lines = stderr_of(code, str(h5_files["weights_only"]))
    assert [line for line in lines if TF_LOG_LINE.search(line)] == []


@pytest.mark.parametrize("fmt, name", [("onnx", "m.onnx"), ("coreml", "m.mlpackage")])
def test_export_runs_without_tensorflow_start_up_lines(tmp_path, fmt, name):
    code = """
import sys
import fusionmat.export.convert as convert
from fusionmat.cli import main
from fusionmat.engines.latefusion_net.model import MEAN_PIXEL

def stand_in(weights, h, w, partial=False):
    def core(centred):  # called by for_export, which has imported TensorFlow by then (fusionmat's import)
        import tf_keras

        matte = tf_keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(centred)
        return [matte, matte]

    return convert.for_export(core, h, w, MEAN_PIXEL)

convert.deployable_model = stand_in
main(sys.argv[1:])
"""
    weights = tmp_path / "stand_in.h5"
    weights.write_bytes(b"the stand-in needs no file")
    lines = stderr_of(code, "export", "--format", fmt, "--size", "64x96", "--weights", str(weights),
                      "-o", str(tmp_path / name))
    assert [line for line in lines if TF_LOG_LINE.search(line)] == []
    assert lines[0].startswith("[1/2] building the network") and (tmp_path / name).exists()


def test_only_the_lines_named_are_filtered_from_native_stderr(capfd):
    """What TensorFlow writes that is not known start-up noise (a real error) still shows."""
    import os

    from fusionmat.quiet import native_stderr_filtered

    with native_stderr_filtered(lambda line: "noise" in line):
        os.write(2, b"noise: a CUDA probe\nE0000 a real error\nmore noise\npartial line without newline")
    assert capfd.readouterr().err == "E0000 a real error\npartial line without newline"
