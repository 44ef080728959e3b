"""The real page in headless Chromium (Playwright with the system chromium): upload an image, pick a
model, wait for the result, move the before/after slider, zoom, screenshot (not blank), download, and
compare the download with what ``acutance upscale`` writes. Only 127.0.0.1 is contacted."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from acutance.cli.main import main
from acutance.io import write_image
from acutance.resize import imresize
from acutance import samples
from test_web_api import live_server

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (pip install)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("the browser test needs Debian's chromium (apt-get install chromium)", allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
MODEL = "bicubic"


def test_page_upload_compare_download(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    source = tmp_path / "chart.png"
    write_image(source, imresize(samples.test_chart(192), 1 / 2))  # 96x96: small, with detail to compare
    cli_out = tmp_path / "cli.png"
    assert main(["upscale", str(source), "-o", str(cli_out), "-m", MODEL, "-s", "3"]) == 0

    requests: list[str] = []
    with live_server() as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page.on("request", lambda request: requests.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            # The page must work under its own content security policy: a blocked script, style or
            # picture shows as a console error.
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            response = page.goto(url + "/")
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            page.wait_for_function("() => document.querySelectorAll('#model option').length > 3")
            page.set_input_files("#file", str(source))
            page.select_option("#model", MODEL)
            page.select_option("#scale", "3")
            page.click("#run")
            page.wait_for_function("() => ['done', 'failed'].includes(document.body.dataset.state)", timeout=60_000)
            assert page.get_attribute("body", "data-state") == "done", page.inner_text("#status")
            assert page.inner_text("#facts").count("288×288") == 1
            metrics = page.inner_text("#metrics")
            assert "NIQE" in metrics
            if importlib.util.find_spec("acutance.metrics.niqe") is None:
                assert "no-reference score not available" in metrics

            # Move the slider by dragging its handle: the divider and the cut of the 'before' layer follow.
            clip_before = page.eval_on_selector("#before", "e => e.style.clipPath")
            handle = page.locator("#divider .handle").bounding_box()
            x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x - 120, y, steps=6)
            page.mouse.up()
            assert float(page.input_value("#split")) < 45
            assert page.eval_on_selector("#before", "e => e.style.clipPath") != clip_before
            # One zoom for both layers: they share the transformed stage.
            page.click("#zoom-in")
            assert page.inner_text("#zoom-label") != "100%"
            page.click("#zoom-fit")

            shot = tmp_path / "page.png"
            page.locator("#viewer").screenshot(path=str(shot))
            pixels = np.asarray(PILImage.open(shot).convert("L"), dtype=np.float64)
            assert pixels.std() > 20, f"the comparison looks blank (std {pixels.std():.1f})"

            with page.expect_download() as download_info:
                page.click("#download")
            download = download_info.value
            assert download.suggested_filename == "chart_bicubic_x3.png"
            assert Path(download.path()).read_bytes() == cli_out.read_bytes()
            assert not errors, errors
        finally:
            browser.close()
    assert requests and all(r.startswith(url) or r.startswith("data:") for r in requests), requests
