"""`fusionmat evaluate --report`: the error map, the page's content, and the page in a real browser."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.cli import main
from fusionmat.evaluate.report import FALSE_FOREGROUND, MISSED_FOREGROUND, error_map
from tests.conftest import IN_CI, import_or_skip


def test_error_map_colours_the_sign_and_size_of_the_error():
    truth = np.array([[0.0, 1.0, 0.5, 0.0]], np.float32)
    pred = np.array([[0.0, 0.0, 0.5, 1.0]], np.float32)
    colours = error_map(pred, truth)[0]
    assert colours[0].tolist() == [255, 255, 255] and colours[2].tolist() == [255, 255, 255]  # right: white
    assert colours[1].tolist() == list(MISSED_FOREGROUND)  # subject missed: blue
    assert colours[3].tolist() == list(FALSE_FOREGROUND)  # background taken: red
    half = error_map(np.array([[0.5]]), np.array([[0.0]]))[0, 0]
    assert 255 > half[1] > FALSE_FOREGROUND[1]  # half the error, half the colour


@pytest.fixture
def folders(tmp_path):
    pred, gt, photos = tmp_path / "pred", tmp_path / "gt", tmp_path / "photos"
    for folder in (pred, gt, photos):
        folder.mkdir()
    truth = np.zeros((60, 80), np.uint8)
    truth[10:50, 20:60] = 255
    for name, shift in (("good", 0), ("bad", 12), ("fair", 4)):
        Image.fromarray(truth).save(gt / f"{name}.png")
        Image.fromarray(np.roll(truth, shift, axis=1)).save(pred / f"{name}_matting.png")
        Image.fromarray(np.dstack([truth] * 3)).save(photos / f"{name}.jpg")
    Image.fromarray(truth).save(gt / "lost.png")  # no prediction: listed as not scored
    return pred, gt, photos


def test_report_page_lists_worst_first_and_embeds_every_picture(folders, tmp_path):
    pred, gt, photos = folders
    result = CliRunner().invoke(main, ["evaluate", str(pred), str(gt), "--report", str(tmp_path / "rep"),
                                       "--images", str(photos)])
    assert result.exit_code == 1 and "report:" in result.stderr  # 1: lost.png could not be scored
    page = (tmp_path / "rep" / "index.html").read_text()
    order = re.findall(r'<section class="image" id="img-(\w+)"', page)
    assert order == ["bad", "fair", "good"]
    assert page.count("data:image/") == 3 * 4  # photo, prediction, truth, error map for each
    assert "lost" in page and "no prediction" in page
    assert "http://" not in page and "https://" not in page  # nothing loaded from outside
    assert list((tmp_path / "rep").iterdir()) == [tmp_path / "rep" / "index.html"]


def test_images_needs_report(folders):
    pred, gt, photos = folders
    result = CliRunner().invoke(main, ["evaluate", str(pred), str(gt), "--images", str(photos)])
    assert result.exit_code == 2 and "--images goes with --report" in result.output


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.skipif(not IN_CI and not (CHROMIUM and CHROMEDRIVER),
                    reason="chromium and chromium-driver are not installed (.ci/run installs them)")
def test_report_in_a_browser_sorts_and_shows_its_pictures(folders, tmp_path):
    import_or_skip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    pred, gt, photos = folders
    CliRunner().invoke(main, ["evaluate", str(pred), str(gt), "--report", str(tmp_path / "rep"),
                              "--images", str(photos)])
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get((tmp_path / "rep" / "index.html").as_uri())
        def rows():
            return [r.get_attribute("data-name") for r in driver.find_elements(By.CSS_SELECTOR, "#scores tbody tr")]

        assert rows() == ["bad", "fair", "good"]
        driver.find_element(By.CSS_SELECTOR, 'th[data-key="sad"]').click()  # ascending
        assert rows() == ["good", "fair", "bad"]
        sizes = driver.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
        assert len(sizes) == 12 and min(sizes) > 0  # every embedded picture decodes
        shot = tmp_path / "report.png"
        assert driver.save_screenshot(str(shot))
        assert np.asarray(Image.open(shot).convert("L")).std() > 10  # not a blank page
    finally:
        driver.quit()
