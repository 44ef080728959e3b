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
    for seed in range(4):
        result = detect(natural((256, 320), 100 + seed), "secret")
        assert not result.found and result.payload is None
        outputs.append(np.abs(result.bits).mean())
    assert np.mean(outputs) <= 0.1
    assert false_positive_rate() <= 1e-6


@pytest.mark.parametrize("keys", [pytest.param(range(6), id="6-keys"),
                                  pytest.param(range(6, 66), id="60-keys", marks=pytest.mark.slow)])  # fmt: skip
def test_wrong_keys_never_read_a_payload(marked, keys):
    _, out = marked
    for key in keys:
        result = detect(out, f"other-{key}")
        assert not result.found and result.payload is None and result.confidence == 0


def test_video_frames_add_up():
    # each frame alone is marked too weakly to read; eight of them together are read
    frames = [natural((256, 256), 200 + i) for i in range(8)]
    marked = [embed(f, b"frame", "k", strength=0.3) for f in frames]
    assert detect_many(marked, "k").payload == b"frame"


def test_a_mark_dragged_along_by_the_codec_is_moved_back_into_line(monkeypatch):
    # A P-frame codec copies the mark with the moving content (measured: on a pan at CRF 28 the mark's offset
    # follows the pan frame by frame). Here: one marked scene panned 3 pixels a frame, with noise; the plain
    # sum of the frames blurs the mark out, the aligned sum reads it.
    from acutance.watermark import core

    rng = np.random.default_rng(3)
    scene = embed(natural((320, 448), 40), b"drift", "k", strength=0.8)
    frames = [np.clip(np.roll(scene, (i, 3 * i), axis=(0, 1))[:256, :384] + rng.normal(0, 0.03, (256, 384, 3)), 0, 1)
              .astype(np.float32) for i in range(10)]  # fmt: skip
    assert detect_many(frames, "k").payload == b"drift"
    monkeypatch.setattr(core, "_aligned", lambda spectra, reference: None)
    assert not detect_many(frames, "k").found
    # a clean clip still finds nothing with the aligned read in play
    monkeypatch.undo()
    clean = [natural((256, 384), 60 + i) for i in range(6)]
    assert not detect_many(clean, "k").found


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


def _clip(path, frames, fps=12, crf=12):
    from acutance.video.encode import write_clip

    return write_clip(path, frames, fps, crf=crf, preset="ultrafast")


def _frames(path):
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.float32) / 255 for f in container.decode(video=0)]


def test_video_marking_and_detection_through_the_cli(tmp_path, capsys):
    pytest.importorskip("av")
    from acutance.cli.main import main

    scene = natural((288, 352), 11)
    frames = [np.ascontiguousarray(np.roll(scene, 2 * i, axis=1)[:, 16:336]) for i in range(24)]  # a pan
    source = _clip(tmp_path / "in.mp4", frames)
    marked = tmp_path / "marked.mp4"
    assert main(["video", str(source), "-o", str(marked), "--model", "none", "--watermark", "clip-7",
                 "--watermark-key", "k", "--crf", "20"]) == 0  # fmt: skip
    assert not any(tmp_path.glob(".*partial*"))
    # re-encoded at CRF 28 by someone else: still read
    recoded = _clip(tmp_path / "recoded.mp4", _frames(marked), crf=28)
    capsys.readouterr()
    assert main(["watermark", "detect", str(recoded), "--key", "k"]) == 0
    out = capsys.readouterr().out
    assert "'clip-7'" in out and "1 of 1 excerpts" in out
    assert main(["watermark", "detect", str(source), "--key", "k"]) == 1  # the unmarked original
    # 30 frames at 12 fps in windows of 2 s: the second one is the last 2 s, not a 0.5 s remnant
    from acutance.watermark.video import detect_video

    longer = _clip(tmp_path / "longer.mp4", _frames(marked) + _frames(marked)[:6], crf=23)
    windows = detect_video(longer, "k")
    assert [(w.start, w.end, w.frames) for w in windows] == [(0.0, 2.0, 24), (0.5, 2.5, 24)]
    assert all(w.detection.payload == b"clip-7" for w in windows)


def test_cli_embed_and_detect_files_and_errors(tmp_path, capsys):
    from acutance.cli.main import main
    from acutance.io import write_image

    image = tmp_path / "photo.png"
    write_image(image, natural((256, 256), 21))
    assert main(["watermark", "embed", str(image), "--bits", "a5c3e1f00f1e3c5a", "--key", "k"]) == 0
    marked = tmp_path / "photo_wm.png"
    assert marked.exists()
    capsys.readouterr()
    assert main(["watermark", "detect", str(marked), "--key", "k", "--json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["found"] and result["payload_hex"] == "a5c3e1f00f1e3c5a" and result["p_value"] < 1e-6
    assert main(["watermark", "detect", str(marked), "--key", "wrong"]) == 1
    # bad input: one line, nothing written
    assert main(["watermark", "embed", str(image), "--text", "x" * 40, "--key", "k", "-o", str(tmp_path / "a.png")]) == 1
    small = tmp_path / "small.png"
    write_image(small, natural((100, 100), 1))
    assert main(["watermark", "embed", str(small), "--text", "x", "--key", "k"]) == 1
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    assert main(["watermark", "detect", str(corrupt), "--key", "k"]) == 1
    err = capsys.readouterr().err
    assert "payload too long" in err and "too small" in err and err.count("acutance: error:") == 3
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "small_wm.png").exists()


def test_smooth_images_keep_ssim_above_0_98():
    # a sky-like image: the PSNR-sized mark would cost more SSIM here than on texture; the guard scales it
    from acutance.contract import to_uint
    from acutance.metrics import ssim

    yy, xx = np.mgrid[0:384, 0:512].astype(np.float32)
    sky = np.stack([0.35 + 0.3 * yy / 384, 0.5 + 0.2 * yy / 384, 0.8 + 0.1 * xx / 512], -1)
    sky = np.clip(sky + natural((384, 512), 3) * 0.03 - 0.015, 0, 1).astype(np.float32)
    out = to_uint(embed(sky, b"\x01\x23\x45\x67\x89\xab\xcd\xef", "secret"), 8).astype(np.float32) / 255
    assert ssim(sky, out, y_channel=True) >= 0.98
    assert detect(out, "secret").payload == b"\x01\x23\x45\x67\x89\xab\xcd\xef"
