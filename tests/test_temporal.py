"""The temporal filter of video mattes on made-up sequences: motion-gated smoothing, the one-frame
delay (MODNet's OFD) against a per-pixel reference, shot cuts and dtSSD."""
from __future__ import annotations

import numpy as np
import pytest

from fusionmat.run.temporal import Delayed, TemporalFilter, dtssd, grey_thumbnail, is_cut, one_frame_delay


def test_the_filter_removes_flicker_where_the_picture_is_still():
    rng = np.random.default_rng(0)
    frame = np.full((40, 40, 3), 128, np.uint8)
    truth = np.zeros((40, 40), np.float32)
    truth[10:30, 10:30] = 1.0
    raw = [np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1).astype(np.float32) for _ in range(30)]
    smooth = TemporalFilter()
    out = [smooth(frame, m) for m in raw]
    assert np.std(np.array(out[5:]), axis=0).mean() < 0.5 * np.std(np.array(raw[5:]), axis=0).mean()
    assert dtssd(out, [truth] * 30) < 0.6 * dtssd(raw, [truth] * 30)


def test_the_filter_follows_a_moving_edge_at_once():
    smooth = TemporalFilter()
    still = np.zeros((40, 40, 3), np.uint8)
    matte = np.zeros((40, 40), np.float32)
    smooth(still, matte)
    moved = still.copy()
    moved[:, 20:] = 255  # the picture changed on the right half: the subject moved in
    new_matte = np.zeros((40, 40), np.float32)
    new_matte[:, 20:] = 1.0
    out = smooth(moved, new_matte)
    assert out[:, 25:].min() > 0.95  # no ghost of the old matte where the picture moved
    smooth.reset()
    assert np.array_equal(smooth(still, matte), matte)  # after a cut: the frame's own matte


def test_filter_settings_are_checked():
    with pytest.raises(ValueError):
        TemporalFilter(strength=1.0)
    with pytest.raises(ValueError):
        TemporalFilter(motion_scale=0)


def test_dtssd_and_cuts():
    a = [np.zeros((4, 4), np.float32), np.ones((4, 4), np.float32)]
    assert dtssd(a, a) == 0.0
    assert dtssd([a[0], a[0]], a) == pytest.approx(100.0)  # missed a change of 1 everywhere
    dark, light = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)
    assert is_cut(None, grey_thumbnail(dark)) and is_cut(grey_thumbnail(dark), grey_thumbnail(light))
    assert not is_cut(grey_thumbnail(dark), grey_thumbnail(dark))


def reference_delay(mattes: list[np.ndarray], threshold: float) -> list[np.ndarray]:
    """One-frame delay written pixel by pixel: a value far (> threshold) from both neighbours that
    agree (within threshold) becomes their mean; the first and last frames have one neighbour."""
    out = [m.copy() for m in mattes]
    for t in range(1, len(mattes) - 1):
        before, now, after = mattes[t - 1], mattes[t], mattes[t + 1]
        for index in np.ndindex(now.shape):
            b, n, a = float(before[index]), float(now[index]), float(after[index])
            if abs(b - a) <= threshold and abs(n - b) > threshold and abs(n - a) > threshold:
                out[t][index] = (b + a) / 2
    return out


def run_delayed(delayed: Delayed, mattes: list[np.ndarray], frames: list | None = None) -> list[tuple]:
    """Push every matte, then flush; every (frame, matte) that comes out, in order."""
    frames = frames if frames is not None else [np.zeros((1, 1, 3), np.uint8) for _ in mattes]
    out = [delayed.push(frame, matte) for frame, matte in zip(frames, mattes, strict=True)]
    return [item for item in [*out, delayed.flush()] if item is not None]


def test_delayed_gives_each_frame_once_one_frame_late_in_order():
    delayed = Delayed()
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(4)]
    mattes = [np.full((2, 2), i / 4, np.float32) for i in range(4)]
    assert delayed.push(frames[0], mattes[0]) is None  # nothing out until the next frame is in
    out = delayed.push(frames[1], mattes[1])
    assert out[0] is frames[0] and np.array_equal(out[1], mattes[0])
    rest = [delayed.push(frames[2], mattes[2]), delayed.push(frames[3], mattes[3]), delayed.flush()]
    assert [item[0] is frame for item, frame in zip(rest, frames[1:], strict=True)] == [True] * 3
    assert delayed.flush() is None  # flushed once: nothing held any more
    assert all(item[1].dtype == np.float32 for item in [out, *rest])


@pytest.mark.parametrize("values, expected", [
    ([0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]),  # a one-frame flash: removed
    ([1.0, 1.0, 0.1, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0]),  # a one-frame hole: filled
    ([0.0, 0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0, 1.0]),  # a real change: kept at once
    ([0.0, 0.0, 1.0, 0.5, 0.5], [0.0, 0.0, 1.0, 0.5, 0.5]),  # neighbours disagree: kept
    ([0.0, 0.5, 1.0, 0.5, 0.0], [0.0, 0.5, 0.5, 0.5, 0.0]),  # a peak over agreeing neighbours: their mean
    ([0.0, 0.15, 0.0, 0.0, 0.0], [0.0, 0.15, 0.0, 0.0, 0.0]),  # within the threshold: kept
    ([1.0, 0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0, 1.0]),  # first and last frames: one neighbour only
])
def test_delayed_removes_one_frame_flickers_only(values, expected):
    mattes = [np.full((3, 3), v, np.float32) for v in values]
    out = [matte for _, matte in run_delayed(Delayed(), mattes)]
    np.testing.assert_allclose([m[0, 0] for m in out], expected, atol=1e-6)


@pytest.mark.parametrize("threshold", [0.1, 0.2, 0.4])
def test_delayed_matches_a_pixel_by_pixel_reference(threshold):
    rng = np.random.default_rng(7)
    base = (rng.random((6, 5)) > 0.5).astype(np.float32)
    mattes = [np.clip(base + rng.normal(0, 0.15, base.shape) + (rng.random(base.shape) > 0.85), 0, 1)
              .astype(np.float32) for _ in range(9)]
    out = [matte for _, matte in run_delayed(Delayed(threshold), mattes)]
    expected = reference_delay(mattes, threshold)
    assert len(out) == len(expected)
    for got, want in zip(out, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert any(not np.array_equal(got, m) for got, m in zip(out, mattes, strict=True))  # something was cleaned


def test_no_neighbour_across_a_flush():
    """At a cut the video flushes: the first frame of the next shot must not be cleaned against the
    last frame of the shot before."""
    delayed = Delayed()
    zeros, ones = np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32)
    run_delayed(delayed, [zeros, zeros])
    out = [matte for _, matte in run_delayed(delayed, [ones, zeros, zeros])]
    assert np.array_equal(out[0], ones)  # with the old shot as its 'before' it would be cleaned to 0
    assert np.array_equal(one_frame_delay(zeros, ones, zeros), zeros)  # as the same frames in one shot are
