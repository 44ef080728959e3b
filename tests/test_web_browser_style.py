"""The page's Style panel in headless Chromium: choose an image and a look reference, apply, compare with the
before/after slider, download the result and the .cube. Only 127.0.0.1 is contacted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("colour", reason="the .cube writer needs the 'colour' extra")

from acutance.io import read_image, write_image  # noqa: E402
from test_watermark import natural  # noqa: E402
from test_web_browser import ARGS, CHROMIUM, sync_api  # noqa: E402
from test_web_api import live_server  # noqa: E402


def test_style_panel_applies_and_downloads(tmp_path: Path) -> None:
    source, reference = tmp_path / "photo.png", tmp_path / "look.png"
    write_image(source, natural((240, 320), 11))
    write_image(reference, np.clip(0.1 + 0.8 * natural((200, 260), 12) * np.array([1.1, 0.95, 0.7]), 0, 1).astype(np.float32))
    with live_server() as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            page.goto(url + "/")
            page.click("#style summary")
            assert page.is_disabled("#st-run")  # no image, no reference yet
            page.set_input_files("#file", str(source))
            page.set_input_files("#st-ref", str(reference))
            page.fill("#st-strength", "80")
            page.click("#st-run")
            settled = "() => !document.getElementById('st-status').textContent.endsWith('…')"
            page.wait_for_function(settled, timeout=180_000)  # the first call compiles the numba kernel
            assert "Done" in page.inner_text("#st-status"), page.inner_text("#st-status")
            assert page.is_visible("#st-cube")
            assert page.is_visible("#divider") and page.is_visible(".tag.left")  # the before/after slider
            with page.expect_download() as styled:
                page.click("#st-download")
            assert styled.value.suggested_filename == "photo_style.png"
            styled.value.save_as(str(tmp_path / "styled.png"))
            assert read_image(tmp_path / "styled.png").rgb.shape == (240, 320, 3)
            with page.expect_download() as cube:
                page.click("#st-cube")
            assert cube.value.suggested_filename == "photo_look.cube"
            cube.value.save_as(str(tmp_path / "look.cube"))
            assert "LUT_3D_SIZE 33" in (tmp_path / "look.cube").read_text()
            page.screenshot(path=str(tmp_path / "page.png"))
            assert not errors, errors
        finally:
            browser.close()
