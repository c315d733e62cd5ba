"""Keeping a matte to people: the pure rule on synthetic mattes, and a person in front of a cat."""
from __future__ import annotations

import numpy as np
import pytest

from fusionmat.matting.people import ENOUGH, FACE_SURE, SURE, UNSURE, PersonCheck, best_on, keep_people
from fusionmat.preprocess.box import Box
from fusionmat.preprocess.detect import Detection
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


def matte_and_warnings(image: np.ndarray, engine, preprocess: bool) -> tuple[np.ndarray, list[str]]:
    """The final matte of ``image`` and the no-person warnings it raised."""
    import warnings

    from fusionmat.matting.pipeline import matte_image
    from fusionmat.matting.refine import NoSubjectWarning
    from fusionmat.preprocess.chain import Preprocessor, Settings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        matte = matte_image(image, engine, preprocessor=Preprocessor(Settings()) if preprocess else None)
    return matte, [str(w.message) for w in caught if issubclass(w.category, NoSubjectWarning)]


@requires_weights
@pytest.mark.parametrize("engine_fixture", ["modnet_engine", "selfie_engine"])
@pytest.mark.parametrize("picture", ["coffee", "chelsea"])
@pytest.mark.parametrize("preprocess", [False, True])
def test_a_picture_without_a_person_gets_an_empty_matte_and_the_warning(request, engine_fixture, picture, preprocess):
    """The issue's failure: a cup of coffee and a cat were matted (mean alpha 0.18-0.72)."""
    from skimage import data

    matte, warned = matte_and_warnings(getattr(data, picture)(), request.getfixturevalue(engine_fixture), preprocess)
    assert matte.max() == 0.0
    assert warned == ["no person found; the matte is empty"]


@requires_weights
@pytest.mark.parametrize("engine_fixture", ["modnet_engine", "selfie_engine"])
def test_without_the_check_the_segmentation_takes_the_cat_for_a_person(request, engine_fixture):
    """What the check is for: the person segmentation alone mattes most of chelsea."""
    from skimage import data

    engine = request.getfixturevalue(engine_fixture)
    owner = engine.people if engine_fixture == "modnet_engine" else engine
    check, owner.check = owner.check, None
    try:
        matte, warned = matte_and_warnings(data.chelsea(), engine, False)
    finally:
        owner.check = check
    assert matte.mean() > 0.3 and warned == []


@requires_weights
@pytest.mark.parametrize("engine_fixture", ["modnet_engine", "selfie_engine"])
@pytest.mark.parametrize("preprocess", [False, True])
def test_the_astronaut_is_found_and_matted(request, engine_fixture, preprocess, astronaut):
    matte, warned = matte_and_warnings(astronaut, request.getfixturevalue(engine_fixture), preprocess)
    assert warned == []
    assert matte[250:400, 150:300].mean() > 0.9  # her suit
    assert matte[20:120, 420:500].mean() < 0.05   # the background at the top right

class Fixed:
    """A stand-in detector: its detections for every image (or only for images of ``shape``), calls recorded."""

    def __init__(self, detections: list[Detection], shape: tuple[int, int] | None = None) -> None:
        self.detections, self.shape, self.calls = detections, shape, []

    def detect(self, image, *, min_score=None):
        self.calls.append(image.shape[:2])
        return list(self.detections) if self.shape in (None, image.shape[:2]) else []

    def detect_in_tiles(self, image, *, min_score=None):
        return []


def check_with(faces: list[Detection], bodies: list[Detection], face_shape=None) -> PersonCheck:
    check = object.__new__(PersonCheck)  # no models loaded
    check.faces, check.bodies = Fixed(faces, face_shape), Fixed(bodies)
    return check


def at(score: float, x: float, y: float, size: float = 10.0, lean: tuple[float, float] = (0.0, -1.0)) -> Detection:
    """A detection centred at (x, y); as a body, its hips -> head line points along ``lean`` (default: up)."""
    hips = np.array([x, y + 30.0])
    return Detection(score, Box(x - size / 2, y - size / 2, size, size),
                     np.stack([hips, hips + 60.0 * np.array(lean)]))


IMAGE = np.zeros((100, 100, 3), np.float32)
PERSON_MASK = np.zeros((100, 100), np.float32)
PERSON_MASK[20:100, 30:70] = 1.0  # the segmentation: a person in the middle (the same when mirrored)


def test_only_detections_whose_box_holds_some_of_the_segmentation_count():
    assert best_on([at(0.9, 10, 10), at(0.6, 50, 50), at(0.5, 45, 80)], PERSON_MASK) == 0.6
    assert best_on([at(0.9, 10, 10)], PERSON_MASK) == 0.0
    assert best_on([at(0.8, 27, 50, size=8)], PERSON_MASK) == 0.8  # its edge overlaps the person
    assert best_on([at(0.9, -20, 500, size=4)], PERSON_MASK) == 0.0  # off the grid


def test_a_strong_face_on_the_person_is_enough_and_no_body_is_looked_for():
    check = check_with([at(FACE_SURE, 50, 30)], [])
    assert check(IMAGE, PERSON_MASK)
    assert check.bodies.calls == []


@pytest.mark.parametrize("faces, bodies, expected", [
    ([at(0.95, 10, 10)], [], False),                       # a face beside the segmentation: a poster
    ([at(0.6, 50, 30)], [at(SURE - 0.6, 50, 40)], True),   # a weak face and a body: enough at once
    ([at(0.3, 50, 30)], [at(0.55, 50, 40)], False),        # both weak: nobody, at once
    ([], [at(0.99, 50, 40)], False),                       # a body alone is not enough (a motorbike)
])
def test_face_and_body_scores_decide_together(faces, bodies, expected):
    assert check_with(faces, bodies)(IMAGE, PERSON_MASK) is expected


def test_an_unclear_case_gets_a_second_look_at_the_mirrored_photo():
    check = check_with([at(0.55, 50, 30)], [at(0.7, 50, 40)])
    assert UNSURE <= 0.55 + 0.7 < SURE and 0.55 + 0.7 >= ENOUGH
    assert check(IMAGE, PERSON_MASK)
    assert len(check.bodies.calls) == 2  # the photo and its mirror image
    assert UNSURE <= 0.45 + 0.6 < ENOUGH
    assert not check_with([at(0.45, 50, 30)], [at(0.6, 50, 40)])(IMAGE, PERSON_MASK)


def test_the_face_of_a_leaning_body_is_looked_for_with_the_photo_turned_upright():
    image, person = np.zeros((60, 100, 3), np.float32), np.ones((60, 100), np.float32)
    lying = at(0.5, 50, 30, lean=(1.0, 0.0))  # head to the right: the photo is turned a quarter
    face_when_turned = check_with([at(0.7, 30, 50)], [lying], face_shape=(100, 60))
    assert face_when_turned(image, person)  # 0.7 + 0.5 on both views
    assert (100, 60) in face_when_turned.faces.calls
    upright = check_with([at(0.7, 30, 50)], [at(0.5, 50, 30)], face_shape=(100, 60))
    assert not upright(image, person)  # not leaning: not turned, no face, a body alone


def test_an_empty_segmentation_is_nobody_without_running_a_detector():
    check = check_with([at(0.99, 50, 30)], [at(0.99, 50, 40)])
    assert not check(IMAGE, np.zeros((100, 100), np.float32))
    assert check.faces.calls == [] and check.bodies.calls == []
