"""``fusion``: MODNet and Robust Video Matting on the same photo, their mattes combined.

Neither network wins everywhere (docs/benchmarks.md, "Fusion"): MODNet is better upright and
after tilt correction, RVM on photos turned by quarter turns only and on hair. The rule, chosen
on ../shared/bench among the plain mean, fixed weights, a minimum, a gate and confidence
weights, with and without the people filter:

    fused = (c_m * m + c_r * r) / (c_m + c_r),   c = |2a - 1|  (how sure each network is)

except where the two differ by more than :data:`DISAGREE`: there the one nearer the person
segmentation ``p`` is taken (a confident mean of a sure 1 and a sure 0 would be a flat 0.5, a
see-through patch in a cut-out); then the people filter (:func:`fusionmat.matting.people.keep_people`).
Where one hesitates (a soft edge, a region it half-sees) the sure one decides.

The pipeline turns the photo by quarter turns only for this engine (``tilt = False``: RVM mattes
the corners a smaller turn fills in); MODNet's branch corrects the remaining tilt itself with
the same preprocessing step and maps its matte back. The RVM model is GPL-3.0.
"""
from __future__ import annotations

import numpy as np

from fusionmat.engines.base import Engine, Option, int_in
from fusionmat.engines.modnet import LONG_SIDE, STRIDE, ModnetEngine
from fusionmat.engines.modnet import MODEL as MODNET_MODEL
from fusionmat.engines.rvm import ENCODER_SIDE, MAX_SIDE, RvmEngine
from fusionmat.engines.rvm import MODEL as RVM_MODEL
from fusionmat.matting.people import PersonSegmenter, keep_people
from fusionmat.matting.resize import resize_to

SURE_FLOOR = 1e-3
"""Added to both weights, so that where neither network is sure (both near 0.5) the rule is the mean."""
DISAGREE = 0.5
"""Where the mattes differ by more than this, the person segmentation picks one (docs/benchmarks.md)."""


def fuse(modnet: np.ndarray, rvm: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Two mattes on the same grid combined: their confidence-weighted mean, and where they
    disagree the one nearer ``person`` (the people's probability on that grid); float32 in [0, 1]."""
    cm = np.abs(2.0 * modnet - 1.0) + SURE_FLOOR
    cr = np.abs(2.0 * rvm - 1.0) + SURE_FLOOR
    fused = (cm * modnet + cr * rvm) / (cm + cr)
    nearer = np.where(np.abs(modnet - person) <= np.abs(rvm - person), modnet, rvm)
    fused = np.where(np.abs(modnet - rvm) > DISAGREE, nearer, fused)
    return np.clip(fused, 0.0, 1.0).astype(np.float32)


class FusionEngine(Engine):
    """MODNet (people filter, tilt corrected) and RVM, fused by confidence, the person segmentation
    deciding where they disagree.

    Parameters
    ----------
    threads : CPU threads for onnxruntime and the detectors.
    long_side : MODNet's grid (as modnet's option).
    encoder_side, max_side : RVM's (as rvm's options); the fused matte is on RVM's grid.
    """

    name = "fusion"
    files = (MODNET_MODEL, RVM_MODEL, *PersonSegmenter.files)
    options = (
        Option("long_side", int_in(256, 2048, STRIDE), "MODNet's grid: its long side in px (multiple of 32)"),
        Option("encoder_side", int_in(128, 4096), "long side in px RVM's encoder sees"),
        Option("max_side", int_in(256, 8192), "long side of the grid RVM refines on and the mattes are fused on"),
    )
    refine = "none"
    upsample = "guided"
    tilt = False

    def __init__(self, *, threads: int | None = None, long_side: int = LONG_SIDE, encoder_side: int = ENCODER_SIDE,
                 max_side: int = MAX_SIDE, device: str | None = None) -> None:
        from fusionmat.preprocess.chain import AUTO, NONE, Preprocessor, Settings

        self.modnet = ModnetEngine(threads=threads, long_side=long_side, device=device)
        self.rvm = RvmEngine(threads=threads, encoder_side=encoder_side, max_side=max_side, people_only=False,
                             device=device)
        self.session = self.modnet.session  # where it runs (both networks run on the same device)
        self.upright = Preprocessor(Settings(rotate=AUTO, crop=NONE, aspect=NONE), threads=threads)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        return self.rvm.input_size(height, width)

    def settings(self) -> dict:
        return {"engine": self.name, "long_side": self.modnet.long_side, "encoder_side": self.rvm.encoder_side,
                "max_side": self.rvm.max_side}

    def predict(self, image: np.ndarray) -> np.ndarray:
        from fusionmat.matting.pipeline import EnginePass, full_size

        x = resize_to(image, *self.input_size(*image.shape[:2]))
        steps = self.upright.steps(x)  # the tilt left after the pipeline's quarter turns, for MODNet
        seen = steps[-1].image if steps else x
        matte, person = self.modnet.matte_and_people(seen)
        if not person.any():
            return np.zeros(x.shape[:2], np.float32)  # the person check found nobody
        modnet = full_size(EnginePass(seen, matte, steps, "guided"))
        people = full_size(EnginePass(seen, person, steps, "bilinear"))
        return keep_people(fuse(modnet, self.rvm.predict(x), people), people)
