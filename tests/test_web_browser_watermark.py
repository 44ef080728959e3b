"""The page's watermark panel in headless Chromium: mark the chosen image, download it, choose the download,
read the mark back. Only 127.0.0.1 is contacted."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("bchlib")

from acutance.io import write_image  # noqa: E402
from test_watermark import natural  # noqa: E402
from test_web_browser import ARGS, CHROMIUM, sync_api  # noqa: E402
from test_web_api import live_server  # noqa: E402


def test_watermark_panel_embeds_and_detects(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    write_image(source, natural((288, 352), 9))
    with live_server() as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            page.goto(url + "/")
            page.set_input_files("#file", str(source))
            page.click("#watermark summary")
            page.fill("#wm-key", "browser-key")
            page.fill("#wm-text", "page-7")
            page.click("#wm-embed")
            page.wait_for_function("() => !document.getElementById('wm-download').hidden", timeout=60_000)
            with page.expect_download() as download_info:
                page.click("#wm-download")
            marked = tmp_path / "marked.png"
            download_info.value.save_as(str(marked))
            assert download_info.value.suggested_filename == "photo_wm.png"
            page.set_input_files("#file", str(marked))
            page.click("#wm-detect")
            settled = "() => !document.getElementById('wm-status').textContent.endsWith('…')"
            page.wait_for_function(settled, timeout=60_000)
            assert "Watermark found" in page.inner_text("#wm-status") and "page-7" in page.inner_text("#wm-status"), page.inner_text("#wm-status")
            page.screenshot(path=str(tmp_path / "page.png"))
            page.fill("#wm-key", "another-key")
            page.click("#wm-detect")
            page.wait_for_function(settled, timeout=60_000)
            assert "No watermark" in page.inner_text("#wm-status"), page.inner_text("#wm-status")
            assert not errors, errors
        finally:
            browser.close()
