"""The export contract, checked on a small stand-in network run back through each runtime.

Every format is converted from a stand-in with the same wrapping as the released network
(:func:`fusionmat.export.convert.for_export`: input ``image`` in 0..255, mean subtraction inside,
output ``matte``), through the ``export`` command, and compared with Keras. Converting the full
DenseNet-201 network takes 30-80 s per format on a 2-core machine, so those conversions (and
the quantized TFLite variants) are run by ``python benchmarks/export.py --recipe``; here the full
network is checked once against the reference's parity fixture, in Keras.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
from click.testing import CliRunner

from fusionmat.cli import main
from tests.conftest import SHARED, import_or_skip, requires_shared

tf_keras = import_or_skip("tf_keras")
PARITY = SHARED / "reference" / "latefusion" / "parity_input.npy"
HEIGHT, WIDTH = 96, 64


@pytest.fixture(scope="module")
def parity_image() -> np.ndarray:
    """The reference's parity input (a fresh clone: any 96x64 image), as the exports take it."""
    if PARITY.is_file():
        image = np.load(PARITY)
    else:
        image = np.random.default_rng(7).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return image.astype(np.float32)[None]


def stand_in_core():
    """A few layers in the released network's shape of call: mean-subtracted pixels in, [matte, beta] out."""
    inputs = tf_keras.layers.Input((HEIGHT, WIDTH, 3))
    x = tf_keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = tf_keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="down")(x)
    x = tf_keras.layers.UpSampling2D(2, interpolation="bilinear", name="up")(x)
    x = tf_keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="down2")(x)
    x = tf_keras.layers.UpSampling2D(2, interpolation="nearest", name="up2")(x)  # as the network's decoders
    matte = tf_keras.layers.Conv2D(1, 1, activation="sigmoid", name="alpha")(x)
    beta = tf_keras.layers.Conv2D(1, 1, name="beta")(x)
    core = tf_keras.Model(inputs, [matte, beta], name="stand_in")
    rng = np.random.default_rng(3)
    core.set_weights([rng.normal(0.0, 0.05, w.shape).astype(np.float32) for w in core.get_weights()])
    return core


@pytest.fixture(scope="module")
def core():
    return stand_in_core()


@pytest.fixture(scope="module")
def keras_matte(core, parity_image) -> np.ndarray:
    """What the export must reproduce: the core on mean-subtracted pixels."""
    from fusionmat.engines.latefusion_net.model import MEAN_PIXEL

    return core(parity_image - MEAN_PIXEL.astype(np.float32))[0].numpy()


@pytest.fixture
def stand_in(monkeypatch, core, tmp_path):
    """``fusionmat export`` exports the stand-in (with the released network's wrapping) for any weights file."""
    import fusionmat.export.convert
    from fusionmat.engines.latefusion_net.model import MEAN_PIXEL

    monkeypatch.setattr(fusionmat.export.convert, "deployable_model", lambda weights, h, w, partial=False:
                        fusionmat.export.convert.for_export(core, h, w, MEAN_PIXEL))
    weights = tmp_path / "stand_in.h5"
    weights.write_bytes(b"the stand-in needs no file")
    return weights


def export(tmp_path, weights, fmt, name, *extra):
    out = tmp_path / name
    args = ["export", "--format", fmt, "--size", f"{WIDTH}x{HEIGHT}", "--weights", str(weights), "-o", str(out), *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{out}: {fmt}" in result.output and "MB, converted in" in result.output
    print(result.output.strip())  # size and conversion time, for the record (pytest -s)
    return out


@requires_shared
def test_keras_export_model_matches_the_released_network(recipe_model):
    """The full network with the export's wrapping (mean subtraction inside) gives the reference's alpha."""
    from fusionmat.engines.latefusion_net.model import MEAN_PIXEL
    from fusionmat.export.convert import for_export

    image = np.load(PARITY).astype(np.float32)[None]
    matte = for_export(recipe_model, *image.shape[1:3], MEAN_PIXEL)(image).numpy()
    expected = SHARED / "reference" / "latefusion" / "parity_expected.npz"
    np.testing.assert_allclose(matte[0, ..., 0], np.load(expected)["alpha"], atol=1e-4)


def test_the_mean_is_subtracted_inside(core, parity_image, keras_matte):
    from fusionmat.engines.latefusion_net.model import MEAN_PIXEL
    from fusionmat.export.convert import for_export

    wrapped = for_export(core, HEIGHT, WIDTH, MEAN_PIXEL)
    assert [t.name.split(":")[0] for t in wrapped.inputs] == ["image"] and wrapped.output_names == ["matte"]
    np.testing.assert_allclose(wrapped(parity_image).numpy(), keras_matte, atol=1e-6)
    assert np.abs(core(parity_image)[0].numpy() - keras_matte).max() > 1e-3  # the stand-in sees the mean


def test_savedmodel(tmp_path, stand_in, parity_image, keras_matte):
    import tensorflow as tf

    out = export(tmp_path, stand_in, "savedmodel", "latefusion_savedmodel")
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    matte = serve(image=tf.constant(parity_image))["matte"].numpy()
    assert matte.shape == (1, HEIGHT, WIDTH, 1)
    np.testing.assert_allclose(matte, keras_matte, atol=1e-3)


def run_tflite(path, image) -> np.ndarray:
    from fusionmat.engines.tflite import TFLiteModel

    model = TFLiteModel(path, threads=2)
    assert model.input_size == (HEIGHT, WIDTH)
    (matte,) = model.run(image).values()
    return matte


def test_tflite_float32(tmp_path, stand_in, parity_image, keras_matte):
    out = export(tmp_path, stand_in, "tflite", "latefusion.tflite")
    np.testing.assert_allclose(run_tflite(out, parity_image), keras_matte, atol=1e-3)


def test_onnx(tmp_path, stand_in, parity_image, keras_matte, capfd):
    import onnx
    import onnxruntime

    out = export(tmp_path, stand_in, "onnx", "latefusion.onnx")
    graph = onnx.load(str(out))
    assert max(op.version for op in graph.opset_import if op.domain in ("", "ai.onnx")) >= 17
    modes = [onnx.helper.get_attribute_value(a) for n in graph.graph.node if n.op_type == "Resize"
             for a in n.attribute if a.name == "coordinate_transformation_mode"]
    assert len(modes) == 2 and b"tf_half_pixel_for_nn" not in modes  # deprecated since opset 13
    capfd.readouterr()
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    warnings = [line for line in capfd.readouterr().err.splitlines() if "[W:onnxruntime" in line]
    assert warnings == []
    assert [i.name for i in session.get_inputs()] == ["image"]
    (matte,) = session.run(["matte"], {"image": parity_image})
    np.testing.assert_allclose(matte, keras_matte, atol=1e-3)


@pytest.fixture
def coreml_package(tmp_path, stand_in):
    return export(tmp_path, stand_in, "coreml", "LateFusion.mlpackage")


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
    assert meta.userDefined["input_size"] == f"{WIDTH}x{HEIGHT}" and "Zhang" in meta.license


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
    result = CliRunner().invoke(main, ["export", "--format", "tflite", "--size", "64x96", "-o", "x.tflite"])
    assert result.exit_code == 1 and "latefusion.h5" in result.output
    assert not (tmp_path / "x.tflite").exists()


@pytest.mark.parametrize("args, message", [(["--size", "64x100"], "multiples of 32"),
                                           (["--size", "64x96", "--format", "onnx", "--quantize", "dynamic"],
                                            "applies to --format tflite only")])
def test_export_usage_errors(args, message):
    base = {"--format": "tflite"}
    if "--format" not in args:
        args = [*args, "--format", base["--format"]]
    result = CliRunner().invoke(main, ["export", *args, "-o", "x"])
    assert result.exit_code == 2 and message in result.output


def test_an_existing_target_is_replaced_only_with_overwrite(tmp_path, stand_in):
    out = export(tmp_path, stand_in, "tflite", "m.tflite")
    result = CliRunner().invoke(main, ["export", "--format", "tflite", "--size", f"{WIDTH}x{HEIGHT}", "--weights",
                                       str(stand_in), "-o", str(out)])
    assert result.exit_code == 1 and "already exists; --overwrite replaces it" in result.output
    export(tmp_path, stand_in, "tflite", "m.tflite", "--overwrite")


def test_a_folder_that_is_not_an_export_is_never_replaced(tmp_path, stand_in):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "keep.jpg").write_bytes(b"precious")
    result = CliRunner().invoke(main, ["export", "--format", "savedmodel", "--size", f"{WIDTH}x{HEIGHT}",
                                       "--weights", str(stand_in), "-o", str(photos), "--overwrite"])
    assert result.exit_code == 1 and "is not an earlier output of fusionmat (it holds keep.jpg)" in result.output
    assert (photos / "keep.jpg").read_bytes() == b"precious"


def export_args(weights, fmt, out, *extra) -> list[str]:
    return ["export", "--format", fmt, "--size", f"{WIDTH}x{HEIGHT}", "--weights", str(weights), "-o", str(out), *extra]


def test_a_stream_target_is_written_into_never_replaced(tmp_path, stand_in, parity_image, keras_matte):
    """``-o /dev/stdout > model.tflite``: /dev/stdout is then a link (through /proc/self/fd/1) to a
    regular file; the export goes into that file and the link stays. The same link through another
    descriptor, so the test leaves the real /dev/stdout alone."""
    import os

    model = tmp_path / "model.tflite"
    fd = os.open(model, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        link = f"/proc/self/fd/{fd}"
        result = CliRunner().invoke(main, export_args(stand_in, "tflite", link, "--overwrite"))
        assert result.exit_code == 0, result.output
        assert os.path.islink(link) and os.path.samefile(link, model)
    finally:
        os.close(fd)
    assert result.stdout == "" and "MB, converted in" in result.stderr  # stdout may be the model itself
    np.testing.assert_allclose(run_tflite(model, parity_image), keras_matte, atol=1e-3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite", "stand_in.h5"]  # no temp left


def test_a_fifo_target_gets_the_model_and_a_folder_format_is_refused(tmp_path, stand_in, parity_image, keras_matte):
    import os
    import threading

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    refused = CliRunner().invoke(main, export_args(stand_in, "savedmodel", pipe))
    assert refused.exit_code == 1 and f"{pipe}: --format savedmodel writes a folder" in refused.output
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(pipe.read_bytes()), daemon=True)
    reader.start()
    result = CliRunner().invoke(main, export_args(stand_in, "tflite", pipe))
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert pipe.is_fifo() and not reader.is_alive()
    (tmp_path / "received.tflite").write_bytes(received)
    np.testing.assert_allclose(run_tflite(tmp_path / "received.tflite", parity_image), keras_matte, atol=1e-3)


def test_staging_uses_fusionmat_temp_names_and_removes_dead_exports_temps(tmp_path, stand_in, monkeypatch):
    """A killed export leaves ``.<target>.<pid>-<random>.part<suffix>``; the next export in that folder
    removes it (a running process's is kept, and so is anything not named so)."""
    import os
    import subprocess

    import fusionmat.export.convert as convert
    from fusionmat.io.staging import TEMP_NAME

    out = tmp_path / "models"
    out.mkdir()
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    stale_folder = out / f".m_savedmodel.fusionmat-{dead}-k2j3h4f5.part"
    (stale_folder / "variables").mkdir(parents=True)
    (stale_folder / "saved_model.pb").write_bytes(b"partial")
    stale_file = out / f".m.tflite.fusionmat-{dead}-a1b2c3d4.part.tflite"
    stale_file.write_bytes(b"partial")
    live = out / f".m.onnx.fusionmat-{os.getppid()}-abcdefgh.part.onnx"  # another running process's: kept
    live.write_bytes(b"being written")
    theirs = out / ".m.tflite.xyz123"  # not a fusionmat temp name: never touched
    theirs.mkdir()

    seen = []
    original = convert._tflite

    def recording(model, path, quantize):
        seen.append(path)
        original(model, path, quantize)

    monkeypatch.setattr(convert, "_tflite", recording)
    export(out, stand_in, "tflite", "m.tflite")
    (staged,) = seen
    assert staged.parent == out and TEMP_NAME.match(staged.name) and f".fusionmat-{os.getpid()}-" in staged.name
    assert not stale_folder.exists() and not stale_file.exists() and live.exists() and theirs.is_dir()
    assert sorted(p.name for p in out.iterdir()) == sorted([live.name, theirs.name, "m.tflite"])


def test_an_earlier_export_folder_is_replaced_but_not_what_someone_added(tmp_path, stand_in):
    out = export(tmp_path, stand_in, "savedmodel", "m_savedmodel")
    export(tmp_path, stand_in, "savedmodel", "m_savedmodel", "--overwrite")  # an earlier export: replaced
    (out / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, export_args(stand_in, "savedmodel", out, "--overwrite"))
    assert result.exit_code == 1 and "notes.txt" in result.output and "refusing to replace it" in result.output
    assert (out / "notes.txt").read_text() == "mine" and (out / "saved_model.pb").is_file()


@pytest.mark.parametrize("size", [(10, 14), (7, 9), (3, 5), (16, 6)])
def test_the_rewritten_resize_takes_the_same_pixels(size):
    """``half_pixel`` + ``round_prefer_ceil`` against tf2onnx's ``tf_half_pixel_for_nn`` + ``floor``,
    both run by onnxruntime, upwards, downwards and at non-integer scales."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    from fusionmat.export.convert import current_resize_modes

    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest",
                            coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="floor")
    graph = helper.make_graph([node], "resize", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [helper.make_tensor("sizes", TensorProto.INT64, [4], [1, 1, *size])])
    old = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    new = onnx.ModelProto()
    new.CopyFrom(old)
    assert current_resize_modes(new.graph) == 1
    x = np.arange(48, dtype=np.float32).reshape(1, 1, 6, 8)
    cpu = ["CPUExecutionProvider"]
    run = [onnxruntime.InferenceSession(m.SerializeToString(), providers=cpu).run(None, {"x": x})[0]
           for m in (old, new)]
    np.testing.assert_array_equal(run[0], run[1])
    assert run[0].shape == (1, 1, *size)
