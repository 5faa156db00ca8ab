"""The web page in a real headless Chromium: draw a stroke, upload an image, see predictions and maps.

Needs Debian's chromium and chromium-driver (.ci/run installs them); skipped where they are absent.
A screenshot is written to $STRIDED_TEST_ARTIFACTS (or the test's temporary folder).
"""

import os
import shutil
import time
from pathlib import Path

import pytest

from strided.serve.loadtest import LiveServer

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")


def wait_for(condition, timeout=30.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def browser(tmp_path):
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1200,1000", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def predictions_count(driver) -> int:
    return int(driver.execute_script("return document.body.dataset.predictions || 0"))


def test_drawing_and_uploading_show_predictions_and_feature_maps(browser, model_path, digit_png, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    server = LiveServer(model_path)
    try:
        browser.get(server.url + "/")
        wait_for(lambda: browser.execute_script("return document.body.dataset.ready"), what="model info")
        assert "10 classes" in browser.find_element(By.ID, "model-line").text

        pad = browser.find_element(By.ID, "pad")
        ActionChains(browser).move_to_element_with_offset(pad, -10, -80).click_and_hold() \
            .move_by_offset(5, 40).move_by_offset(5, 40).move_by_offset(5, 40).release().perform()
        wait_for(lambda: predictions_count(browser) >= 1, what="a prediction after drawing")
        assert browser.find_element(By.ID, "prediction").text.strip() not in ("", "–")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 10
        maps = browser.find_elements(By.CSS_SELECTOR, "#layers .maps canvas")
        assert len(maps) >= 32, "the first conv layer alone has 32 feature maps"
        assert browser.find_elements(By.CSS_SELECTOR, "#filters canvas")

        before = predictions_count(browser)
        image = tmp_path / "upload.png"
        image.write_bytes(digit_png)
        upload = browser.find_element(By.ID, "upload")
        browser.execute_script("arguments[0].hidden = false", upload)
        upload.send_keys(str(image))
        wait_for(lambda: predictions_count(browser) > before, what="a prediction after uploading")

        artifacts = Path(os.environ.get("STRIDED_TEST_ARTIFACTS", tmp_path))
        artifacts.mkdir(parents=True, exist_ok=True)
        shot = artifacts / "web_page.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        server.stop()

