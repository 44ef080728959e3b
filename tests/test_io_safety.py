"""acutance.io against hostile or unusual files: decompression bombs refused from the header, animated
inputs refused, alpha composited where a format has none, requests a format cannot meet refused, EXIF sizes
and PNG colour chunks kept true to the output (issue 15, defects 2, 5 and 9)."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from acutance import limits
from acutance.errors import ImageReadError, OptionError
from acutance.io import (
    Image,
    ImageMeta,
    ImageNotice,
    check_output_format,
    decode_image,
    encode_image,
    png_chunks,
    read_image,
    to_uint,
    write_image,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _bomb_png(path: Path, width: int = 10_000, height: int = 10_000) -> Path:
    """A black RGB PNG of width x height that is tiny on disk (zlib compresses the zero rows ~1000:1),
    written row by row so that the test itself never holds the decoded image."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + 3 * width)  # filter byte + RGB
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        png_chunks.PNG_SIGNATURE + png_chunks.make_chunk(b"IHDR", header) + png_chunks.make_chunk(b"IDAT", body)
        + png_chunks.make_chunk(b"IEND", b"")
    )  # fmt: skip
    return path


def _rgba(height: int = 16, width: int = 20) -> Image:
    """Opaque blue on the left half, fully transparent *red* on the right half (hidden colour)."""
    rgb = np.zeros((height, width, 3), np.float32)
    rgb[:, : width // 2, 2] = 1.0
    rgb[:, width // 2 :, 0] = 1.0
    alpha = np.ones((height, width), np.float32)
    alpha[:, width // 2 :] = 0.0
    meta = ImageMeta(bit_depth=8, grayscale=False, format="PNG", icc_profile=None, exif=None)
    return Image(rgb, alpha, meta)


# ------------------------------------------------------------------------------ decompression bombs


def test_bomb_png_is_refused_from_the_header_in_one_line_under_1_5_gb(tmp_path):
    bomb = _bomb_png(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 400_000  # ~290 KB for 10000x10000, the 285 KB file
    # A wrapper process reports the peak RSS of the CLI it runs (RUSAGE_CHILDREN: only that child).
    wrapper = textwrap.dedent(
        """
        import resource, subprocess, sys
        run = subprocess.run([sys.executable, "-m", "acutance", "upscale", sys.argv[1], "-o", sys.argv[2]],
                             capture_output=True, text=True, timeout=300)
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        sys.stdout.write(f"{run.returncode}\\n{peak_kib}\\n")
        sys.stdout.write(run.stderr)
        """
    )
    done = subprocess.run([sys.executable, "-c", wrapper, str(bomb), str(tmp_path / "out.png")],
                          capture_output=True, text=True, timeout=360, cwd=REPO_ROOT)  # fmt: skip
    code, peak_kib, stderr = done.stdout.split("\n", 2)
    assert int(code) == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr  # no raw DecompressionBombWarning, no traceback
    assert lines[0].startswith("acutance: error: ")
    assert "10000x10000 (100.0 MP) is over the input limit of 89.5 MP" in lines[0]
    assert "--max-pixels" in lines[0]
    assert "DecompressionBomb" not in stderr
    assert int(peak_kib) * 1024 < 1.5 * 2**30, f"peak RSS {int(peak_kib) / 2**20:.2f} GiB"
    assert not (tmp_path / "out.png").exists()


def test_decode_image_checks_the_limit_before_decoding(tmp_path):
    """The web server's path: bytes in memory. Pillow's own bomb guard never speaks (ours replaced it)."""
    data = _bomb_png(tmp_path / "bomb.png").read_bytes()
    with pytest.raises(limits.LimitError, match=r"upload.png: 10000x10000 .* over the input limit"):
        decode_image(data, "upload.png")
    with limits.using(limits.Limits(max_input_pixels=50_000_000)):
        with pytest.raises(limits.LimitError, match="over the input limit of 50.0 MP"):
            decode_image(data, "upload.png")
    assert PILImage.MAX_IMAGE_PIXELS is None  # so a raised --max-pixels is not overruled by Pillow


def test_max_pixels_flag_raises_the_limit_for_a_small_image(tmp_path):
    path = tmp_path / "small.png"
    PILImage.fromarray(np.zeros((30, 40, 3), np.uint8)).save(path)
    with limits.using(limits.Limits(max_input_pixels=1000)):
        with pytest.raises(limits.LimitError, match="40x30"):
            read_image(path)
    with limits.using(limits.Limits(max_input_pixels=1200)):
        assert read_image(path).rgb.shape == (30, 40, 3)


# ------------------------------------------------------------------------------------ animated inputs


def _frames(count: int = 3) -> list[PILImage.Image]:
    return [PILImage.fromarray(np.full((8, 10, 3), 40 * i, np.uint8)) for i in range(count)]


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif"])
def test_animated_or_multi_page_input_is_refused_unless_first_frame(tmp_path, suffix):
    frames = _frames(3)
    path = tmp_path / f"anim{suffix}"
    options = {"lossless": True} if suffix == ".webp" else {}
    frames[0].save(path, save_all=True, append_images=frames[1:], **options)
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    message = str(caught.value)
    assert "animated or multi-page image: 3 frames; only the first would be processed" in message
    assert str(path) in message and "--first-frame" in message and "\n" not in message
    first = read_image(path, first_frame=True)
    np.testing.assert_array_equal(to_uint(first.rgb), np.asarray(frames[0]))


def test_single_frame_png_is_not_animated(tmp_path):
    path = tmp_path / "one.png"
    _frames(1)[0].save(path)
    assert read_image(path).rgb.shape == (8, 10, 3)


# ------------------------------------------------------------------------------ alpha into JPEG and BMP


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_alpha_is_composited_over_white_with_a_notice(tmp_path, suffix):
    with pytest.warns(ImageNotice, match=r"out.* holds no alpha; transparent areas composited over white"):
        out = write_image(tmp_path / f"out{suffix}", _rgba())
    back = to_uint(read_image(out).rgb).astype(int)
    hidden = back[:, 12:]  # away from the edge JPEG smears
    assert hidden.min() >= 240, "the red under the transparent pixels shows"
    opaque = back[:, :8]
    assert opaque[..., 2].min() >= 240 and opaque[..., :2].max() <= 15


def test_composite_is_premultiplied():
    from acutance.io import composite

    rgb = np.array([[[1.0, 0.0, 0.0], [0.2, 0.4, 0.6]]], np.float32)
    alpha = np.array([[0.0, 0.5]], np.float32)
    np.testing.assert_allclose(composite(rgb, alpha), [[[1, 1, 1], [0.6, 0.7, 0.8]]], atol=1e-6)


# ------------------------------------------------------------------------ requests a format cannot meet


@pytest.mark.parametrize("suffix", [".jpg", ".webp", ".bmp"])
def test_16_bit_into_an_8_bit_format_is_an_error(tmp_path, suffix):
    with pytest.raises(OptionError, match="holds 8 bits per channel: --bit-depth 16 needs PNG or TIFF"):
        write_image(tmp_path / f"out{suffix}", _rgba(), bit_depth=16)
    with pytest.raises(OptionError, match="--bit-depth 16"):
        check_output_format(tmp_path / f"out{suffix}", bit_depth=16)
    assert not (tmp_path / f"out{suffix}").exists()


def test_a_16_bit_source_into_jpeg_is_written_with_8_bits(tmp_path):
    """Not asked for: the format's 8 bits are taken without an error (documented)."""
    image = Image(np.full((4, 4, 3), 0.5, np.float32), None,
                  ImageMeta(bit_depth=16, grayscale=False, format="PNG", icc_profile=None, exif=None))  # fmt: skip
    assert read_image(write_image(tmp_path / "out.jpg", image)).meta.bit_depth == 8


def test_format_that_disagrees_with_the_extension_is_an_error(tmp_path):
    with pytest.raises(OptionError, match=r"--format jpg disagrees with the output .*x.png \(PNG\)"):
        check_output_format(tmp_path / "x.png", format="jpg")
    assert check_output_format(tmp_path / "x.jpeg", format="jpg") == "JPEG"
    assert check_output_format(tmp_path / "x.TIF", format="tiff", bit_depth=16) == "TIFF"


def test_cli_format_that_disagrees_with_the_output_name_is_an_error(tmp_path):
    source = tmp_path / "in.png"
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(source)
    done = subprocess.run(
        [sys.executable, "-m", "acutance", "upscale", str(source), "-o", str(tmp_path / "x.png"), "--format", "jpg"],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "--format jpg disagrees with the output" in done.stderr
    assert not (tmp_path / "x.png").exists()


# ----------------------------------------------------------------------------------- EXIF and PNG chunks


def _exif_with_dimensions(width: int, height: int) -> bytes:
    exif = PILImage.Exif()
    exif[0x0131] = "acutance-test"
    exif.get_ifd(0x8769).update({0xA002: width, 0xA003: height})
    return exif.tobytes()


def _read_dimensions(path: Path) -> tuple[int, int]:
    with PILImage.open(path) as pil:
        ifd = pil.getexif().get_ifd(0x8769)
        return ifd[0xA002], ifd[0xA003]


@pytest.mark.parametrize(("suffix", "bit_depth"), [(".jpg", 8), (".png", 8), (".png", 16), (".webp", 8)])
def test_exif_image_size_follows_the_output(tmp_path, suffix, bit_depth):
    source = tmp_path / f"in{suffix}"
    PILImage.fromarray(np.zeros((12, 16, 3), np.uint8)).save(source, exif=_exif_with_dimensions(16, 12))
    assert _read_dimensions(source) == (16, 12)
    image = read_image(source)
    bigger = image.replace(np.zeros((48, 64, 3), np.float32), None)
    out = write_image(tmp_path / f"out{suffix}", bigger, bit_depth=bit_depth)
    assert _read_dimensions(out) == (64, 48)
    with PILImage.open(out) as pil:
        assert pil.getexif()[0x0131] == "acutance-test"  # the rest of the EXIF is kept


def test_exif_image_size_over_65535_in_a_short_is_rewritten():
    from acutance.io.image import _exif_with_size

    raw = _exif_with_dimensions(16, 12)
    exif = PILImage.Exif()
    exif.load(_exif_with_size(raw, 70_000, 3))
    assert exif.get_ifd(0x8769)[0xA002] == 70_000 and exif.get_ifd(0x8769)[0xA003] == 3


def _png_with_colour_chunks(path: Path, bit_depth: int) -> dict[bytes, bytes]:
    chunks = {
        b"sRGB": b"\x00",
        b"gAMA": struct.pack(">I", 45455),
        b"cHRM": struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000),
        b"pHYs": struct.pack(">IIB", 11811, 11811, 1),  # 300 dpi
    }
    pixels = np.zeros((6, 7, 3), np.uint16 if bit_depth == 16 else np.uint8)
    image = Image(pixels.astype(np.float32) / 255, None,
                  ImageMeta(bit_depth=bit_depth, grayscale=False, format="PNG", icc_profile=None, exif=None))  # fmt: skip
    plain = encode_image(image, "PNG")
    path.write_bytes(png_chunks.insert_before_idat(plain, [png_chunks.make_chunk(k, v) for k, v in chunks.items()]))
    return chunks


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_png_colour_and_density_chunks_are_carried(tmp_path, bit_depth):
    chunks = _png_with_colour_chunks(tmp_path / "in.png", bit_depth)
    image = read_image(tmp_path / "in.png")
    out = write_image(tmp_path / "out.png", image.replace(np.zeros((12, 14, 3), np.float32), None))
    written = list(png_chunks.iter_chunks(out.read_bytes()))
    kinds = [kind for kind, _ in written]
    for kind, data in chunks.items():
        assert (kind, data) in written, kind
        assert kinds.index(kind) < kinds.index(b"IDAT")
        assert kinds.count(kind) == 1
    with PILImage.open(out) as pil:
        pil.load()  # a valid file (CRCs, chunk order)
        assert round(pil.info["dpi"][0]) == 300


def test_png_chunks_are_not_written_into_other_formats(tmp_path):
    _png_with_colour_chunks(tmp_path / "in.png", 8)
    out = write_image(tmp_path / "out.tif", read_image(tmp_path / "in.png"))
    assert read_image(out).meta.png_chunks == ()


def test_cli_prints_the_alpha_notice_as_one_line(tmp_path, capsys):
    from acutance.cli.main import main

    source = tmp_path / "logo.png"
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0], rgba[:, :4, 3] = 255, 255
    PILImage.fromarray(rgba).save(source)
    assert main(["upscale", str(source), "-o", str(tmp_path / "logo.jpg")]) == 0
    err = capsys.readouterr().err
    assert f"acutance: warning: {tmp_path / 'logo.jpg'}: JPEG holds no alpha; transparent areas composited over white\n" in err
    assert "ImageNotice" not in err and "warnings.warn" not in err


def test_cli_refuses_an_animated_png_unless_first_frame(tmp_path, capsys):
    from acutance.cli.main import main

    frames = _frames(4)
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:])
    assert main(["upscale", str(tmp_path / "anim.png"), "-o", str(tmp_path / "x2.png")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "animated or multi-page image: 4 frames" in err[0] and "--first-frame" in err[0]
    assert not (tmp_path / "x2.png").exists()
    assert main(["upscale", str(tmp_path / "anim.png"), "-o", str(tmp_path / "x2.png"), "--first-frame"]) == 0
    assert read_image(tmp_path / "x2.png").rgb.shape == (16, 20, 3)
