"""The small, fast engine: MediaPipe selfie segmentation (two models, flip TTA, zoom pass).

Works offline on the Apache-2.0 models that ``fusionmat weights fetch`` extracts from the
mediapipe wheel. The output is a foreground probability; the pipeline turns it into a
soft matte with closed-form matting in an uncertainty band (``fusionmat.matting.refine``).

The segmentation marks cats and cups as people too, so an image on which
:class:`~fusionmat.matting.people.PersonCheck` finds no person (too little face and body
evidence on the segmented region) gets an all-zero output, and the pipeline warns.

Both models are weighted and flip-averaged, with a second pass on the subject's box; each of
these choices was measured (docs/benchmarks.md).
"""
from __future__ import annotations

import numpy as np

from fusionmat.engines.base import Engine, Option, parse_bool
from fusionmat.engines.tflite import TFLiteModel
from fusionmat.engines.weights import model_path
from fusionmat.io.read import to_float
from fusionmat.matting.people import PersonCheck
from fusionmat.matting.resize import resize_to, working_size
from fusionmat.preprocess.box import Box

SQUARE_MODEL = "selfie_segmentation.tflite"
LANDSCAPE_MODEL = "selfie_segmentation_landscape.tflite"
SQUARE_WEIGHT = 0.3
"""Weight of the 256x256 model; the 144x256 model gets the rest (it scores better alone)."""
MAX_SIDE = 1024
"""Larger photos are segmented on a copy this long (the models see at most 256 px of it anyway)."""
ZOOM_MARGIN = 0.15
"""Margin added around the first pass's subject box, as a fraction of the box size."""


def subject_box(prob: np.ndarray, margin: float, threshold: float = 0.5) -> Box | None:
    """The box of the pixels above ``threshold`` grown by ``margin`` (whole pixels, inside the
    grid); None if there are none."""
    above = prob > threshold
    rows = np.flatnonzero(above.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(above.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    my, mx = int((y1 - y0) * margin), int((x1 - x0) * margin)
    return Box.from_corners(x0 - mx, y0 - my, x1 + mx, y1 + my).clipped(*prob.shape)


class SelfieEngine(Engine):
    """Portrait segmentation from the two MediaPipe selfie models.

    Parameters
    ----------
    threads : CPU threads for LiteRT (default: all cores).
    zoom : run a second pass on the subject's bounding box (default True).
    people_check : return an all-zero output when no person is found
        (:class:`~fusionmat.matting.people.PersonCheck`; default True).
    """

    name = "selfie"
    files = (SQUARE_MODEL, LANDSCAPE_MODEL, *PersonCheck.files)
    options = (
        Option("zoom", parse_bool, "false: no second pass on the subject's box"),
        Option("people_check", parse_bool, "false: keep the matte even where no face or body is found"),
    )
    refine = "closed-form"
    upsample = "bilinear"
    check: PersonCheck | None = None
    """The person check, or None to return the segmentation whatever it marks."""

    def __init__(self, *, threads: int | None = None, zoom: bool = True, people_check: bool = True) -> None:
        self.models = [
            (TFLiteModel(model_path(SQUARE_MODEL), threads=threads), SQUARE_WEIGHT),
            (TFLiteModel(model_path(LANDSCAPE_MODEL), threads=threads), 1.0 - SQUARE_WEIGHT),
        ]
        self.zoom = zoom
        self.check = PersonCheck(threads=threads) if people_check else None

    def settings(self) -> dict:
        # the key of outputs made with the check stays what it was; only turning it off changes it
        return {"engine": self.name, "zoom": self.zoom} | ({} if self.check is not None else {"people_check": False})

    def _segment(self, image: np.ndarray) -> np.ndarray:
        """Weighted, flip-averaged probability of both models, on the image's grid."""
        h, w = image.shape[:2]
        total = np.zeros((h, w), np.float32)
        for model, weight in self.models:
            x = resize_to(image, *model.input_size)
            batch = np.stack([x, x[:, ::-1]])
            probs = [next(iter(model.run(b[None]).values()))[0, :, :, 0] for b in batch]
            prob = 0.5 * (probs[0] + probs[1][:, ::-1])
            total += weight * resize_to(prob, h, w)
        return np.clip(total, 0.0, 1.0)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        return working_size(height, width, MAX_SIDE)

    def predict(self, image: np.ndarray) -> np.ndarray:
        view = to_float(resize_to(image, *self.input_size(*image.shape[:2])))
        prob = self._segment(view)
        box = subject_box(prob, ZOOM_MARGIN) if self.zoom else None
        if box is not None and box != (0, 0, view.shape[1], view.shape[0]):  # the whole view: done already
            prob = np.zeros_like(prob)
            prob[box.slices()] = self._segment(view[box.slices()])
        if self.check is not None and not self.check(view, prob):
            return np.zeros_like(prob)
        return prob
