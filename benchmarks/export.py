"""Export benchmark: every format (and TFLite quantization), its size, conversion time and error.

Usage:
    python benchmarks/export.py --weights latefusion.h5 [--size 512x512] [--out DIR]
    python benchmarks/export.py --recipe [--size 64x96]     # the reference's recipe weights

Each export is run back through its runtime here (SavedModel: TensorFlow, TFLite: LiteRT,
ONNX: onnxruntime; Core ML needs macOS to predict) and compared with the Keras model on one
input (the reference's parity input when it fits, else astronaut resized); prints the max and
mean absolute difference of the matte.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PARITY = ROOT.parent / "shared" / "reference" / "latefusion" / "parity_input.npy"
VARIANTS = [("savedmodel", "none"), ("tflite", "none"), ("tflite", "float16"), ("tflite", "dynamic"),
            ("onnx", "none"), ("coreml", "none")]


def test_input(height: int, width: int) -> np.ndarray:
    if PARITY.is_file() and np.load(PARITY).shape[:2] == (height, width):
        return np.load(PARITY).astype(np.float32)[None]
    from skimage import data

    from fusionmat.matting.resize import resize_to

    return resize_to(data.astronaut().astype(np.float32), height, width)[None]


def run_export(fmt: str, path: Path, image: np.ndarray) -> np.ndarray | None:
    """The exported model's matte for ``image``, or None where no runtime exists here."""
    if fmt == "savedmodel":
        import tensorflow as tf

        return tf.saved_model.load(str(path)).signatures["serving_default"](image=tf.constant(image))["matte"].numpy()
    if fmt == "tflite":
        from fusionmat.engines.tflite import TFLiteModel

        return next(iter(TFLiteModel(path).run(image).values()))
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {"image": image})[0]
    return None


@click.command()
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--recipe", is_flag=True, help="Use the deterministic recipe weights (tests/latefusion_fixtures.py).")
@click.option("--size", default="64x96", show_default=True, help="WIDTHxHEIGHT.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the exports here (default: a temporary folder).")
def main(weights, recipe, size, out):
    from fusionmat.engines.latefusion import parse_size
    from fusionmat.export.convert import SUFFIXES, deployable_model, export_model

    height, width = parse_size(size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = out or Path(tmp)
        if recipe:
            sys.path.insert(0, str(ROOT))
            from fusionmat.engines.latefusion_net.model import build_latefusion
            from tests.latefusion_fixtures import write_keras2_h5

            weights = write_keras2_h5(Path(tmp) / "recipe.h5", build_latefusion())
        if weights is None:
            raise click.UsageError("give --weights FILE or --recipe")
        model = deployable_model(weights, height, width)
        image = test_input(height, width)
        reference = model(image).numpy()
        for fmt, quantize in VARIANTS:
            name = f"latefusion_{quantize}{SUFFIXES[fmt]}" if quantize != "none" else f"latefusion{SUFFIXES[fmt]}"
            result = export_model(model, fmt, folder / fmt / name, quantize=quantize)
            matte = run_export(fmt, result.path, image)
            error = ("no runtime here (needs macOS)" if matte is None else
                     f"max |diff| {np.abs(matte - reference).max():.2e}, mean {np.abs(matte - reference).mean():.2e}")
            click.echo(f"{fmt:10s} {quantize:8s} {result.bytes / 1e6:7.1f} MB  {result.seconds:6.1f} s  {error}")


if __name__ == "__main__":
    main()
