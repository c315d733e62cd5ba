"""The Late Fusion network, built so every weighted layer has the released file's name.

Built with ``tf_keras`` (the Keras-2 API) rather than Keras 3: the released weights are
loaded by layer name, and DenseNet's stem layers are named ``conv1/conv`` and ``conv1/bn``,
which Keras 3 refuses. ``tf_keras.applications.DenseNet201`` already builds the encoder with
exactly the released names (dense blocks ``conv{k}_block{i}_*``, transitions ``pool2..4``,
final ``bn``), so only the two decoders and the fusion network are written here.

The model's input is the mean-subtracted image (``MEAN_PIXEL``, RGB, 0-255 scale); its
outputs are ``alpha = beta*FG + (1-beta)*(1-BG)``, FG, BG and beta, each NxHxWx1.
"""
from __future__ import annotations

import numpy as np

MEAN_PIXEL = np.array([127.156207, 115.917443, 106.031127], dtype=np.float32)
DECODER_WIDTH = 128
DENSENET_BN_EPSILON = 1.001e-5
FUSION_BN_EPSILON = 1e-3
FUSION_FILTERS = (256, 128, 128, 64, 256)
SKIP_LAYERS = ("conv1/relu", "conv2_block6_concat", "conv3_block12_concat", "conv4_block48_concat")
"""Encoder outputs used as skips R1..R4 (R2..R4: dense block outputs before each transition)."""
STRIDE = 32
"""Height and width of the input must be multiples of this."""


def _keras():
    from fusionmat.quiet import tf_keras

    return tf_keras()


def _decoder(prefix: str, bottom, skips):
    """One decoder (``deFG`` or ``deBG``): returns (side-0 logit, side-0 features)."""
    layers = _keras().layers
    d = DECODER_WIDTH

    def up(x, name):
        return layers.UpSampling2D(2, interpolation="nearest", name=name)(x)

    def conv_bn_relu(x, filters, stage):
        x = layers.Conv2D(filters, 1, use_bias=False, name=f"{prefix}_deconv{stage}_conv")(x)
        x = layers.BatchNormalization(epsilon=DENSENET_BN_EPSILON, name=f"{prefix}_deconv{stage}_bn")(x)
        return layers.Activation("relu", name=f"{prefix}_deconv{stage}_relu")(x)

    deconv = {}
    x = bottom
    for stage, skip in zip((5, 4, 3, 2), reversed(skips)):
        x = up(x, f"{prefix}_deconv{stage}_up")
        x = layers.Concatenate(name=f"{prefix}_deconv{stage}_concat")([x, skip])
        x = conv_bn_relu(x, max(d, int(skip.shape[-1])), stage)
        deconv[stage] = x
    x = up(x, f"{prefix}_deconv1_up")
    deconv[1] = conv_bn_relu(x, d, 1)

    side = layers.Conv2D(d, 1, name=f"{prefix}_up4_conv")(deconv[5])
    side = layers.Activation("relu", name=f"{prefix}_up4_relu")(side)
    side = up(side, f"{prefix}_up4_up")
    for block, source in zip((3, 2, 1, 0), (4, 3, 2, 1)):
        x = deconv[source]
        if int(x.shape[-1]) != d:
            x = layers.Conv2D(d, 1, name=f"{prefix}_side_{block}_conv1")(x)
        x = layers.Add(name=f"{prefix}_side_{block}_add")([x, side])
        x = layers.ZeroPadding2D(1, name=f"{prefix}_side_{block}_pad")(x)
        features = layers.Conv2D(d, 3, padding="valid", name=f"{prefix}_side_{block}_conv2")(x)
        if block:
            side = up(features, f"{prefix}_side_{block}_up")
    logit = layers.Conv2D(1, 1, name=f"{prefix}_side_0_conv3")(features)
    return logit, features


def _fusion(image, fg_features, bg_features):
    """The fusion network: returns the logit of the blending weight beta."""
    layers = _keras().layers
    rgb = layers.Conv2D(DECODER_WIDTH, 3, padding="same", name="fusion_convrgb")(image)
    rgb = layers.BatchNormalization(epsilon=FUSION_BN_EPSILON, name="fusion_bnrgb")(rgb)
    x = layers.Concatenate(name="fusion_input_concate")([fg_features, bg_features, rgb])
    for i, filters in enumerate(FUSION_FILTERS):
        x = layers.Conv2D(filters, 3, padding="same", name=f"fusion_conv{i}")(x)
        x = layers.BatchNormalization(epsilon=FUSION_BN_EPSILON, name=f"fusion_bn{i}")(x)
        x = layers.Activation("relu", name=f"fusion_relu{i}")(x)
    return layers.Conv2D(1, 1, name="fusion_conv_output")(x)


def build_latefusion(height: int | None = None, width: int | None = None):
    """Build the Late Fusion network (random weights).

    Parameters
    ----------
    height, width : fixed input size (multiples of 32), or None for any size.

    Returns
    -------
    tf_keras.Model with input ``input_image`` (NxHxWx3 float32, mean-subtracted RGB) and
    outputs [alpha, fg, bg, beta], each NxHxWx1 in [0, 1].
    """
    keras = _keras()
    layers = keras.layers
    for side in (height, width):
        if side is not None and side % STRIDE:
            raise ValueError(f"input height and width must be multiples of {STRIDE}, got {height}x{width}")
    image = layers.Input((height, width, 3), name="input_image")
    encoder = keras.applications.DenseNet201(include_top=False, weights=None, input_tensor=image)
    skips = [encoder.get_layer(name).output for name in SKIP_LAYERS]
    bottom = encoder.get_layer("bn").output  # no relu after the final BatchNorm
    fg_logit, fg_features = _decoder("deFG", bottom, skips)
    bg_logit, bg_features = _decoder("deBG", bottom, skips)
    beta_logit = _fusion(image, fg_features, bg_features)
    fg = layers.Activation("sigmoid", name="deFG_side_0_sigmoid")(fg_logit)
    bg = layers.Activation("sigmoid", name="deBG_side_0_sigmoid")(bg_logit)
    beta = layers.Activation("sigmoid", name="fusion_sigmoid_output")(beta_logit)
    alpha = layers.Lambda(lambda t: t[0] * t[1] + (1.0 - t[0]) * (1.0 - t[2]), name="alpha")([beta, fg, bg])
    return keras.Model(image, [alpha, fg, bg, beta], name="latefusion")


def weighted_layers(model) -> list:
    """Every layer that holds weights, in build order."""
    return [layer for layer in model.layers if layer.weights]


def preprocess(image: np.ndarray) -> np.ndarray:
    """float32 RGB in [0, 1] (HxWx3) -> the network's input scale: 0-255 minus ``MEAN_PIXEL``."""
    return image.astype(np.float32) * 255.0 - MEAN_PIXEL
