"""acutance.io: round trips at every bit depth and channel layout, orientation, metadata, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms, ImageFile, ImageOps

from acutance import limits
from acutance.errors import ImageReadError, ImageWriteError, OptionError
from acutance.io import (
    IMAGE_EXTENSIONS,
    Image,
    ImageMeta,
    ImageNotice,
    atomic_write_bytes,
    check_writable_output,
    decode_image,
    encode_image,
    is_image_path,
    list_images,
    read_image,
    to_float,
    to_uint,
    write_image,
)
from acutance.io import png_chunks

H, W = 24, 32


def _u8(channels: int, seed: int = 0) -> np.ndarray:
    shape = (H, W) if channels == 1 else (H, W, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _u16(channels: int, seed: int = 0) -> np.ndarray:
    """Values spread over 0..65535 (ends included) that 8 bits cannot represent."""
    shape = (H, W) if channels == 1 else (H, W, channels)
    values = np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)
    values.reshape(-1)[:2] = [0, 65535]
    return values


def _meta(bit_depth: int = 8, grayscale: bool = False, icc: bytes | None = None, exif: bytes | None = None):
    return ImageMeta(bit_depth=bit_depth, grayscale=grayscale, format="PNG", icc_profile=icc, exif=exif)


def _image(pixels: np.ndarray, bit_depth: int, **meta) -> Image:
    """An Image from uint gray / gray+alpha / RGB / RGBA pixels."""
    values = to_float(pixels if pixels.ndim == 3 else pixels[..., None])
    channels = values.shape[2]
    rgb = values[..., :3] if channels >= 3 else np.repeat(values[..., :1], 3, axis=2)
    alpha = np.ascontiguousarray(values[..., -1]) if channels in (2, 4) else None
    return Image(np.ascontiguousarray(rgb), alpha, _meta(bit_depth, grayscale=channels < 3, **meta))


def _pixels(image: Image, bit_depth: int) -> np.ndarray:
    """Back to uint, in the layout ``_image`` took (gray channels collapsed)."""
    planes = [image.rgb[..., :1]] if image.meta.grayscale else [image.rgb]
    if image.alpha is not None:
        planes.append(image.alpha[..., None])
    out = to_uint(np.concatenate(planes, axis=2), bit_depth)
    return out[..., 0] if out.shape[2] == 1 else out


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation: int) -> bytes:
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    exif[0x0131] = "acutance-test"  # Software: must survive the orientation reset
    return exif.tobytes()


def _pil_save(path: Path, pixels: np.ndarray, **options) -> Path:
    PILImage.fromarray(pixels).save(path, **options)
    return path


# ------------------------------------------------------------------------------------ lossless round trips


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_lossless_round_trip_is_exact(tmp_path, suffix, channels, bit_depth):
    if suffix != ".png" and channels == 2 and bit_depth == 16:
        pytest.skip("16-bit gray + alpha TIFF is written as RGBA: see test_16bit_gray_alpha_tiff_is_rgba")
    pixels = _u8(channels) if bit_depth == 8 else _u16(channels)
    path = write_image(tmp_path / f"out{suffix}", _image(pixels, bit_depth))
    back = read_image(path)
    assert back.path == path
    assert back.meta.bit_depth == bit_depth
    assert back.meta.grayscale == (channels < 3)
    assert (back.alpha is not None) == (channels in (2, 4))
    assert back.rgb.dtype == np.float32 and back.rgb.shape == (H, W, 3)
    np.testing.assert_array_equal(_pixels(back, bit_depth), pixels)


def test_16bit_ramp_comes_back_exact(tmp_path):
    ramp = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    rgb = np.stack([ramp, ramp[::-1], ramp.T], axis=-1)
    back = read_image(write_image(tmp_path / "ramp.png", _image(rgb, 16)))
    np.testing.assert_array_equal(to_uint(back.rgb, 16), rgb)
    assert PILImage.open(tmp_path / "ramp.png").tile[0].args == "RGB;16B"


def test_16bit_gray_alpha_tiff_is_rgba(tmp_path):
    gray_alpha = _u16(2)
    back = read_image(write_image(tmp_path / "ga.tif", _image(gray_alpha, 16)))
    assert back.meta.bit_depth == 16 and not back.meta.grayscale  # documented: OpenCV writes 1, 3 or 4
    np.testing.assert_array_equal(to_uint(back.rgb, 16), np.repeat(gray_alpha[..., :1], 3, axis=2))
    np.testing.assert_array_equal(to_uint(back.alpha, 16), gray_alpha[..., 1])


def test_16bit_gray_and_gray_alpha_png_are_stored_gray(tmp_path):
    for channels, colour_type in [(1, 0), (2, 4)]:
        path = write_image(tmp_path / f"g{channels}.png", _image(_u16(channels), 16))
        assert png_chunks.png_header(path.read_bytes()) == (16, colour_type)


def test_8bit_gray_png_stays_gray(tmp_path):
    gray = _u8(1)
    source = _pil_save(tmp_path / "gray.png", gray)
    image = read_image(source)
    assert image.meta.grayscale and image.meta.bit_depth == 8
    np.testing.assert_array_equal(image.rgb[..., 0], image.rgb[..., 2])
    out = write_image(tmp_path / "out.png", image)
    with PILImage.open(out) as pil:
        assert pil.mode == "L"
        np.testing.assert_array_equal(np.asarray(pil), gray)


def test_grayscale_with_coloured_pixels_is_written_as_bt601_luma(tmp_path):
    image = read_image(_pil_save(tmp_path / "gray.png", _u8(1)))
    rgb = np.zeros((H, W, 3), np.float32)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 1.0, 0.5, 0.0
    out = write_image(tmp_path / "out.png", image.replace(rgb, None))
    with PILImage.open(out) as pil:
        assert pil.mode == "L"
        assert np.asarray(pil)[0, 0] == round((0.299 + 0.587 * 0.5) * 255)


def test_palette_png_with_transparency(tmp_path):
    indices = (np.arange(H * W) % 4).reshape(H, W).astype(np.uint8)
    pil = PILImage.fromarray(indices, mode="L").convert("P")
    pil.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30] + [0] * (252 * 3))
    pil.save(tmp_path / "p.png", transparency=2)
    image = read_image(tmp_path / "p.png")
    assert not image.meta.grayscale and image.alpha is not None
    np.testing.assert_array_equal(image.alpha == 0, indices == 2)
    np.testing.assert_array_equal(to_uint(image.rgb[indices == 3]), [[10, 20, 30]] * int((indices == 3).sum()))
    back = read_image(write_image(tmp_path / "rgba.png", image))
    np.testing.assert_array_equal(back.alpha, image.alpha)


def test_palette_png_without_transparency(tmp_path):
    rgb = _u8(3)
    PILImage.fromarray(rgb).quantize(16).save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    assert image.alpha is None and not image.meta.grayscale
    expected = np.asarray(PILImage.open(tmp_path / "p.png").convert("RGB"))
    np.testing.assert_array_equal(to_uint(image.rgb), expected)


def test_bmp_round_trip_composites_alpha_over_white(tmp_path):
    rgba = _u8(4)
    with pytest.warns(ImageNotice, match="BMP holds no alpha; transparent areas composited over white"):
        back = read_image(write_image(tmp_path / "out.bmp", _image(rgba, 16)))
    assert back.meta.format == "BMP" and back.meta.bit_depth == 8 and back.alpha is None
    alpha = rgba[..., 3:] / 255.0
    expected = np.rint(rgba[..., :3] * alpha + 255 * (1 - alpha))
    assert np.abs(to_uint(back.rgb).astype(int) - expected).max() <= 1


def test_bmp_gray_round_trip(tmp_path):
    gray = _u8(1)
    back = read_image(write_image(tmp_path / "out.bmp", _image(gray, 8)))
    assert back.meta.grayscale
    np.testing.assert_array_equal(to_uint(back.rgb[..., 0]), gray)


def test_webp_quality_100_is_lossless_with_alpha(tmp_path):
    rgba = _u8(4)
    back = read_image(write_image(tmp_path / "out.webp", _image(rgba, 8), quality=100))
    assert back.meta.format == "WEBP"
    np.testing.assert_array_equal(_pixels(back, 8), rgba)


def test_webp_lossy_and_gray(tmp_path):
    smooth = np.linspace(0, 255, H * W * 3).reshape(H, W, 3).astype(np.uint8)
    back = read_image(write_image(tmp_path / "out.webp", _image(smooth, 8), quality=90))
    assert np.abs(to_uint(back.rgb).astype(int) - smooth).mean() < 4
    gray = read_image(write_image(tmp_path / "gray.webp", _image(_u8(1), 8), quality=100))
    assert not gray.meta.grayscale  # WebP holds colour only


def test_jpeg_round_trip_with_tolerance(tmp_path):
    smooth = np.linspace(0, 255, H * W * 3).reshape(H, W, 3).astype(np.uint8)
    back = read_image(write_image(tmp_path / "out.jpg", _image(smooth, 16), quality=95))
    assert back.meta.format == "JPEG" and back.meta.bit_depth == 8
    assert np.abs(to_uint(back.rgb).astype(int) - smooth).mean() < 3


def test_jpeg_gray_stays_gray_and_composites_alpha(tmp_path):
    with pytest.warns(ImageNotice, match="JPEG holds no alpha"):
        out = write_image(tmp_path / "out.jpeg", _image(_u8(2), 8))
    with PILImage.open(out) as pil:
        assert pil.mode == "L"
    assert read_image(out).meta.grayscale


def test_cmyk_jpeg_is_read_as_rgb(tmp_path):
    PILImage.fromarray(_u8(3)).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    image = read_image(tmp_path / "cmyk.jpg")
    expected = np.asarray(PILImage.open(tmp_path / "cmyk.jpg").convert("RGB"))
    assert image.alpha is None and not image.meta.grayscale
    np.testing.assert_array_equal(to_uint(image.rgb), expected)


def test_plain_array_writes_8bit_and_float_values_are_clipped_and_rounded(tmp_path):
    values = np.array([[[-0.5, 0.499 / 255, 0.501 / 255], [1.5, 0.5, 1.0]]], dtype=np.float32)
    out = write_image(tmp_path / "a.png", values)
    with PILImage.open(out) as pil:
        assert pil.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(pil), [[[0, 0, 1], [255, 128, 255]]])


# ----------------------------------------------------------------------------------- bit depth on output


def test_bit_depth_is_kept_unless_asked(tmp_path):
    image = read_image(write_image(tmp_path / "a.png", _image(_u16(3), 16)))
    assert read_image(write_image(tmp_path / "kept.png", image)).meta.bit_depth == 16
    assert read_image(write_image(tmp_path / "eight.png", image, bit_depth=8)).meta.bit_depth == 8
    eight = read_image(write_image(tmp_path / "b.png", _image(_u8(3), 8)))
    assert read_image(write_image(tmp_path / "up.png", eight, bit_depth=16)).meta.bit_depth == 16
    with pytest.raises(OptionError):
        encode_image(image, "PNG", bit_depth=12)


@pytest.mark.filterwarnings("ignore::acutance.io.ImageNotice")
def test_encode_and_decode_in_memory():
    rgba = _u16(4)
    data = encode_image(_image(rgba, 16), "png")
    back = decode_image(data, "upload.png")
    np.testing.assert_array_equal(_pixels(back, 16), rgba)
    assert decode_image(encode_image(_image(rgba, 16), "jpg")).meta.format == "JPEG"
    with pytest.raises(ImageWriteError, match="GIF"):
        encode_image(_image(rgba, 16), "GIF")


# -------------------------------------------------------------------------------------- EXIF orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow_exif_transpose(tmp_path, orientation):
    rgb = _u8(3)
    path = _pil_save(tmp_path / "o.png", rgb, exif=_exif(orientation))
    expected = np.asarray(ImageOps.exif_transpose(PILImage.open(path)).convert("RGB"))
    image = read_image(path)
    np.testing.assert_array_equal(to_uint(image.rgb), expected)
    reset = PILImage.Exif()
    reset.load(image.meta.exif)
    assert reset[0x0112] == 1 and reset[0x0131] == "acutance-test"


def test_tiff_orientation_tag_is_applied(tmp_path):
    path = _pil_save(tmp_path / "o.tif", _u8(3), exif=_exif(6))
    expected = np.asarray(ImageOps.exif_transpose(PILImage.open(path)).convert("RGB"))
    image = read_image(path)
    np.testing.assert_array_equal(to_uint(image.rgb), expected)
    with PILImage.open(write_image(tmp_path / "out.tif", image)) as pil:
        assert pil.getexif().get(0x0112, 1) == 1 and pil.size == (H, W)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_16bit_png_same_as_8bit(tmp_path, orientation):
    """OpenCV decodes 16-bit PNG; the orientation applied must be the one the Pillow path applies."""
    rgb16 = _u16(3)
    rgb8 = (rgb16 >> 8).astype(np.uint8)
    exif = _exif(orientation)
    image = decode_image(encode_image(Image(to_float(rgb16), None, _meta(16, exif=exif)), "PNG"))
    expected = decode_image(encode_image(Image(to_float(rgb8), None, _meta(8, exif=exif)), "PNG"))
    assert image.meta.bit_depth == 16 and expected.meta.bit_depth == 8
    np.testing.assert_array_equal((to_uint(image.rgb, 16) >> 8).astype(np.uint8), to_uint(expected.rgb))


def test_exif_orientation_jpeg_and_written_back_as_1(tmp_path):
    tall = np.zeros((64, 32, 3), np.uint8)
    tall[:16] = 255  # white band at the top of the stored pixels
    path = _pil_save(tmp_path / "o.jpg", tall, exif=_exif(6), quality=95)
    image = read_image(path)
    assert image.rgb.shape == (32, 64, 3)  # rotated 90 degrees clockwise: the band is now on the right
    assert image.rgb[:, -8:].mean() > 0.9 and image.rgb[:, :40].mean() < 0.1
    for suffix in (".jpg", ".png", ".webp", ".tif"):
        out = write_image(tmp_path / f"out{suffix}", image)
        with PILImage.open(out) as pil:
            assert pil.getexif().get(0x0112, 1) == 1
            assert pil.size == (64, 32)
        assert read_image(out).rgb.shape == (32, 64, 3)


# ------------------------------------------------------------------------------------------- ICC profile


@pytest.mark.parametrize(("suffix", "bit_depth"), [(".png", 8), (".png", 16), (".jpg", 8), (".webp", 8),
                                                   (".tif", 8), (".tif", 16)])  # fmt: skip
def test_icc_profile_is_preserved(tmp_path, suffix, bit_depth):
    icc = _srgb_icc()
    pixels = _u8(3) if bit_depth == 8 else _u16(3)
    out = write_image(tmp_path / f"out{suffix}", _image(pixels, bit_depth, icc=icc))
    with PILImage.open(out) as pil:
        assert pil.info.get("icc_profile") == icc
    back = read_image(out)
    assert back.meta.icc_profile == icc and back.meta.bit_depth == bit_depth
    if bit_depth == 16:
        np.testing.assert_array_equal(to_uint(back.rgb, 16), pixels)


def test_16bit_png_chunks_precede_idat(tmp_path):
    icc = _srgb_icc()
    data = encode_image(_image(_u16(4), 16, icc=icc, exif=_exif(1)), "PNG")
    kinds = [kind for kind, _ in png_chunks.iter_chunks(data)]
    assert kinds.index(b"iCCP") < kinds.index(b"IDAT") and kinds.index(b"eXIf") < kinds.index(b"IDAT")
    exif = PILImage.Exif()
    exif.load(decode_image(data).meta.exif)
    assert exif[0x0131] == "acutance-test"


def test_icc_of_another_colour_space_is_not_written(tmp_path):
    lab_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()  # not an RGB profile
    out = write_image(tmp_path / "o.png", _image(_u8(3), 8, icc=lab_icc))
    assert read_image(out).meta.icc_profile is None


# ------------------------------------------------------------------------------------------------ errors


def _read_fails(path, match: str) -> str:
    with pytest.raises(ImageReadError, match=match) as caught:
        read_image(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_read_errors_name_the_file(tmp_path):
    _read_fails(tmp_path / "missing.png", "no such file")
    _read_fails(tmp_path, "folder")
    (tmp_path / "notes.png").write_text("this is not an image\n")
    _read_fails(tmp_path / "notes.png", "not a PNG, JPEG")
    (tmp_path / "empty.jpg").write_bytes(b"")
    _read_fails(tmp_path / "empty.jpg", "empty")
    PILImage.fromarray(_u8(3)).save(tmp_path / "anim.gif")
    _read_fails(tmp_path / "anim.gif", "not a PNG, JPEG")


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize(("suffix", "bit_depth"), [(".png", 8), (".png", 16), (".jpg", 8), (".tif", 8)])
def test_truncated_file_raises(tmp_path, suffix, bit_depth):
    noisy = _image(_u8(3, seed=5) if bit_depth == 8 else _u16(3, seed=5), bit_depth)
    good = write_image(tmp_path / f"good{suffix}", noisy)
    data = good.read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    _read_fails(tmp_path / f"cut{suffix}", "cannot read")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_float_tiff_is_refused(tmp_path):
    PILImage.fromarray(np.zeros((4, 4), np.float32)).save(tmp_path / "f.tif")
    _read_fails(tmp_path / "f.tif", "floating-point")


def test_input_over_the_pixel_limit_is_a_limit_error(tmp_path):
    path = _pil_save(tmp_path / "big.png", _u8(3))
    with limits.using(limits.Limits(max_input_pixels=100)), pytest.raises(limits.LimitError) as caught:
        read_image(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert "32x24" in message and "over the input limit" in message and "--max-pixels" in message


def test_existing_output_is_kept_without_overwrite(tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    with pytest.raises(ImageWriteError, match="exists; pass --overwrite"):
        write_image(out, _image(_u8(3), 8))
    with pytest.raises(ImageWriteError, match="exists"):
        check_writable_output(out, overwrite=False)
    assert out.read_bytes() == b"precious"
    write_image(out, _image(_u8(3), 8), overwrite=True)
    assert read_image(out).rgb.shape == (H, W, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_missing_folder_and_unknown_extension(tmp_path):
    with pytest.raises(ImageWriteError, match="nope.*does not exist"):
        write_image(tmp_path / "nope" / "out.png", _image(_u8(3), 8))
    with pytest.raises(ImageWriteError, match=r"\.png.*\.webp|unknown extension"):
        write_image(tmp_path / "out.gif", _image(_u8(3), 8))
    with pytest.raises(ImageWriteError, match="folder"):
        write_image(tmp_path, _image(_u8(3), 8), overwrite=True)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: a 0o500 folder is still writable")
        with pytest.raises(ImageWriteError, match="locked.*not writable"):
            write_image(locked / "out.png", _image(_u8(3), 8))
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("failing", ["link", "replace", "fsync"])
def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch, failing):
    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(ImageWriteError, match="No space left"):
        atomic_write_bytes(tmp_path / "out.png", b"data", overwrite=failing == "replace")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    out.write_bytes(b"old")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(out, b"new", overwrite=True)
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_atomic_write_bytes_writes_and_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        out = atomic_write_bytes(tmp_path / "data.bin", b"abc")
    finally:
        os.umask(old)
    assert out.read_bytes() == b"abc"
    assert out.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0o600


# ---------------------------------------------------------------------------------------- Image, folders


def test_image_checks_the_contract_and_replace_keeps_meta():
    image = _image(_u8(4), 8, icc=b"x" * 200)
    small = image.replace(image.rgb[::2, ::2].copy(), image.alpha[::2, ::2].copy())
    assert small.meta is image.meta and small.rgb.shape == (H // 2, W // 2, 3)
    with pytest.raises(OptionError):
        image.replace(image.rgb.astype(np.float64), None)
    with pytest.raises(OptionError):
        image.replace(image.rgb, image.alpha[::2])


def test_list_images_skips_non_images(tmp_path):
    for name in ["b.PNG", "a.jpg", "c.tiff", "notes.txt", "Thumbs.db", ".hidden.png"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.webp").write_bytes(b"x")
    images, skipped = list_images(tmp_path)
    assert [p.name for p in images] == ["a.jpg", "b.PNG", "c.tiff"]
    assert sorted(p.name for p in skipped) == [".hidden.png", "Thumbs.db", "notes.txt"]
    images, _ = list_images(tmp_path, recursive=True)
    assert [p.name for p in images] == ["a.jpg", "b.PNG", "c.tiff", "d.webp"]
    with pytest.raises(ImageReadError, match="no such folder"):
        list_images(tmp_path / "missing")


def test_is_image_path():
    assert is_image_path("x/IMG.JPEG") and is_image_path(Path("a.tif")) and not is_image_path("a.gif")
    assert IMAGE_EXTENSIONS == {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}


# ------------------------------------------------------------------------------------------ shared data


@pytest.mark.parametrize(
    ("name", "bit_depth", "grayscale", "has_alpha"),
    [
        ("tree_alpha_16bit.png", 16, False, True),
        ("00017_gray.png", 8, True, False),
        ("children-alpha.png", 8, False, True),
        ("wolf_gray.jpg", 8, True, False),
    ],
)
def test_shared_data_metadata(shared_data, tmp_path, name, bit_depth, grayscale, has_alpha):
    path = shared_data / "real" / "RealESRGAN_inputs" / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    image = read_image(path)
    assert (image.meta.bit_depth, image.meta.grayscale, image.alpha is not None) == (
        bit_depth,
        grayscale,
        has_alpha,
    )
    out = read_image(write_image(tmp_path / f"copy{Path(name).suffix.replace('.jpg', '.png')}", image))
    np.testing.assert_array_equal(out.rgb, image.rgb)
    assert out.meta.icc_profile == image.meta.icc_profile
