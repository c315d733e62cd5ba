"""Test-only helpers for the Late Fusion network: the deterministic recipe weights and a
Keras-2 HDF5 writer that follows ../shared/reference/latefusion/FORMAT.md with h5py."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np


def recipe_array(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One weight of the recipe (RECIPE.md), from its saved name, e.g. 'conv1/conv/kernel:0'."""
    kind = name.rsplit("/", 1)[-1].split(":")[0]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if kind == "kernel":
        fan_in = int(np.prod(shape[:-1]))
        std = 0.01 / np.sqrt(fan_in) if shape[-1] == 1 else np.sqrt(2.0 / fan_in)
        values = rng.normal(0.0, std, shape)
    elif kind in ("bias", "beta"):
        values = rng.normal(0.0, 0.01, shape)
    elif kind == "gamma":
        values = rng.uniform(0.8, 1.2, shape)
    elif kind == "moving_mean":
        values = rng.normal(0.0, 0.1, shape)
    elif kind == "moving_variance":
        values = rng.uniform(0.5, 1.5, shape)
    else:
        raise ValueError(f"no recipe for {name}")
    return values.astype(np.float32)


def saved_name(layer, weight) -> str:
    return f"{layer.name}/{weight.name.rsplit('/', 1)[-1]}"


def recipe_weights(model) -> dict[str, dict[str, np.ndarray]]:
    """{layer name: {saved weight name: array}} for every weighted layer of ``model``."""
    return {
        layer.name: {saved_name(layer, w): recipe_array(saved_name(layer, w), tuple(w.shape)) for w in layer.weights}
        for layer in model.layers if layer.weights
    }


def set_recipe_weights(model) -> None:
    for layer_name, weights in recipe_weights(model).items():
        model.get_layer(layer_name).set_weights(list(weights.values()))


def write_keras2_h5(path: Path, model, *, whole_model: bool = False, bytes_names: bool = True,
                    rename: dict[str, str] | None = None, reshape: str | None = None, drop_prefix: str | None = None,
                    extra_layer: bool = False) -> Path:
    """Write the recipe weights of ``model`` in the Keras-2 HDF5 layout.

    ``rename`` renames layers in the file, ``reshape`` stores that layer's first weight with a
    wrong shape, ``drop_prefix`` leaves out the layers whose names start with it, and
    ``extra_layer`` adds a weighted layer the model does not have (as training files do).
    """
    import h5py

    enc = (lambda s: s.encode()) if bytes_names else (lambda s: s)
    weights = recipe_weights(model)
    rename = rename or {}
    with h5py.File(path, "w") as f:
        if whole_model:
            f.attrs["model_config"] = enc('{"class_name": "Model"}')
            root = f.create_group("model_weights")
        else:
            root = f
        names = []
        for layer in model.layers:
            if drop_prefix and layer.name.startswith(drop_prefix):
                continue
            name = rename.get(layer.name, layer.name)
            names.append(name)
            group = root.create_group(name)
            layer_weights = weights.get(layer.name, {})
            saved = [n.replace(layer.name, name, 1) for n in layer_weights]
            group.attrs["weight_names"] = np.array([enc(n) for n in saved], dtype=object if not bytes_names else None) \
                if saved else np.array([], dtype="S1")
            for i, (n, value) in enumerate(zip(saved, layer_weights.values())):
                if reshape == layer.name and i == 0:
                    value = value[..., :-1]
                group.create_dataset(n, data=value)
        if extra_layer:
            names.append("loss_head")
            group = root.create_group("loss_head")
            group.attrs["weight_names"] = np.array([enc("loss_head/kernel:0")])
            group.create_dataset("loss_head/kernel:0", data=np.zeros((1, 1, 4, 1), np.float32))
        root.attrs["layer_names"] = np.array([enc(n) for n in names], dtype=object if not bytes_names else None)
        root.attrs["backend"] = enc("tensorflow")
        root.attrs["keras_version"] = enc("2.2.4")
    return path
