"""The web page in a real browser: Debian's chromium (headless) through Selenium, against a real
`fusionmat serve` on 127.0.0.1. `.ci/run` installs chromium and chromium-driver."""
from __future__ import annotations

import shutil

import pytest
from PIL import Image

from tests.conftest import IN_CI, import_or_skip, requires_weights
from tests.serving import running_server

import_or_skip("selenium")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not IN_CI and not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver; "
                ".ci/run does)", allow_module_level=True)


@pytest.fixture(scope="module")
def server():
    with running_server() as (_, url):
        yield url


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


PIXEL_AT_CORNER = """
const img = document.getElementById(arguments[0]);
const canvas = document.createElement('canvas');
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
const ctx = canvas.getContext('2d');
ctx.drawImage(img, 0, 0);
return [img.naturalWidth, img.naturalHeight, Array.from(ctx.getImageData(0, 0, 1, 1).data)];
"""


@requires_weights
def test_drop_a_photo_and_get_its_cutout(server, browser, tmp_path, astronaut):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).resize((320, 320)).save(photo, quality=92)
    browser.get(server)
    assert "fusionmat" in browser.title
    chooser = browser.find_element(By.ID, "file")
    browser.execute_script("arguments[0].hidden = false;", chooser)
    chooser.send_keys(str(photo))
    WebDriverWait(browser, 120).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state")
                                      in ("done", "error"))
    status = browser.find_element(By.ID, "status").text
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done", status
    width, height, corner = browser.execute_script(PIXEL_AT_CORNER, "cutout")
    assert (width, height) == (320, 320)
    assert corner[3] == 0  # the cut-out's background is transparent
    _, _, centre_matte = browser.execute_script(PIXEL_AT_CORNER.replace("0, 0, 1, 1", "160, 120, 1, 1"), "matte")
    assert centre_matte[0] > 200  # the astronaut's face is foreground
    shot = tmp_path / "page.png"
    assert browser.save_screenshot(str(shot)) and Image.open(shot).size[0] > 0


@requires_weights
def test_a_bad_file_is_explained_in_words(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    browser.get(server)
    chooser = browser.find_element(By.ID, "file")
    browser.execute_script("arguments[0].hidden = false;", chooser)
    chooser.send_keys(str(bad))
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state")
                                     == "error")
    status = browser.find_element(By.ID, "status")
    assert "not an image" in status.text and "error" in status.get_attribute("class")
