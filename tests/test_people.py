"""Keeping a matte to people: the pure rule on synthetic mattes, and a person in front of a cat."""
from __future__ import annotations

import numpy as np
import pytest

from fusionmat.matting.people import keep_people
from tests.conftest import SHARED, requires_shared, requires_weights


def disc(shape, centre, radius) -> np.ndarray:
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    return (((ys - centre[0]) ** 2 + (xs - centre[1]) ** 2) <= radius ** 2).astype(np.float32)


def test_a_region_apart_from_the_person_is_removed_and_the_person_kept():
    person = disc((200, 300), (100, 80), 40)
    other = disc((200, 300), (100, 230), 40)  # a cat: matted, but nobody there
    matte = np.clip(person + 0.8 * other, 0, 1)
    kept = keep_people(matte, person)
    np.testing.assert_array_equal(kept[person > 0], 1.0)
    assert kept[other > 0].max() == 0.0


def test_hair_and_a_held_object_next_to_the_person_are_kept_what_is_far_fades():
    person = np.zeros((400, 400), np.float32)
    person[100:300, 150:250] = 1.0  # extent 200 px: kept whole within 10 px (margin 0.05), gone past 20 px
    matte = person.copy()
    matte[95:100, 150:250] = 0.6     # hair 5 px above the segmentation
    matte[200:210, 250:400] = 1.0    # a long stick held in the hand, one region with the person
    kept = keep_people(matte, person, margin=0.05)
    np.testing.assert_allclose(kept[95:100, 150:250], 0.6)
    np.testing.assert_array_equal(kept[200:210, 250:260], 1.0)
    assert kept[200:210, 275:].max() == 0.0
    assert 0.0 < kept[205, 265] < 1.0  # the fade between one and two margins


def test_no_person_means_an_empty_matte_and_shapes_must_agree():
    matte = disc((50, 50), (25, 25), 10)
    assert keep_people(matte, np.zeros((50, 50), np.float32)).max() == 0.0
    with pytest.raises(ValueError, match="shape"):
        keep_people(matte, np.zeros((40, 50), np.float32))


def person_before_cat(name: str, height: int, left: float, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A bench subject (true foreground and matte from ../shared) ``height`` px tall, standing on the
    bottom edge at ``left`` of the width, in front of scikit-image's chelsea resized to ``size``
    (w, h): the photo (uint8) and its true matte."""
    from PIL import Image
    from skimage import data

    from fusionmat.evaluate.scores import read_matte
    from fusionmat.io.read import read_image

    bench = SHARED / "bench" / "plain"
    fg = read_image(bench / "fg" / f"{name}.png", dtype=np.uint8)
    alpha = read_matte(bench / "alpha" / f"{name}.png")
    cat = np.asarray(Image.fromarray(data.chelsea()).resize(size, Image.LANCZOS), np.float32) / 255
    h, w = height, int(round(fg.shape[1] * height / fg.shape[0]))
    small_fg = np.asarray(Image.fromarray(fg).resize((w, h), Image.LANCZOS), np.float32) / 255
    small_alpha = np.clip(np.asarray(Image.fromarray(alpha).resize((w, h), Image.LANCZOS), np.float32), 0, 1)
    y0, x0 = cat.shape[0] - h, int(left * cat.shape[1])
    truth = np.zeros(cat.shape[:2], np.float32)
    truth[y0:, x0:x0 + w] = small_alpha
    fg_full = np.zeros_like(cat)
    fg_full[y0:, x0:x0 + w] = small_fg
    photo = truth[:, :, None] * fg_full + (1 - truth[:, :, None]) * cat
    return (photo * 255 + 0.5).astype(np.uint8), truth


@requires_shared
@requires_weights
@pytest.mark.parametrize("layout", [("keanu__coffee", 250, 0.05, (900, 600)),
                                    ("1__coffee", 200, 0.6, (600, 400)),
                                    ("Outdoor__coffee", 250, 0.05, (900, 600))])
@pytest.mark.parametrize("preprocess", [False, True])
def test_a_person_in_front_of_a_cat_keeps_the_person_and_not_the_cat(modnet_engine, layout, preprocess):
    """The issue's failure: MODNet alone mattes the cat (SAD 48-112 on these layouts); the engine,
    alone or after the default preprocessing, keeps the person and leaves the cat at ~0."""
    from fusionmat.matting.pipeline import matte_image
    from fusionmat.preprocess.chain import Preprocessor, Settings

    photo, truth = person_before_cat(*layout)
    matte = matte_image(photo, modnet_engine, preprocessor=Preprocessor(Settings()) if preprocess else None)
    person = truth > 0.5
    far = cv2_distance_from(truth > 0.01) > 20  # the cat and the rest, clear of the person
    assert matte[person].mean() > 0.9
    assert matte[far].mean() < 0.005 and np.quantile(matte[far], 0.999) < 0.2
    assert np.abs(matte - truth).sum() / 1000 < 3.0  # SAD


def cv2_distance_from(mask: np.ndarray) -> np.ndarray:
    """Pixels' distance from the nearest pixel of ``mask``."""
    import cv2

    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
