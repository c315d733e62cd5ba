"""The resource policy: pixel budget and the working-memory estimate behind the server's admission."""
from __future__ import annotations

import pytest

from fusionmat.errors import BudgetError
from fusionmat.limits import FIXED_BYTES, check_pixels, estimate_bytes, max_pixels, working_pixels


def test_working_pixels_grow_with_the_aspect_restored_and_the_turned_canvas():
    assert working_pixels(100, 100) == (10_000, 10_000)
    assert working_pixels(100, 100, aspect=(1, 2)) == (20_000, 20_000)
    assert working_pixels(200, 100, aspect=(1, 1)) == (40_000, 40_000)
    assert working_pixels(100, 100, rotate=90) == (10_000, 10_000)
    assert working_pixels(100, 100, rotate="auto") == working_pixels(100, 100, rotate=45) == (10_000, 142 * 142)


def test_a_canvas_over_the_pixel_budget_counts_at_the_budget_as_it_is_refused_not_made():
    restored, turned = working_pixels(1024, 1024, rotate="auto", aspect=(1, 20))
    assert restored == 1024 * 20480 and turned == max_pixels()


def test_the_estimate_counts_the_output_kind_and_the_working_size():
    matte = estimate_bytes(1000, 1000, "matte")
    cutout = estimate_bytes(1000, 1000, "cutout")
    stretched = estimate_bytes(1000, 1000, "matte", aspect=(1, 20))
    turned = estimate_bytes(1000, 1000, "matte", rotate=90.0 + 45.0)
    assert FIXED_BYTES < matte < cutout
    assert stretched - matte == 19 * 1000 * 1000 * 4
    assert turned - matte == (1415 * 1415 - 1000 * 1000) * 12
    assert estimate_bytes(1000, 1000, "matte", background_pixels=10) == matte + 100 + 12 * 1000 * 1000
    with pytest.raises(KeyError):
        estimate_bytes(10, 10, "gif")


def test_the_pixel_budget_names_what_is_over_it():
    with pytest.raises(BudgetError, match="turned: too many pixels"):
        check_pixels(max_pixels() + 1, 1, "turned")
    check_pixels(max_pixels(), 1, "fits")
