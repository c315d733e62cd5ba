"""Exporting the Late Fusion network for other runtimes: SavedModel, TFLite, ONNX, Core ML.

Every export has one fixed-size input ``image`` (1xHxWx3 float32 RGB in 0..255; Core ML: an RGB
image) and one output ``matte`` (1xHxWx1 float32 in [0, 1]). The mean subtraction is a layer
inside the graph, so a phone app feeds plain pixels.

The default engine is not exported: its networks already are TFLite files (MediaPipe's, in the
weights home), and its refinement, closed-form matting, is a sparse linear solve per image that
none of these formats can express.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fusionmat.io.write import is_stream
from fusionmat.quiet import coremltools, tensorflow, tf_keras

FORMATS = ("savedmodel", "tflite", "onnx", "coreml")
SUFFIXES = {"savedmodel": "", "tflite": ".tflite", "onnx": ".onnx", "coreml": ".mlpackage"}
FOLDER_FORMATS = ("savedmodel", "coreml")
"""Formats that are a folder (a SavedModel, a Core ML package); the others are one file."""
QUANTIZE = ("none", "float16", "dynamic")
ONNX_OPSET = 17
LICENSE_NOTE = ("Late Fusion CNN for Digital Matting (Zhang et al., CVPR 2019). The weights are the "
                "authors'; check their project's terms before redistributing them.")


@dataclass(frozen=True)
class ExportResult:
    """Where the export went, how big it is and how long the conversion took."""

    path: Path
    bytes: int
    seconds: float


def deployable_model(weights: str | os.PathLike, height: int, width: int, *, partial: bool = False):
    """The network at a fixed size with its weights, raw RGB (0..255) in, the matte out."""
    from fusionmat.engines.latefusion import FUSION_PREFIX
    from fusionmat.engines.latefusion_net.h5weights import load_h5_weights
    from fusionmat.engines.latefusion_net.model import MEAN_PIXEL, build_latefusion

    core = build_latefusion(height, width)
    load_h5_weights(core, weights, allow_missing=(FUSION_PREFIX,) if partial else ())
    return for_export(core, height, width, MEAN_PIXEL)


def for_export(core, height: int, width: int, mean, name: str = "latefusion_matte"):
    """``core`` (mean-subtracted NxHxWx3 in, the matte first among its outputs) wrapped to the
    export contract: input ``image`` (1xHxWx3 RGB 0..255), mean subtraction inside, output ``matte``."""
    import numpy as np

    keras = tf_keras()
    image = keras.layers.Input((height, width, 3), batch_size=1, name="image")
    centred = keras.layers.Rescaling(1.0, offset=(-np.asarray(mean, np.float32)).tolist(),
                                        name="subtract_mean")(image)
    outputs = core(centred)
    alpha = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    matte = keras.layers.Activation("linear", name="matte")(alpha)
    return keras.Model(image, matte, name=name)


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


EXPORT_ENTRY = re.compile(
    r"saved_model\.pb|fingerprint\.pb|keras_metadata\.pb|assets/|assets\.extra/|variables/"
    r"|variables/variables\.(?:index|data-\d+-of-\d+)"
    r"|Manifest\.json|Data/|Data/com\.apple\.CoreML/|Data/com\.apple\.CoreML/model\.mlmodel"
    r"|Data/com\.apple\.CoreML/weights/|Data/com\.apple\.CoreML/weights/weight\.bin")
"""What a SavedModel or Core ML package export writes, as paths inside its folder ('/' after a folder)."""


def earlier_export(relative: str) -> bool:
    """True for an entry of a folder that an export wrote (staging's ``owned``: only those are deleted
    when an earlier export's folder is replaced)."""
    return EXPORT_ENTRY.fullmatch(relative) is not None


def check_target(out: str | os.PathLike, fmt: str, *, overwrite: bool = False) -> Path:
    """``out`` as a Path, if ``fmt`` may be exported there: a missing path; a device or pipe
    (``/dev/stdout``, a FIFO: :func:`fusionmat.io.write.is_special`) for a one-file format, written
    into; with ``overwrite`` an existing file (one-file formats) or an earlier export's folder
    (savedmodel, coreml), never a folder holding anything else. OutputError naming ``out`` otherwise."""
    from fusionmat.errors import OutputError
    from fusionmat.io.staging import check_replaceable

    out = Path(out)
    if is_stream(out):
        if fmt in FOLDER_FORMATS:
            raise OutputError(f"{out}: --format {fmt} writes a folder; give the folder's path")
        return out
    if not out.exists() and not out.is_symlink():
        return out
    if not overwrite:
        raise OutputError(f"{out}: already exists; --overwrite replaces it")
    if fmt in FOLDER_FORMATS:
        check_replaceable(out, earlier_export)
    elif not out.is_file():
        raise OutputError(f"{out}: is not a regular file; refusing to replace it")
    return out


def export_model(model, fmt: str, out: str | os.PathLike, *, quantize: str = "none",
                 overwrite: bool = False) -> ExportResult:
    """Convert a :func:`deployable_model` to ``fmt`` at ``out``; the target appears only when done.

    The conversion goes to a temp file or folder beside ``out`` (:func:`fusionmat.io.staging.staged`),
    renamed into place when complete; temps that killed exports left there are removed first. An
    existing ``out`` is replaced only with ``overwrite``, and a device or pipe is written into
    (see :func:`check_target`)."""
    from fusionmat.io.staging import clean_stale_temps, staged

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if quantize != "none" and fmt != "tflite":
        raise ValueError("--quantize applies to --format tflite only")
    out = check_target(out, fmt, overwrite=overwrite)
    convert = {"savedmodel": _savedmodel, "tflite": _tflite, "onnx": _onnx, "coreml": _coreml}[fmt]
    start = time.perf_counter()
    if is_stream(out):
        size = _export_into(model, convert, out, quantize)
        return ExportResult(out, size, time.perf_counter() - start)
    clean_stale_temps(out.parent)
    with staged(out, folder=fmt in FOLDER_FORMATS, owned=earlier_export) as temp:
        convert(model, temp, quantize)
    return ExportResult(out, size_of(out), time.perf_counter() - start)


def _export_into(model, convert, out: Path, quantize: str) -> int:
    """A one-file export written into the device or pipe ``out`` (its folder, /dev or /proc, takes no
    temp file): converted in a private temp folder, then copied; returns its size in bytes."""
    from fusionmat.io.write import atomic_write

    with tempfile.TemporaryDirectory(prefix="fusionmat-export-") as folder:
        converted = Path(folder) / ("model" + out.suffix)
        convert(model, converted, quantize)

        def copy(target: str) -> None:
            with open(converted, "rb") as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)

        atomic_write(out, copy)
        return converted.stat().st_size


def _signature(model):
    tf = tensorflow()
    spec = tf.TensorSpec(model.inputs[0].shape, tf.float32, name="image")

    @tf.function(input_signature=[spec])
    def serve(image):
        return {"matte": model(image, training=False)}

    return serve


def _savedmodel(model, out: Path, quantize: str) -> None:
    tf = tensorflow()
    module = tf.Module()
    module.model = model
    module.serve = _signature(model)
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})


def _tflite(model, out: Path, quantize: str) -> None:
    tf = tensorflow()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([_signature(model).get_concrete_function()], model)
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    out.write_bytes(converter.convert())


def _onnx(model, out: Path, quantize: str) -> None:
    tf = tensorflow()  # before tf2onnx, which imports it too
    import onnx
    import tf2onnx

    spec = (tf.TensorSpec(model.inputs[0].shape, tf.float32, name="image"),)
    proto, _ = tf2onnx.convert.from_function(_signature(model), input_signature=spec, opset=ONNX_OPSET)
    current_resize_modes(proto.graph)
    onnx.save(proto, str(out))


def current_resize_modes(graph) -> int:
    """Give tf2onnx's nearest-neighbour ``Resize`` nodes a coordinate mode that is not deprecated;
    returns how many were changed.

    Keras' nearest ``UpSampling2D`` (the decoders') is TensorFlow's half-pixel nearest resize, which
    tf2onnx writes as ``tf_half_pixel_for_nn`` with ``nearest_mode=floor``: deprecated since opset
    13, and onnxruntime warns once per node when it loads the model. ``half_pixel`` with
    ``round_prefer_ceil`` takes the same source pixel, floor((x + 0.5) / scale), at every scale.
    """
    from onnx import helper

    changed = 0
    for node in graph.node:
        attributes = {a.name: a for a in node.attribute}
        mode, nearest = attributes.get("coordinate_transformation_mode"), attributes.get("nearest_mode")
        if (node.op_type == "Resize" and mode is not None and mode.s == b"tf_half_pixel_for_nn"
                and nearest is not None and nearest.s == b"floor"):
            node.attribute.remove(mode)
            node.attribute.remove(nearest)
            node.attribute.extend([helper.make_attribute("coordinate_transformation_mode", "half_pixel"),
                                   helper.make_attribute("nearest_mode", "round_prefer_ceil")])
            changed += 1
    return changed


def _coreml(model, out: Path, quantize: str) -> None:
    ct = coremltools()

    _, h, w, _ = model.inputs[0].shape
    mlmodel = ct.convert(
        [_signature(model).get_concrete_function()], source="tensorflow", convert_to="mlprogram",
        inputs=[ct.ImageType(name="image", shape=(1, h, w, 3), color_layout=ct.colorlayout.RGB)],
        compute_precision=ct.precision.FLOAT32,
    )
    produced = mlmodel.get_spec().description.output[0].name
    if produced != "matte":
        spec = mlmodel.get_spec()
        ct.utils.rename_feature(spec, produced, "matte")
        mlmodel = ct.models.MLModel(spec, weights_dir=mlmodel.weights_dir)
    mlmodel.short_description = "Portrait alpha matte (Late Fusion CNN, exported by fusionmat)"
    mlmodel.license = LICENSE_NOTE
    mlmodel.author = "Zhang et al. (network); fusionmat (export)"
    mlmodel.user_defined_metadata.update({"source": "fusionmat export", "input_size": f"{w}x{h}",
                                          "input": "RGB 0..255, mean subtracted inside the model",
                                          "output": "matte 1xHxWx1 in [0, 1]"})
    mlmodel.save(str(out))
