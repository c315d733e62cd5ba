"""Exports of the Late Fusion network, run back through each runtime against the Keras model.

Each conversion of the full DenseNet-201 network takes 30-80 s on a 2-core machine, so the
quantized TFLite variants are measured by benchmarks/export.py rather than here.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
from click.testing import CliRunner

from fusionmat.cli import main
from tests.conftest import SHARED

pytest.importorskip("tf_keras")
PARITY = SHARED / "reference" / "latefusion" / "parity_input.npy"
HEIGHT, WIDTH = 96, 64


@pytest.fixture(scope="module")
def recipe_h5(tmp_path_factory):
    from fusionmat.latefusion.model import build_latefusion
    from tests.latefusion_fixtures import write_keras2_h5

    return write_keras2_h5(tmp_path_factory.mktemp("w") / "recipe.h5", build_latefusion())


@pytest.fixture(scope="module")
def parity_image() -> np.ndarray:
    """The reference's parity input (a fresh clone: any 96x64 image), as the exports take it."""
    if PARITY.is_file():
        image = np.load(PARITY)
    else:
        image = np.random.default_rng(7).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return image.astype(np.float32)[None]


@pytest.fixture(scope="module")
def keras_matte(recipe_h5, parity_image) -> np.ndarray:
    from fusionmat.export import deployable_model

    return deployable_model(recipe_h5, HEIGHT, WIDTH)(parity_image).numpy()


def export(tmp_path, recipe_h5, fmt, name, *extra):
    out = tmp_path / name
    args = ["export", "--format", fmt, "--size", f"{HEIGHT}x{WIDTH}", "--weights", str(recipe_h5), "-o", str(out), *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{out}: {fmt}" in result.output and "MB, converted in" in result.output
    print(result.output.strip())  # size and conversion time, for the record (pytest -s)
    return out


def test_keras_export_model_matches_the_released_network(keras_matte):
    """The deployable graph (mean subtraction inside) gives the reference's alpha on the parity input."""
    expected = SHARED / "reference" / "latefusion" / "parity_expected.npz"
    if not expected.is_file():
        pytest.skip("../shared/reference/latefusion (parity arrays) is only present in CI")
    np.testing.assert_allclose(keras_matte[0, ..., 0], np.load(expected)["alpha"], atol=1e-4)


def test_savedmodel(tmp_path, recipe_h5, parity_image, keras_matte):
    import tensorflow as tf

    out = export(tmp_path, recipe_h5, "savedmodel", "latefusion_savedmodel")
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    matte = serve(image=tf.constant(parity_image))["matte"].numpy()
    assert matte.shape == (1, HEIGHT, WIDTH, 1)
    np.testing.assert_allclose(matte, keras_matte, atol=1e-3)


def run_tflite(path, image) -> np.ndarray:
    from fusionmat.tflite import TFLiteModel

    model = TFLiteModel(path, threads=2)
    assert model.input_size == (HEIGHT, WIDTH)
    (matte,) = model.run(image).values()
    return matte


def test_tflite_float32(tmp_path, recipe_h5, parity_image, keras_matte):
    out = export(tmp_path, recipe_h5, "tflite", "latefusion.tflite")
    np.testing.assert_allclose(run_tflite(out, parity_image), keras_matte, atol=1e-3)


def test_onnx(tmp_path, recipe_h5, parity_image, keras_matte):
    import onnx
    import onnxruntime

    out = export(tmp_path, recipe_h5, "onnx", "latefusion.onnx")
    assert max(op.version for op in onnx.load(str(out)).opset_import if op.domain in ("", "ai.onnx")) >= 17
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    (matte,) = session.run(["matte"], {"image": parity_image})
    np.testing.assert_allclose(matte, keras_matte, atol=1e-3)


@pytest.fixture(scope="module")
def coreml_package(tmp_path_factory, recipe_h5):
    return export(tmp_path_factory.mktemp("coreml"), recipe_h5, "coreml", "LateFusion.mlpackage")


def test_coreml_package_has_an_image_input_and_a_matte_output(coreml_package):
    import coremltools as ct

    spec = ct.models.MLModel(str(coreml_package), skip_model_load=True).get_spec()
    assert spec.WhichOneof("Type") == "mlProgram"
    (image,) = spec.description.input
    assert image.name == "image" and image.type.WhichOneof("Type") == "imageType"
    assert (image.type.imageType.height, image.type.imageType.width) == (HEIGHT, WIDTH)
    assert image.type.imageType.colorSpace == ct.proto.FeatureTypes_pb2.ImageFeatureType.RGB
    (matte,) = spec.description.output
    assert matte.name == "matte" and list(matte.type.multiArrayType.shape) == [1, HEIGHT, WIDTH, 1]
    meta = spec.description.metadata
    assert meta.userDefined["input_size"] == f"{HEIGHT}x{WIDTH}" and "Zhang" in meta.license


def test_coreml_prediction(coreml_package, parity_image, keras_matte):
    if sys.platform != "darwin":
        pytest.skip("Core ML prediction needs macOS; on this platform only the package and its spec are checked")
    import coremltools as ct
    from PIL import Image

    model = ct.models.MLModel(str(coreml_package))
    matte = model.predict({"image": Image.fromarray(parity_image[0].astype(np.uint8))})["matte"]
    np.testing.assert_allclose(matte, keras_matte, atol=1e-3)


def test_export_without_weights_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["export", "--format", "tflite", "--size", "96x64", "-o", "x.tflite"])
    assert result.exit_code == 1 and "latefusion.h5" in result.output
    assert not (tmp_path / "x.tflite").exists()


@pytest.mark.parametrize("args, message", [(["--size", "100x64"], "multiples of 32"),
                                           (["--size", "96x64", "--format", "onnx", "--quantize", "dynamic"],
                                            "applies to --format tflite only")])
def test_export_usage_errors(args, message):
    base = {"--format": "tflite"}
    if "--format" not in args:
        args = [*args, "--format", base["--format"]]
    result = CliRunner().invoke(main, ["export", *args, "-o", "x"])
    assert result.exit_code == 2 and message in result.output
