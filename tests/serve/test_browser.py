"""The web page in a real headless Chromium: a grey 28x28 seed_cnn, an RGB 24x32 resnet_cifar (depth 8),
and a 20x30 Sequential whose kernel, stride, padding and dilation differ between H and W.

Every view is exercised and photographed: the layers (one symmetric colour scale per layer with its
bar, pre/post activation, every channel paged, logits, softmax), the click-a-pixel view, the three
attributions, the playground on both axes (checked against strided's own conv2d), the docs pages a
layer links to (opened in a new tab), and a failed upload. One browser serves all views (starting Chromium
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


def conv_output_hw(rows: dict, cols: dict) -> tuple:
    """(H_out, W_out) of strided's conv2d with the playground's numbers for each axis."""
    x = np.zeros((1, 1, rows["n"], cols["n"]))
    weight = np.zeros((1, 1, rows["k"], cols["k"]))
    pairs = {knob: (rows[knob], cols[knob]) for knob in "psd"}
    return st.functional.conv2d(x, weight, stride=pairs["s"], padding=pairs["p"], dilation=pairs["d"]).shape[2:]


def set_playground(driver, rows: dict, cols: dict) -> None:
    from selenium.webdriver.common.by import By

    for axis, values in (("h", rows), ("w", cols)):
        for knob, value in values.items():
            field = driver.find_element(By.ID, f"pg-{knob}-{axis}")
            field.clear()
            field.send_keys(str(value))


DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"


def open_docs_link(driver, folder: Path, selector: str, page: str) -> None:
    """Click a docs link: a new tab opens the page, served by the service, with its heading and figures."""
    from selenium.webdriver.common.by import By

    heading = (DOCS_DIR / page).read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")
    link = driver.find_element(By.CSS_SELECTOR, selector)
    assert link.get_attribute("href").endswith(f"/docs-pages/{page}") and link.get_attribute("target") == "_blank"
    page_tab = driver.current_window_handle
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()
    wait_for(lambda: len(driver.window_handles) == 2, what=f"a new tab for {page}")
    driver.switch_to.window(next(h for h in driver.window_handles if h != page_tab))
    try:
        wait_for(lambda: driver.execute_script("return document.readyState") == "complete", what=f"{page} loaded")
        assert driver.find_element(By.TAG_NAME, "h1").text == heading
        assert driver.execute_script("return [...document.images].every(i => i.complete && i.naturalWidth > 0)")
        shoot(driver, folder, f"docs_{page.removesuffix('.md')}")
    finally:
        driver.close()
        driver.switch_to.window(page_tab)


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
        open_docs_link(browser, artifacts, '#layers .layer[data-name="conv1"] h3 a.doc', "convolution.md")

        text = click_pixel(browser, "conv2", 3)
        assert "dot product" in text and "bias" in text
        check_the_sum(text)
        link = browser.find_element(By.CSS_SELECTOR, "#clicked-body a.doc")
        assert link.get_attribute("href").endswith("/docs-pages/receptive_fields.md")
        assert link.get_attribute("target") == "_blank"
        shoot(browser, artifacts, "seed_clicked_conv")
        check_the_sum(click_pixel(browser, "pool1", 1))

        run_attributions(browser, artifacts, "seed")

        browser.find_element(By.CSS_SELECTOR, '#layers .layer[data-name="conv2"] h3 button').click()
        formula = browser.find_element(By.ID, "pg-formula")
        assert formula.text.startswith("conv2: input 14×14 → output 14×14")  # 14, padding 1, 3x3
        assert (data(browser, formula, "outH"), data(browser, formula, "outW")) == ("14", "14")

        # a non-square case typed in, each axis checked against strided's own convolution
        rows, cols = {"n": 9, "p": 1, "k": 3, "s": 2, "d": 1}, {"n": 14, "p": 0, "k": 5, "s": 3, "d": 2}
        set_playground(browser, rows, cols)
        expected = conv_output_hw(rows, cols)
        assert expected == (5, 2)
        assert (int(data(browser, formula, "outH")), int(data(browser, formula, "outW"))) == expected
        line_h, line_w = (browser.find_element(By.ID, f"pg-formula-{axis}").text for axis in "hw")
        assert "⌊(9 + 2·1 − 1·(3 − 1) − 1) / 2⌋ + 1 = ⌊8 / 2⌋ + 1 = 5" in line_h
        assert "⌊(14 + 2·0 − 2·(5 − 1) − 1) / 3⌋ + 1 = ⌊5 / 3⌋ + 1 = 2" in line_w
        canvas = browser.find_element(By.ID, "pg-canvas")
        assert data(browser, canvas, "padded") == "11×14" and data(browser, canvas, "out") == "5×2"
        browser.execute_script("document.getElementById('playground').scrollIntoView()")
        shoot(browser, artifacts, "seed_playground_non_square")

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
        browser.find_element(By.CSS_SELECTOR, '#layers .layer[data-name="layer2.0.conv1"] h3 button').click()
        formula = browser.find_element(By.ID, "pg-formula")  # both axes of the 24x32 maps, stride 2
        assert formula.text.startswith("layer2.0.conv1: input 24×32 → output 12×16"), formula.text
        link = '#layers .layer[data-name="layer2.0.conv1"] h3 a.doc[href$="stride_backward.md"]'
        open_docs_link(browser, artifacts, link, "stride_backward.md")
        run_attributions(browser, artifacts, "resnet")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def wide_path(tmp_path_factory):
    """A Sequential whose windows differ by axis: kernel (3, 5), stride (1, 2), padding (1, 2), dilation (2, 1);
    then a 'same' convolution with an even (2, 4) window, which pads unevenly, and a (2, 3) max pooling."""
    st.manual_seed(0)
    model = st.nn.Sequential(st.nn.Conv2d(1, 4, kernel_size=(3, 5), stride=(1, 2), padding=(1, 2), dilation=(2, 1)),
                             st.nn.ReLU(), st.nn.Conv2d(4, 4, (2, 4), padding="same"), st.nn.MaxPool2d((2, 3)),
                             st.nn.Flatten(), st.nn.Linear(4 * 9 * 5, 3))
    path = tmp_path_factory.mktemp("wide") / "wide.safetensors"
    st.save(model, path, name="wide", class_names=["a", "b", "c"], input_shape=[1, 20, 30],
            preprocessing={"mode": "L", "size": [20, 30], "mean": [0.5], "std": [0.25]})
    return path


def test_playground_from_layers_with_non_square_windows(browser, wide_path, artifacts, tmp_path):
    from selenium.webdriver.common.by import By

    server = LiveServer(wide_path)
    try:
        browser.get(server.url + "/")
        wait_for(lambda: browser.execute_script("return document.body.dataset.ready"), what="model info")
        image = tmp_path / "bar.png"
        image.write_bytes(png_bytes(np.tile(np.arange(30, dtype=np.uint8) * 8, (20, 1))))
        upload(browser, image)
        wait_for(lambda: count(browser, "predictions") >= 1 and settled(browser), what="a prediction")
        formula, canvas = browser.find_element(By.ID, "pg-formula"), browser.find_element(By.ID, "pg-canvas")

        browser.find_element(By.CSS_SELECTOR, '#layers .layer[data-name="0"] h3 button').click()
        rows, cols = {"n": 20, "p": 1, "k": 3, "s": 1, "d": 2}, {"n": 30, "p": 2, "k": 5, "s": 2, "d": 1}
        for axis, values in (("h", rows), ("w", cols)):  # every knob pre-filled from the layer's own pair
            for knob, value in values.items():
                assert browser.find_element(By.ID, f"pg-{knob}-{axis}").get_attribute("value") == str(value)
        expected = conv_output_hw(rows, cols)
        assert expected == (18, 15)
        assert (int(data(browser, formula, "outH")), int(data(browser, formula, "outW"))) == expected
        assert formula.text.startswith("0: input 20×30 → output 18×15") and "the layer itself" not in formula.text
        assert data(browser, canvas, "padded") == "22×34"
        browser.execute_script("document.getElementById('playground').scrollIntoView()")
        shoot(browser, artifacts, "wide_playground_conv")

        # 'same' with an even window pads 0 above and 1 below: the symmetric formula gives 17x14, and says so
        browser.find_element(By.CSS_SELECTOR, '#layers .layer[data-name="2"] h3 button').click()
        assert formula.text.startswith("2: input 18×15 → output 17×14")
        assert "the layer itself gives 18×15" in formula.text

        browser.find_element(By.CSS_SELECTOR, '#layers .layer[data-name="3"] h3 button').click()
        pooled = st.functional.max_pool2d(np.zeros((1, 4, 18, 15)), (2, 3)).shape[2:]
        assert (int(data(browser, formula, "outH")), int(data(browser, formula, "outW"))) == pooled == (9, 5)
        assert formula.text.startswith("3: input 18×15 → output 9×5") and "the layer itself" not in formula.text
    finally:
        server.stop()
