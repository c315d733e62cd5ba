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
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


FORMATS = ("savedmodel", "tflite", "onnx", "coreml")
SUFFIXES = {"savedmodel": "", "tflite": ".tflite", "onnx": ".onnx", "coreml": ".mlpackage"}
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
    from fusionmat.engines.latefusion_net.h5weights import load_h5_weights
    from fusionmat.engines.latefusion import FUSION_PREFIX
    from fusionmat.engines.latefusion_net.model import MEAN_PIXEL, build_latefusion

    core = build_latefusion(height, width)
    load_h5_weights(core, weights, allow_missing=(FUSION_PREFIX,) if partial else ())
    return for_export(core, height, width, MEAN_PIXEL)


def for_export(core, height: int, width: int, mean, name: str = "latefusion_matte"):
    """``core`` (mean-subtracted NxHxWx3 in, the matte first among its outputs) wrapped to the
    export contract: input ``image`` (1xHxWx3 RGB 0..255), mean subtraction inside, output ``matte``."""
    import numpy as np
    import tf_keras

    image = tf_keras.layers.Input((height, width, 3), batch_size=1, name="image")
    centred = tf_keras.layers.Rescaling(1.0, offset=(-np.asarray(mean, np.float32)).tolist(),
                                        name="subtract_mean")(image)
    outputs = core(centred)
    alpha = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    matte = tf_keras.layers.Activation("linear", name="matte")(alpha)
    return tf_keras.Model(image, matte, name=name)


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


EXPORT_MARKERS = ("saved_model.pb", "Manifest.json")
"""Files that say a folder is an export (SavedModel, Core ML package) that ``overwrite`` may replace."""


def check_target(out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """``out`` as a Path, if an export may be written there: a missing path, or with ``overwrite``
    an existing file or an earlier export folder (never another folder: it would be deleted)."""
    from fusionmat.errors import OutputError

    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return out
    if not overwrite:
        raise OutputError(f"{out}: already exists; --overwrite replaces it")
    if out.is_dir() and not any((out / marker).is_file() for marker in EXPORT_MARKERS):
        raise OutputError(f"{out}: is a folder that is not an earlier export; refusing to replace it")
    if not out.is_dir() and not out.is_file():
        raise OutputError(f"{out}: is not a regular file; refusing to replace it")
    return out


def export_model(model, fmt: str, out: str | os.PathLike, *, quantize: str = "none",
                 overwrite: bool = False) -> ExportResult:
    """Convert a :func:`deployable_model` to ``fmt`` at ``out``; the target appears only when done.

    An existing ``out`` is replaced only with ``overwrite`` (see :func:`check_target`)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if quantize != "none" and fmt != "tflite":
        raise ValueError("--quantize applies to --format tflite only")
    out = check_target(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        staged = Path(tmp) / (out.name or "model")
        {"savedmodel": _savedmodel, "tflite": _tflite, "onnx": _onnx, "coreml": _coreml}[fmt](model, staged, quantize)
        if out.is_dir():
            shutil.rmtree(out)
        os.replace(staged, out)
    return ExportResult(out, size_of(out), time.perf_counter() - start)


def _signature(model):
    import tensorflow as tf

    spec = tf.TensorSpec(model.inputs[0].shape, tf.float32, name="image")

    @tf.function(input_signature=[spec])
    def serve(image):
        return {"matte": model(image, training=False)}

    return serve


def _savedmodel(model, out: Path, quantize: str) -> None:
    import tensorflow as tf

    module = tf.Module()
    module.model = model
    module.serve = _signature(model)
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})


def _tflite(model, out: Path, quantize: str) -> None:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([_signature(model).get_concrete_function()], model)
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    out.write_bytes(converter.convert())


def _onnx(model, out: Path, quantize: str) -> None:
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec(model.inputs[0].shape, tf.float32, name="image"),)
    tf2onnx.convert.from_function(_signature(model), input_signature=spec, opset=ONNX_OPSET, output_path=str(out))


def _coreml(model, out: Path, quantize: str) -> None:
    import coremltools as ct

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
