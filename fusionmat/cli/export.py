"""``fusionmat export``: the Late Fusion network as SavedModel, TFLite, ONNX or Core ML."""
from __future__ import annotations

from pathlib import Path

import click

from fusionmat.cli.common import console, output_options, reporting_warnings
from fusionmat.export.convert import FORMATS, QUANTIZE


@click.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="coreml: .mlpackage (mlprogram); tflite; onnx (opset 17); savedmodel (a folder).")
@click.option("--size", required=True, metavar="WIDTHxHEIGHT",
              help="Fixed input size, multiples of 32 (e.g. 608x800 for a portrait).")
@click.option("--weights", "weights_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The released .h5 or any compatible file (default: looked for as for --engine latefusion).")
@click.option("--partial", is_flag=True, help="Accept a file without the fusion layers (they stay untrained).")
@click.option("--quantize", type=click.Choice(QUANTIZE), default="none", show_default=True,
              help="tflite only: float16 weights, or dynamic-range int8 weights.")
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), required=True,
              help="Output file (folder for savedmodel and coreml's .mlpackage); tflite and onnx also go "
                   "into /dev/stdout or a FIFO.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output (a file, or an earlier export's folder).")
@output_options
def export(fmt, size, weights_file, partial, quantize, out, overwrite):
    """Export the Late Fusion network at a fixed size for phones and other runtimes.

    Input `image`: 1xHxWx3 RGB, 0..255 (Core ML: an RGB image); the mean
    subtraction is inside the model. Output `matte`: 1xHxWx1 in [0, 1]. The
    default engine is not exported: MODNet already is an ONNX file (in the
    weights home), and the selfie engine's networks are MediaPipe TFLite files.
    Needs the export extra: pip install 'fusionmat[export]'.

    \b
    Examples:
      fusionmat export --format tflite --size 512x512 -o latefusion.tflite --quantize float16
      fusionmat export --format coreml --size 608x800 --weights latefusion.h5 -o LateFusion.mlpackage
      fusionmat export --format onnx --size 512x512 -o latefusion.onnx
      fusionmat export --format tflite --size 512x512 -o /dev/stdout > latefusion.tflite
    """
    from fusionmat.engines.latefusion import parse_size
    from fusionmat.engines.weights import find_latefusion_weights
    from fusionmat.errors import FusionmatError
    from fusionmat.export.convert import check_target, export_model, is_stream
    from fusionmat.run.planning import Inputs

    try:
        height, width = parse_size(size)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--size") from None
    if quantize != "none" and fmt != "tflite":
        raise click.BadParameter("applies to --format tflite only", param_hint="--quantize")
    try:
        check_target(out, fmt, overwrite=overwrite)  # before minutes of conversion
        import_runtime(fmt)
        path = find_latefusion_weights(weights_file)
        Inputs([path]).refuse([Path(out)])
        from fusionmat.export.convert import deployable_model

        steps = console()
        steps.info(f"[1/2] building the network at {width}x{height} and loading {path.name} ...")
        model = reporting_warnings(str(path), deployable_model, path, height, width, partial=partial)
        steps.info(f"[2/2] converting to {fmt}{'' if quantize == 'none' else ' (' + quantize + ')'} "
                   "(30-80 s for the full network on 2 cores) ...")
        result = export_model(model, fmt, out, quantize=quantize, overwrite=overwrite)
    except FusionmatError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{result.path}: {fmt}{'' if quantize == 'none' else ' ' + quantize}, {width}x{height}, "
               f"{result.bytes / 1e6:.1f} MB, converted in {result.seconds:.1f} s",
               err=is_stream(result.path))  # -o /dev/stdout: standard output is the model itself


CONVERTERS = {"onnx": "tf2onnx", "coreml": "coremltools"}
"""The package each format needs beyond TensorFlow (all in the ``export`` extra)."""


def import_runtime(fmt: str) -> None:
    """Fail early, in one line, when TensorFlow or the converter for ``fmt`` is not installed."""
    import importlib.util

    from fusionmat.errors import MissingDependencyError

    for package in ("tensorflow", "tf_keras", CONVERTERS.get(fmt)):
        if package is not None and importlib.util.find_spec(package) is None:
            raise MissingDependencyError(f"--format {fmt} needs {package}, which is not installed: "
                                         "pip install 'fusionmat[export]'")
