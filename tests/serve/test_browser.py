"""The web page in a real headless Chromium: a grey 28x28 seed_cnn and an RGB 24x32 resnet_cifar (depth 8).

Every view is exercised and photographed: the layers (one symmetric colour scale per layer with its
bar, pre/post activation, every channel paged, logits, softmax), the click-a-pixel view, the three
attributions, the playground, and a failed upload. One browser serves all views (starting Chromium
costs seconds). Needs Debian's chromium and chromium-driver (.ci/run installs them); skipped where
they are absent. Screenshots go to $STRIDED_TEST_ARTIFACTS (or the test's temporary folder).
"""

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import strided as st
from strided.serve.loadtest import LiveServer

from .conftest import png_bytes

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")


def wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("profile")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1400,1100", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = Path(os.environ.get("STRIDED_TEST_ARTIFACTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(driver, folder: Path, name: str) -> None:
    path = folder / f"web_{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000, f"{path} looks empty"


def settled(driver) -> bool:
    return driver.execute_script("return document.body.dataset.busy") == "0"


def count(driver, key: str) -> int:
    return int(driver.execute_script(f"return document.body.dataset.{key} || 0"))


def data(driver, element, key: str) -> str:
    return driver.execute_script(f"return arguments[0].dataset.{key} || ''", element)


def upload(driver, path: Path) -> None:
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, "upload")
    driver.execute_script("arguments[0].hidden = false", element)
    element.send_keys(str(path))


# One script walks every layer row in the page (thousands of WebDriver round trips would take a minute):
# the colour bar's two ends, and every page of maps clicked through, counting the maps drawn.
LAYER_SURVEY = """
const rows = [];
for (const row of document.querySelectorAll('#layers .layer[data-name]')) {
  const info = {name: row.dataset.name, identity: !!row.querySelector('.note'),
                docs: row.querySelectorAll('.doc').length};
  if (!info.identity) {
    const bar = row.querySelector('.scale');
    info.low = Number(bar.dataset.low); info.high = Number(bar.dataset.high);
    info.total = Number(row.querySelector('.pager span').textContent.match(/of (\\d+)/)[1]);
    info.shown = 0;
    for (;;) {
      info.shown += row.querySelectorAll('.maps canvas[data-channel]').length;
      const next = row.querySelector('.pager .next');
      if (next.disabled) break;
      next.click();
    }
    while (!row.querySelector('.pager .prev').disabled) row.querySelector('.pager .prev').click();
  }
  rows.push(info);
}
return rows;
"""


def check_layers(driver, expected_names, classes: int):
    """Every layer row: a symmetric colour bar, all channels reachable by paging; logits and softmax rows."""
    from selenium.webdriver.common.by import By

    rows = driver.execute_script(LAYER_SURVEY)
    names = [r["name"] for r in rows]
    for name in expected_names:
        assert name in names, f"{name} not among the layers shown: {names}"
    for row in rows:
        assert row["docs"] >= 1, f"{row['name']}: no link to its docs page"
        if row["identity"]:
            continue  # an identity layer, said in words
        assert row["low"] == -row["high"] and row["high"] >= 0, f"{row}: the colour scale is not symmetric"
        assert row["shown"] == row["total"] > 0, f"{row}: not every map is reachable"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#layers .role-logits .logit-row")) == classes
    assert len(driver.find_elements(By.CSS_SELECTOR, "#layers .role-softmax .bar")) == classes
    tags = {t.text for t in driver.find_elements(By.CSS_SELECTOR, "#layers .tag")}
    assert {"pre-activation", "post-activation"} <= tags
    return rows


def click_pixel(driver, layer: str, channel_index: int = 0, x: int = 5, y: int = 5) -> str:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_elements(By.CSS_SELECTOR, f'#layers .layer[data-name="{layer}"] canvas[data-channel]')[
        channel_index]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    before = driver.execute_script("return document.body.dataset.clicked || ''")
    ActionChains(driver).move_to_element_with_offset(canvas, x - canvas.size["width"] // 2,
                                                     y - canvas.size["height"] // 2).click().perform()
    wait_for(lambda: driver.execute_script("return document.body.dataset.clicked || ''") not in ("", before),
             what=f"the clicked view of {layer}")
    text = driver.find_element(By.ID, "clicked-body").text
    box = data(driver, driver.find_element(By.ID, "input-view"), "box")
    assert re.fullmatch(r"\d+,\d+,\d+,\d+", box), f"no receptive field drawn: {box!r}"
    return text


def check_the_sum(text: str) -> None:
    """'... = X  (the layer computed Y)': the page's recomputation from the numbers equals the layer's value."""
    match = re.search(r"= ([-+\d.e]+)\s+\(the layer computed ([-+\d.e]+)", text)
    assert match, text
    assert float(match.group(1)) == pytest.approx(float(match.group(2)), rel=1e-3, abs=1e-4)


def run_attributions(driver, folder: Path, prefix: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    view = driver.find_element(By.ID, "input-view")
    driver.find_element(By.ID, "clicked-close").click()
    for method in ("saliency", "gradcam", "occlusion"):
        Select(driver.find_element(By.ID, "attr-method")).select_by_value(method)
        driver.execute_script("delete document.body.dataset.attribution")
        driver.find_element(By.ID, "attr-run").click()
        wait_for(lambda m=method: driver.execute_script("return document.body.dataset.attribution") == m,
                 what=f"the {method} view")
        assert data(driver, view, "heat") == "1"
        assert driver.find_element(By.CSS_SELECTOR, "#attr-bar .scale")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", view)
        shoot(driver, folder, f"{prefix}_{method}")


def test_seed_cnn_every_view(browser, model_path, digit_png, artifacts, tmp_path):
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
        wait_for(lambda: count(browser, "predictions") >= 1 and settled(browser), what="a prediction after drawing")
        assert browser.find_element(By.ID, "prediction").text.strip() not in ("", "–")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 10
        check_layers(browser, ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "avgpool"], 10)
        conv1 = browser.find_element(By.CSS_SELECTOR, '#layers .layer[data-name="conv1"]')
        assert len(conv1.find_elements(By.CSS_SELECTOR, ".cell canvas.filter")) == 32, "each map under its filter"
        avgpool = browser.find_element(By.CSS_SELECTOR, '#layers .layer[data-name="avgpool"]')
        assert "Identity here" in avgpool.find_element(By.CSS_SELECTOR, ".note").text
        shoot(browser, artifacts, "seed_layers")

        text = click_pixel(browser, "conv2", 3)
        assert "dot product" in text and "bias" in text
        check_the_sum(text)
        shoot(browser, artifacts, "seed_clicked_conv")
        check_the_sum(click_pixel(browser, "pool1", 1))

        run_attributions(browser, artifacts, "seed")

        browser.find_element(By.CSS_SELECTOR, '#layers .layer[data-name="conv2"] h3 button').click()
        formula = browser.find_element(By.ID, "pg-formula")
        assert formula.text.startswith("conv2:") and data(browser, formula, "out") == "14"  # 14, padding 1, 3x3
        for knob, value in (("n", 7), ("p", 1), ("k", 3), ("s", 2), ("d", 1)):
            field = browser.find_element(By.ID, f"pg-{knob}")
            field.clear()
            field.send_keys(str(value))
        assert data(browser, formula, "out") == "4" and "⌊6 / 2⌋ + 1 = 4" in formula.text
        browser.execute_script("document.getElementById('playground').scrollIntoView()")
        shoot(browser, artifacts, "seed_playground")

        broken = tmp_path / "broken.png"
        broken.write_bytes(b"this is not an image")
        errors = count(browser, "errors")
        upload(browser, broken)
        wait_for(lambda: count(browser, "errors") > errors, what="the failed upload's error")
        assert "broken.png" in browser.find_element(By.ID, "status").text, "the error names the uploaded file"
        assert browser.find_element(By.ID, "prediction").text.strip() == "–", "no stale prediction after a failure"
        assert not browser.find_elements(By.CSS_SELECTOR, "#layers .layer"), "no stale feature maps either"
        browser.execute_script("window.scrollTo(0, 0)")
        shoot(browser, artifacts, "seed_failed_upload")

        image = tmp_path / "one.png"
        image.write_bytes(digit_png)
        before = count(browser, "predictions")
        upload(browser, image)
        wait_for(lambda: count(browser, "predictions") > before, what="a prediction after uploading")
        assert browser.find_element(By.ID, "status").text == ""
    finally:
        server.stop()


@pytest.fixture(scope="module")
def resnet_path(tmp_path_factory):
    st.manual_seed(0)
    model = st.models.build_model("resnet_cifar", depth=8, num_classes=4, in_channels=3)
    path = tmp_path_factory.mktemp("resnet") / "shapes.safetensors"
    st.save(model, path, name="shapes", class_names=["red", "green", "blue", "grey"], input_shape=[3, 24, 32],
            preprocessing={"mode": "RGB", "size": [24, 32], "mean": [0.5] * 3, "std": [0.25] * 3})
    return path


def test_resnet_cifar_rgb_non_square_every_view(browser, resnet_path, artifacts, tmp_path):
    from selenium.webdriver.common.by import By

    server = LiveServer(resnet_path)
    try:
        browser.get(server.url + "/")
        wait_for(lambda: browser.execute_script("return document.body.dataset.ready"), what="model info")
        assert "input 3×24×32 (colour)" in browser.find_element(By.ID, "model-line").text
        rgb = np.zeros((24, 32, 3), np.uint8)
        rgb[3:15, 4:22, 0] = 220
        rgb[10:22, 15:30, 2] = 200
        image = tmp_path / "colours.png"
        image.write_bytes(png_bytes(rgb))
        upload(browser, image)
        wait_for(lambda: count(browser, "predictions") >= 1 and settled(browser), timeout=90,
                 what="a prediction after uploading")
        check_layers(browser, ["conv1", "bn1", "relu", "layer1.0", "layer2.0.conv1", "layer2.0.downsample.0",
                               "layer3.0", "avgpool"], 4)
        tags = {t.text for t in browser.find_elements(By.CSS_SELECTOR, "#layers .tag")}
        assert "block output" in tags
        browser.execute_script("window.scrollTo(0, 0)")
        shoot(browser, artifacts, "resnet_layers")

        text = click_pixel(browser, "layer2.0.conv1", 0, 7, 9)  # stride 2, 16 input channels, paged by 4
        check_the_sum(text)
        assert "input channels 1–4 of 16" in text
        shoot(browser, artifacts, "resnet_clicked_conv")
        text = click_pixel(browser, "bn1", 2, 6, 6)  # batch norm: its formula with the running statistics
        assert "sqrt(var + eps)" in text
        check_the_sum(text)
        shoot(browser, artifacts, "resnet_clicked_batchnorm")
        text = click_pixel(browser, "layer3.0", 1, 3, 3)  # a residual block's output: a receptive field only
        assert "Receptive field on the input" in text
        run_attributions(browser, artifacts, "resnet")
    finally:
        server.stop()
