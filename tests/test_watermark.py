"""Invisible watermarking (acutance.watermark): round trip, attacks, clean images, wrong keys, bad input."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("bchlib")

from acutance.errors import OptionError  # noqa: E402
from acutance.metrics import psnr  # noqa: E402
from acutance.watermark import attacks, detect, detect_many, embed, false_positive_rate  # noqa: E402
from acutance.watermark import payload as code  # noqa: E402


def natural(size: tuple[int, int], seed: int) -> np.ndarray:
    """A photo-like test image: 1/f noise (random phases) in colour, plus a few hard-edged shapes."""
    rng = np.random.default_rng(seed)
    h, w = size
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    amplitude = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(h, w))
    channels = []
    for _ in range(3):
        spectrum = amplitude * np.exp(2j * np.pi * rng.random(amplitude.shape))
        plane = np.fft.irfft2(spectrum, s=(h, w))
        channels.append((plane - plane.mean()) / (plane.std() * 6) + 0.5)
    image = np.stack(channels, axis=-1)
    for _ in range(6):
        y, x = rng.integers(0, h - 40), rng.integers(0, w - 40)
        image[y : y + rng.integers(10, 40), x : x + rng.integers(10, 40)] = rng.random(3)
    return np.clip(image, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def marked():
    image = natural((384, 512), 0)
    return image, embed(image, b"\x01\x23\x45\x67\x89\xab\xcd\xef", "secret")


def test_round_trip_is_invisible_and_decodes(marked):
    image, out = marked
    assert out.dtype == np.float32 and out.shape == image.shape
    assert psnr(image, out, y_channel=True) >= 40.0
    found = detect(out, "secret")
    assert found.found and found.payload == b"\x01\x23\x45\x67\x89\xab\xcd\xef"
    assert found.p_value <= 1e-6 and found.confidence >= 1 - 1e-6
    assert np.abs(found.bits).mean() > 0.5  # confident bits on a marked image


@pytest.mark.parametrize("attack", ["jpeg75", "jpeg50", "resize0.75", "resize1.5", "crop50", "rotate+5", "screenshot"])
def test_survives_attacks(marked, attack):
    _, out = marked
    attacked = attacks.ATTACKS[attack](out, np.random.default_rng(1))
    found = detect(np.ascontiguousarray(attacked, dtype=np.float32), "secret")
    assert found.found and found.payload == b"\x01\x23\x45\x67\x89\xab\xcd\xef", attack


def test_text_payload_uses_the_long_profile():
    image = natural((384, 384), 3)
    url = "https://acu.example/x"
    assert len(url) > code.SHORT.capacity
    found = detect(embed(image, url, 7), 7)
    assert found.found and found.text == url


def test_clean_images_give_no_detection_and_outputs_near_zero():
    outputs = []
    for seed in range(6):
        result = detect(natural((256, 320), 100 + seed), "secret")
        assert not result.found and result.payload is None
        outputs.append(np.abs(result.bits).mean())
    assert np.mean(outputs) <= 0.1
    assert false_positive_rate() <= 1e-6


def test_wrong_keys_never_read_a_payload(marked):
    _, out = marked
    for key in range(40):
        result = detect(out, f"other-{key}")
        assert not result.found and result.payload is None


def test_video_frames_add_up():
    # each frame alone is marked too weakly to read; eight of them together are read
    frames = [natural((256, 256), 200 + i) for i in range(8)]
    marked = [embed(f, b"frame", "k", strength=0.3) for f in frames]
    assert detect_many(marked, "k").payload == b"frame"


def test_bad_input_is_one_clear_error():
    image = natural((256, 256), 5)
    with pytest.raises(OptionError, match="payload too long"):
        embed(image, b"x" * (code.CAPACITY_BYTES + 1), "k")
    with pytest.raises(OptionError, match="too small"):
        embed(image[:100, :200], b"x", "k")
    with pytest.raises(OptionError, match="too small"):
        detect(image[:127], "k")
    with pytest.raises(OptionError, match="strength"):
        embed(image, b"x", "k", strength=float("nan"))


def test_codes_correct_their_stated_errors_and_check_the_crc():
    rng = np.random.default_rng(0)
    for profile in code.PROFILES:
        message = bytes(rng.integers(0, 256, profile.capacity, dtype=np.uint8))
        bits = code.encode(message, profile)
        assert bits.size == profile.code_bits
        noisy = bits.copy()
        noisy[rng.choice(bits.size, profile.t, replace=False)] *= -1
        assert code.decode(noisy, profile, chase=False) == message
        assert code.decode(rng.normal(size=bits.size), profile) is None
        assert profile.false_accept_bound() < 1e-9
