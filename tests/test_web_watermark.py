"""The web page's watermark endpoints on a live server: embed then detect, wrong key, bad fields, limits."""

from __future__ import annotations

import pytest

pytest.importorskip("bchlib")
httpx = pytest.importorskip("httpx", reason="the web tests need httpx")
pytest.importorskip("uvicorn", reason="the web tests need the 'web' extra")

from acutance.io import decode_image, encode_image  # noqa: E402
from acutance.limits import Limits  # noqa: E402
from acutance.web import WebSettings  # noqa: E402
from test_watermark import natural  # noqa: E402
from test_web_api import live_server  # noqa: E402


@pytest.fixture(scope="module")
def url():
    settings = WebSettings(max_upload_bytes=2_000_000, limits=Limits(max_input_pixels=400_000), jobs=1)
    with live_server(settings) as base:
        yield base


def test_embed_then_detect(url):
    photo = encode_image(natural((256, 320), 4), "PNG")
    marked = httpx.post(f"{url}/api/watermark/embed", files={"image": ("p.png", photo, "image/png")},
                        data={"key": "k", "text": "web-1"}, timeout=60)  # fmt: skip
    assert marked.status_code == 200, marked.text
    assert marked.headers["content-type"] == "image/png" and 'filename="p_wm.png"' in marked.headers["content-disposition"]
    assert decode_image(marked.content).rgb.shape == (256, 320, 3)
    found = httpx.post(f"{url}/api/watermark/detect", files={"image": ("m.png", marked.content, "image/png")},
                       data={"key": "k"}, timeout=60).json()  # fmt: skip
    assert found["found"] and found["text"] == "web-1" and found["p_value"] < 1e-6
    other = httpx.post(f"{url}/api/watermark/detect", files={"image": ("m.png", marked.content, "image/png")},
                       data={"key": "not-k"}, timeout=60).json()  # fmt: skip
    assert not other["found"] and other["text"] is None and other["confidence"] == 0


def test_bad_fields_and_limits(url):
    photo = encode_image(natural((256, 256), 5), "PNG")
    files = {"image": ("p.png", photo, "image/png")}
    cases = [
        ({"key": "k", "text": "x" * 30}, 400, "payload too long"),
        ({"key": "", "text": "x"}, 400, "key"),
        ({"key": "k", "text": "x", "strength": "nan"}, 400, "strength"),
    ]
    for data, status, fragment in cases:
        response = httpx.post(f"{url}/api/watermark/embed", files=files, data=data, timeout=60)
        assert response.status_code == status and fragment in response.json()["detail"], (data, response.text)
    small = encode_image(natural((100, 140), 6), "PNG")
    response = httpx.post(f"{url}/api/watermark/embed", files={"image": ("s.png", small, "image/png")},
                          data={"key": "k", "text": "x"}, timeout=60)  # fmt: skip
    assert response.status_code == 400 and "too small" in response.json()["detail"]
    big = encode_image(natural((700, 700), 7), "PNG")  # 490,000 pixels: over this server's 400,000
    response = httpx.post(f"{url}/api/watermark/detect", files={"image": ("b.png", big, "image/png")},
                          data={"key": "k"}, timeout=60)  # fmt: skip
    assert response.status_code == 413
    response = httpx.post(f"{url}/api/watermark/detect", files={"image": ("n.png", b"not an image", "image/png")},
                          data={"key": "k"}, timeout=60)  # fmt: skip
    assert response.status_code == 415
    response = httpx.post(f"{url}/api/watermark/embed", files=files, data={"key": "k", "text": "x"},
                          headers={"Origin": "https://evil.example"}, timeout=60)  # fmt: skip
    assert response.status_code == 403
