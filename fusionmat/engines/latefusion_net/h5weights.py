"""Load a Keras-2 HDF5 weights file into a model by layer name, refusing anything that does not fit.

Accepts weights-only files (``layer_names`` at the root) and whole-model files (the same
inside ``model_weights``), with names stored as bytes (Keras 2.2) or str (newer writers).
Every weighted layer of the model must be in the file with the same weight names and
shapes; otherwise a WeightsError lists the first few problems with counts. With
``allow_missing`` a set of layer-name prefixes (e.g. the fusion network, absent from a
classifier-stage file) may be missing; they keep their initial values and the report says so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from fusionmat.errors import WeightsError

SHOW = 5


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _short(weight_name: str) -> str:
    """'conv1/conv/kernel:0' -> 'kernel:0'."""
    return weight_name.rsplit("/", 1)[-1]


@dataclass
class LoadReport:
    """What a load did: layers loaded, missing ones left at their initial values, extra ones ignored."""

    loaded: list[str] = field(default_factory=list)
    skipped_missing: list[str] = field(default_factory=list)
    extra_in_file: list[str] = field(default_factory=list)


def _layer_root(h5):
    if "layer_names" in h5.attrs:
        return h5
    if "model_weights" in h5 and "layer_names" in h5["model_weights"].attrs:
        return h5["model_weights"]
    return None


def _summary(kind: str, items: list[str]) -> str:
    shown = ", ".join(items[:SHOW])
    more = f" and {len(items) - SHOW} more" if len(items) > SHOW else ""
    return f"{len(items)} {kind} ({shown}{more})"


def load_h5_weights(model, path: str | os.PathLike, *, allow_missing: tuple[str, ...] = ()) -> LoadReport:
    """Set the weights of every weighted layer of ``model`` from the Keras-2 HDF5 file ``path``.

    Raises WeightsError (nothing is changed) when the file is not a Keras-2 weights file, or
    when a layer is missing (outside ``allow_missing``) or has other weight names or shapes.
    """
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such file") from None
    except OSError as exc:
        raise WeightsError(f"{path}: not an HDF5 file ({exc})") from None
    with h5:
        root = _layer_root(h5)
        if root is None:
            raise WeightsError(f"{path}: no 'layer_names' at the root or in 'model_weights'; "
                               "not a Keras-2 weights file")
        file_layers = [_text(n) for n in root.attrs["layer_names"]]
        present = set(file_layers)
        report = LoadReport()
        missing, mismatched, pending = [], [], []
        for layer in model.layers:
            if not layer.weights:
                continue
            if layer.name not in present or layer.name not in root:
                if allow_missing and layer.name.startswith(allow_missing):
                    report.skipped_missing.append(layer.name)
                else:
                    missing.append(layer.name)
                continue
            group = root[layer.name]
            stored = {_short(_text(n)): _text(n) for n in group.attrs.get("weight_names", [])}
            values = []
            for weight in layer.weights:
                key = _short(weight.name)
                if key not in stored:
                    mismatched.append(f"{layer.name}: no weight {key}")
                    break
                data = group[stored[key]]
                if tuple(data.shape) != tuple(weight.shape):
                    mismatched.append(f"{layer.name}/{key}: file {tuple(data.shape)}, model {tuple(weight.shape)}")
                    break
                values.append(data[()])
            else:
                if len(stored) != len(layer.weights):
                    mismatched.append(f"{layer.name}: file has {len(stored)} weights, model {len(layer.weights)}")
                else:
                    pending.append((layer, values))
        if missing or mismatched:
            problems = [_summary("missing layer(s)", missing)] if missing else []
            problems += [_summary("mismatched layer(s)", mismatched)] if mismatched else []
            raise WeightsError(f"{path}: does not fit the Late Fusion network: " + "; ".join(problems))
        for layer, values in pending:
            layer.set_weights(values)
            report.loaded.append(layer.name)
        ours = {layer.name for layer in model.layers if layer.weights}
        report.extra_in_file = [
            name for name in file_layers
            if name not in ours and name in root and len(root[name].attrs.get("weight_names", []))
        ]
    return report
