"""The web page's style endpoints on a live server: the styled image, its .cube, bad fields, limits."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

httpx = pytest.importorskip("httpx", reason="the web tests need httpx")
pytest.importorskip("uvicorn", reason="the web tests need the 'web' extra")
pytest.importorskip("colour", reason="the .cube writer needs the 'colour' extra")

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


def warm(image: np.ndarray) -> np.ndarray:
    return np.clip(0.08 + 0.85 * image * np.array([1.1, 0.97, 0.75], dtype=np.float32), 0, 1).astype(np.float32)


def files(photo: bytes, ref: bytes) -> dict:
    return {"image": ("p.png", photo, "image/png"), "reference": ("look.png", ref, "image/png")}


def test_style_matches_the_library_and_strength_zero_is_the_input(url):
    from acutance.grading.dncm import style_transfer

    photo = encode_image(natural((160, 200), 1), "PNG")
    ref = encode_image(warm(natural((120, 150), 2)), "PNG")
    response = httpx.post(f"{url}/api/style", files=files(photo, ref), data={"strength": "1"}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png" and 'filename="p_style.png"' in response.headers["content-disposition"]
    assert float(response.headers["x-acutance-seconds"]) >= 0
    got = decode_image(response.content).rgb
    expected = style_transfer(decode_image(photo).rgb, decode_image(ref).rgb)
    assert got.shape == (160, 200, 3) and np.abs(got - expected).max() <= 1 / 255 + 1e-6
    assert np.abs(got - decode_image(photo).rgb).mean() > 1 / 255  # the look did change the colours
    same = httpx.post(f"{url}/api/style", files=files(photo, ref), data={"strength": "0"}, timeout=60)
    np.testing.assert_array_equal(decode_image(same.content).rgb, decode_image(photo).rgb)


def test_cube_download_is_the_same_look(url, tmp_path):
    from acutance.grading.cube import apply_lut, read_cube

    photo = encode_image(natural((160, 200), 3), "PNG")
    ref = encode_image(warm(natural((120, 150), 4)), "PNG")
    styled = httpx.post(f"{url}/api/style", files=files(photo, ref), timeout=60)
    cube = httpx.post(f"{url}/api/style/cube", files=files(photo, ref), data={"size": "33"}, timeout=60)
    assert cube.status_code == 200, cube.text
    assert 'filename="p_look.cube"' in cube.headers["content-disposition"]
    assert "LUT_3D_SIZE 33" in cube.text
    (tmp_path / "p_look.cube").write_bytes(cube.content)
    lut = read_cube(tmp_path / "p_look.cube")
    via_lut = apply_lut(decode_image(photo).rgb, lut)
    assert np.abs(via_lut - decode_image(styled.content).rgb).mean() < 1.5 / 255


def test_alpha_is_kept(url):
    rgb = natural((96, 128), 5)
    alpha = np.linspace(0, 1, 96 * 128, dtype=np.float32).reshape(96, 128)
    rgba = np.dstack([rgb, alpha])
    buffer = io.BytesIO()
    PILImage.fromarray(np.round(rgba * 255).astype(np.uint8), "RGBA").save(buffer, "PNG")
    photo = buffer.getvalue()
    ref = encode_image(warm(natural((96, 128), 6)), "PNG")
    response = httpx.post(f"{url}/api/style", files=files(photo, ref), timeout=60)
    assert response.status_code == 200, response.text
    out = decode_image(response.content)
    assert out.alpha is not None and np.abs(out.alpha - decode_image(photo).alpha).max() <= 1 / 255 + 1e-6


def test_bad_fields_and_limits(url):
    photo = encode_image(natural((128, 128), 7), "PNG")
    ref = encode_image(warm(natural((128, 128), 8)), "PNG")
    grey = encode_image(np.repeat(natural((128, 128), 9)[..., :1], 3, axis=2), "PNG")
    response = httpx.post(f"{url}/api/style", files=files(photo, grey), timeout=60)
    assert response.status_code == 400 and "grayscale" in response.json()["detail"]
    for endpoint in ("style", "style/cube"):
        response = httpx.post(f"{url}/api/{endpoint}", files=files(photo, ref), data={"strength": "1.5"}, timeout=60)
        assert response.status_code == 400 and "strength" in response.json()["detail"], response.text
    response = httpx.post(f"{url}/api/style/cube", files=files(photo, ref), data={"size": "1"}, timeout=60)
    assert response.status_code in (400, 422) and "size" in response.text
    big = encode_image(natural((700, 700), 10), "PNG")  # 490,000 pixels: over this server's 400,000
    response = httpx.post(f"{url}/api/style", files=files(big, ref), timeout=60)
    assert response.status_code == 413
    response = httpx.post(f"{url}/api/style", files=files(photo, b"not an image"), timeout=60)
    assert response.status_code == 415
    response = httpx.post(f"{url}/api/style", files=files(photo, ref), headers={"Origin": "https://evil.example"},
                          timeout=60)  # fmt: skip
    assert response.status_code == 403
