"""The page's inpaint panel in headless Chromium (issue 18, acceptance 5): paint a mask over the image with the
mouse, erase part of it, press Remove, get the result in the before/after slider and download it. Only
127.0.0.1 is contacted."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from acutance.contract import to_uint
from acutance.io import read_image, write_image
from conftest import smooth_test_image
from test_web_browser import ARGS, CHROMIUM, sync_api  # noqa: F401  (skips without playwright or chromium)
from test_web_api import live_server

H, W = 240, 320


def _canvas_mask(page) -> np.ndarray:
    url = page.evaluate("() => document.getElementById('mask-canvas').toDataURL('image/png')")
    rgba = np.asarray(PILImage.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))
    return rgba[..., 3] >= 128  # the server's rule: opaque pixels are filled


def _drag(page, box, points) -> None:
    """Drag the mouse through image coordinates ``points`` over the canvas's on-screen ``box``."""
    def screen(x, y):
        return box["x"] + x * box["width"] / W, box["y"] + y * box["height"] / H

    page.mouse.move(*screen(*points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*screen(*point), steps=8)
    page.mouse.up()


def test_paint_a_mask_and_get_the_result(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    write_image(source, smooth_test_image(H, W, seed=11))
    with live_server() as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            page.goto(url + "/")
            page.set_input_files("#file", str(source))
            page.click("#inpaint summary")
            page.wait_for_selector("#mask-canvas", state="visible", timeout=30_000)
            page.fill("#ip-size", "30")
            page.dispatch_event("#ip-size", "input")
            assert page.text_content("#ip-size-value") == "30 px"
            box = page.locator("#mask-canvas").bounding_box()
            _drag(page, box, [(60, 120), (160, 110), (260, 130)])  # a thick stroke across the picture
            painted = _canvas_mask(page)
            assert painted[120, 60] and painted[110, 160] and not painted[20, 20] and painted.mean() > 0.015
            page.click("#ip-eraser")
            assert page.get_attribute("#ip-eraser", "aria-pressed") == "true"
            _drag(page, box, [(190, 116), (275, 133)])  # erase the stroke's last part
            mask = _canvas_mask(page)
            assert painted[128, 250] and not mask[128, 250] and mask[113, 130]
            page.select_option("#ip-method", "telea")
            page.click("#ip-run")
            page.wait_for_function("() => !document.getElementById('ip-download').hidden", timeout=60_000)
            assert page.inner_text("#ip-status").startswith("Done: telea"), page.inner_text("#ip-status")
            assert page.is_hidden("#mask-canvas") and page.is_visible("#divider")  # the before/after slider
            with page.expect_download() as download_info:
                page.click("#ip-download")
            result = tmp_path / "result.png"
            download_info.value.save_as(str(result))
            assert download_info.value.suggested_filename == "photo_inpaint.png"
            page.screenshot(path=str(tmp_path / "page.png"))
            assert not errors, errors
        finally:
            browser.close()
    before, after = to_uint(read_image(source).rgb, 8), to_uint(read_image(result).rgb, 8)
    changed = np.any(before != after, axis=2)
    assert not changed[~mask].any()  # exactly the painted pixels, and only those, were filled
    assert changed[mask].mean() > 0.5
