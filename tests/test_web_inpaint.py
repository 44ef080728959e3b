"""``POST /api/inpaint`` on a live server: the masked pixels filled and every other one kept, 16-bit and alpha
kept, the web page's transparent-layer mask, and bad input as one-line JSON errors (issue 18, acceptance 6)."""

from __future__ import annotations

import numpy as np
import pytest

httpx = pytest.importorskip("httpx", reason="the web tests need httpx")
pytest.importorskip("uvicorn", reason="the web tests need the 'web' extra")

from acutance.contract import to_uint  # noqa: E402
from acutance.io import decode_image, encode_image  # noqa: E402
from acutance.limits import Limits  # noqa: E402
from acutance.web import WebSettings  # noqa: E402
from conftest import smooth_test_image  # noqa: E402
from test_web_api import live_server  # noqa: E402

H, W = 96, 128


@pytest.fixture(scope="module")
def url():
    settings = WebSettings(max_upload_bytes=2_000_000, limits=Limits(max_input_pixels=200_000), jobs=1)
    with live_server(settings) as base:
        yield base


def _layer(size=(H, W), box=(30, 50, 40, 80)) -> tuple[bytes, np.ndarray]:
    """The page's mask: red strokes on a transparent canvas (PNG, RGBA)."""
    layer = np.zeros((*size, 4), np.float32)
    y0, y1, x0, x1 = box
    layer[y0:y1, x0:x1] = (1.0, 0.0, 0.0, 1.0)
    return encode_image(layer, "PNG"), layer[..., 3] > 0.5


def _post(url, image: bytes, mask: bytes, name="p.png", **data):
    files = {"image": (name, image, "application/octet-stream"), "mask": ("mask.png", mask, "image/png")}
    return httpx.post(f"{url}/api/inpaint", files=files, data=data, timeout=60)


def test_fills_the_mask_and_keeps_the_rest(url):
    photo = encode_image(smooth_test_image(H, W, seed=1), "PNG")
    mask, hole = _layer()
    response = _post(url, photo, mask, method="telea")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert 'filename="p_inpaint.png"' in response.headers["content-disposition"]
    assert response.headers["x-acutance-method"] == "telea" and float(response.headers["x-acutance-seconds"]) >= 0
    before, after = to_uint(decode_image(photo).rgb, 8), to_uint(decode_image(response.content).rgb, 8)
    assert np.array_equal(after[~hole], before[~hole]) and not np.array_equal(after[hole], before[hole])
    thin, _ = _layer(box=(40, 43, 10, 100))  # a scratch: auto takes the fast classical method
    response = _post(url, photo, thin)
    assert response.status_code == 200 and response.headers["x-acutance-method"] == "telea"


def test_16_bit_and_alpha_are_kept(url):
    alpha = np.linspace(0.3, 1.0, W, dtype=np.float32)[None].repeat(H, axis=0)
    photo = encode_image(np.dstack([smooth_test_image(H, W, seed=2), alpha]), "PNG", bit_depth=16)
    mask, hole = _layer()
    response = _post(url, photo, mask, method="ns")
    assert response.status_code == 200, response.text
    source, result = decode_image(photo), decode_image(response.content)
    assert result.meta.bit_depth == 16 and result.alpha is not None
    assert np.array_equal(to_uint(result.alpha, 16), to_uint(source.alpha, 16))
    assert np.array_equal(to_uint(result.rgb, 16)[~hole], to_uint(source.rgb, 16)[~hole])


def test_white_on_black_mask_and_notices(url):
    photo = encode_image(smooth_test_image(H, W, seed=3), "PNG")
    grey = np.zeros((H, W, 3), np.float32)
    grey[20:40, 20:40] = 0.7
    response = _post(url, photo, encode_image(grey, "PNG"), method="telea")
    assert response.status_code == 200 and "thresholded at 50%" in response.headers["x-acutance-notice"]
    after = to_uint(decode_image(response.content).rgb, 8)
    assert not np.array_equal(after[20:40, 20:40], to_uint(decode_image(photo).rgb, 8)[20:40, 20:40])
    empty, _ = _layer(box=(0, 0, 0, 0))
    response = _post(url, photo, empty)
    assert response.status_code == 200 and "marks no pixel" in response.headers["x-acutance-notice"]
    assert response.headers["x-acutance-method"] == "none"
    assert np.array_equal(to_uint(decode_image(response.content).rgb, 8), to_uint(decode_image(photo).rgb, 8))


def test_bad_input_is_one_json_line(url):
    photo = encode_image(smooth_test_image(H, W, seed=4), "PNG")
    mask, _ = _layer()
    small, _ = _layer(size=(H // 2, W // 2), box=(5, 10, 5, 10))
    full, _ = _layer(box=(0, H, 0, W))
    cases = [
        (photo, small, {}, 400, "the mask is 64x48 but the image is 128x96"),
        (photo, full, {}, 400, "covers the whole 128x96 image"),
        (photo, mask, {"method": "magic"}, 400, "method"),
        (photo, mask, {"dilate": "-1"}, 400, "dilate"),
        (photo, b"not an image", {}, 415, "mask.png"),
        (b"nope", mask, {}, 415, "p.png"),
        (encode_image(smooth_test_image(500, 500), "PNG"), mask, {}, 413, "p.png"),  # over 200,000 pixels
    ]
    for image, mask_bytes, data, status, fragment in cases:
        response = _post(url, image, mask_bytes, **data)
        assert response.status_code == status, (fragment, response.text)
        assert fragment in response.json()["detail"], (fragment, response.text)
    response = httpx.post(f"{url}/api/inpaint", files={"image": ("p.png", photo, "image/png"), "mask": ("m.png", mask, "image/png")},
                          headers={"Origin": "https://evil.example"}, timeout=60)  # fmt: skip
    assert response.status_code == 403
