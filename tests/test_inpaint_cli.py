"""``acutance inpaint`` end to end on generated images: outside the mask bit-exact (8 and 16 bit), alpha kept
or used as the mask, folders with masks matched by name, and every bad input of issue 18 (acceptance 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acutance.cli.main import main
from acutance.contract import to_uint
from acutance.io import read_image, write_image
from conftest import smooth_test_image

H, W = 60, 80


def _photo(path: Path, seed: int = 0, alpha: np.ndarray | None = None, bits: int = 8) -> np.ndarray:
    """Write a textured test image; return its pixels as stored (uint8/uint16 HxWxC)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = smooth_test_image(H, W, seed=seed)
    pixels = rgb if alpha is None else np.dstack([rgb, alpha])
    write_image(path, pixels, bit_depth=bits)
    return _stored(path)


def _stored(path: Path) -> np.ndarray:
    image = read_image(path)
    bits = image.meta.bit_depth
    planes = [image.rgb] if image.alpha is None else [image.rgb, image.alpha[..., None]]
    return to_uint(np.concatenate(planes, axis=2), bits)


def _mask(path: Path, box=(20, 35, 30, 50), value: float = 1.0, size=(H, W)) -> np.ndarray:
    """A black mask with a white box (y0, y1, x0, x1); returns the boolean box."""
    mask = np.zeros(size, np.float32)
    y0, y1, x0, x1 = box
    mask[y0:y1, x0:x1] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.repeat(mask[..., None], 3, axis=2))
    return mask >= 0.5


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["inpaint", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fills_the_mask_and_keeps_every_other_pixel(tmp_path, capsys):
    before = _photo(tmp_path / "a.png")
    box = _mask(tmp_path / "m.png")
    code, out, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "m.png", "--method", "telea")
    assert code == 0, err
    target = tmp_path / "a_inpaint.png"
    assert out.strip() == str(target)
    after = _stored(target)
    assert np.array_equal(after[~box], before[~box])  # bit-exact outside the mask
    assert not np.array_equal(after[box], before[box])
    # the fill continues its surroundings: far closer to them than the texture's own spread
    ring = np.zeros_like(box)
    ring[17:38, 27:53] = True
    ring &= ~box
    assert abs(after[box].mean() - before[ring].mean()) < 25


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_16_bit_kept_and_exact_outside(tmp_path, capsys, method):
    before = _photo(tmp_path / "deep.png", seed=3, bits=16)
    box = _mask(tmp_path / "m.png")
    code, _, err = _run(capsys, tmp_path / "deep.png", "--mask", tmp_path / "m.png", "--method", method,
                        "-o", tmp_path / "out.png")  # fmt: skip
    assert code == 0, err
    assert read_image(tmp_path / "out.png").meta.bit_depth == 16
    after = _stored(tmp_path / "out.png")
    assert after.dtype == np.uint16 and np.array_equal(after[~box], before[~box])


def test_rgba_input_keeps_its_alpha_when_it_is_not_the_mask(tmp_path, capsys):
    alpha = np.linspace(0.2, 1.0, W, dtype=np.float32)[None, :].repeat(H, axis=0)
    before = _photo(tmp_path / "rgba.png", seed=1, alpha=alpha)
    box = _mask(tmp_path / "m.png")
    code, _, err = _run(capsys, tmp_path / "rgba.png", "--mask", tmp_path / "m.png", "--method", "telea")
    assert code == 0, err
    after = _stored(tmp_path / "rgba_inpaint.png")
    assert after.shape[2] == 4
    assert np.array_equal(after[..., 3], before[..., 3])  # the alpha is alpha, untouched, inside the mask too
    assert np.array_equal(after[~box], before[~box])


def test_alpha_as_the_mask(tmp_path, capsys):
    alpha = np.ones((H, W), np.float32)
    alpha[10:20, 10:30] = 0.0  # the erased hole
    before = _photo(tmp_path / "holes.png", seed=2, alpha=alpha)
    code, _, err = _run(capsys, tmp_path / "holes.png", "--mask", "alpha", "--method", "telea")
    assert code == 0, err
    result = read_image(tmp_path / "holes_inpaint.png")
    assert result.alpha is None  # the holes are filled: the result is opaque
    after = to_uint(result.rgb, 8)
    hole = alpha < 0.5
    assert np.array_equal(after[~hole], before[~hole][:, :3])
    _photo(tmp_path / "plain.png")
    code, _, err = _run(capsys, tmp_path / "plain.png", "--mask", "alpha")
    assert code == 1 and "has no alpha channel" in err


def test_mask_of_another_size(tmp_path, capsys):
    _photo(tmp_path / "a.png")
    _mask(tmp_path / "small.png", box=(10, 18, 15, 25), size=(H // 2, W // 2))
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "small.png")
    assert code == 1 and "40x30" in err and "80x60" in err and "--resize-mask" in err
    assert err.count("\n") == 1 and not (tmp_path / "a_inpaint.png").exists()
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "small.png", "--resize-mask", "--method", "telea")
    assert code == 0, err
    assert "thresholded" not in err  # the rescaled edges are ours, not the user's grey


def test_empty_mask_returns_the_input_with_a_notice(tmp_path, capsys):
    before = _photo(tmp_path / "a.png")
    write_image(tmp_path / "empty.png", np.zeros((H, W, 3), np.float32))
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "empty.png")
    assert code == 0 and "acutance: warning:" in err and "marks no pixel" in err
    assert np.array_equal(_stored(tmp_path / "a_inpaint.png"), before)


def test_full_mask_is_a_clear_error(tmp_path, capsys):
    _photo(tmp_path / "a.png")
    write_image(tmp_path / "full.png", np.ones((H, W, 3), np.float32))
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "full.png")
    assert code == 1 and "covers the whole 80x60 image" in err and err.startswith("acutance: error:")
    assert not (tmp_path / "a_inpaint.png").exists()
    _mask(tmp_path / "big.png", box=(2, H - 2, 2, W - 2))
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "big.png", "--dilate", "5")
    assert code == 1 and "dilated by 5 px covers the whole" in err


def test_grey_mask_is_thresholded_with_a_notice(tmp_path, capsys):
    before = _photo(tmp_path / "a.png")
    mask = np.zeros((H, W), np.float32)
    mask[10:20, 10:20] = 0.4  # below 50%: kept
    mask[30:40, 40:50] = 0.6  # above: filled
    write_image(tmp_path / "grey.png", np.repeat(mask[..., None], 3, axis=2))
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "grey.png", "--method", "telea")
    assert code == 0 and "thresholded at 50%" in err
    after = _stored(tmp_path / "a_inpaint.png")
    assert np.array_equal(after[10:20, 10:20], before[10:20, 10:20])
    assert not np.array_equal(after[30:40, 40:50], before[30:40, 40:50])


def test_transparent_mask_layer_marks_its_opaque_pixels(tmp_path, capsys):
    before = _photo(tmp_path / "a.png")
    layer = np.zeros((H, W, 4), np.float32)  # black strokes on a transparent layer: the strokes are the holes
    layer[5:15, 50:70, 3] = 1.0
    write_image(tmp_path / "layer.png", layer)
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "layer.png", "--method", "telea")
    assert code == 0, err
    after, hole = _stored(tmp_path / "a_inpaint.png"), layer[..., 3] > 0.5
    assert np.array_equal(after[~hole], before[~hole]) and not np.array_equal(after[hole], before[hole])


def test_dilate_grows_the_filled_area(tmp_path, capsys):
    before = _photo(tmp_path / "a.png")
    box = _mask(tmp_path / "m.png")
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "m.png", "--dilate", "3",
                        "--method", "telea")  # fmt: skip
    assert code == 0, err
    changed = np.any(_stored(tmp_path / "a_inpaint.png") != before, axis=2)
    assert changed[box].mean() > 0.9
    grown = np.zeros_like(box)
    grown[17:38, 27:53] = True
    assert not changed[~grown].any() and changed[grown & ~box].any()
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "m.png", "--dilate", "-1")
    assert code == 1 and "--dilate" in err


def test_folder_with_masks_matched_by_name(tmp_path, capsys):
    photos, masks = tmp_path / "photos", tmp_path / "photos" / "masks"  # a mask folder inside IN is no input
    originals = {name: _photo(photos / name, seed=i) for i, name in enumerate(["a.png", "b.png", "sub/c.png"])}
    boxes = {"a.png": _mask(masks / "a.png"), "sub/c.png": _mask(masks / "sub" / "c_mask.png", box=(5, 15, 5, 25))}
    write_image(photos / "b.png", read_image(photos / "b.png"), overwrite=True)  # b has no mask: fails alone
    code, out, err = _run(capsys, photos, "--mask", masks, "-r", "-o", tmp_path / "out", "--method", "telea")
    assert code == 1 and "no mask for b.png" in err and "2 of 3 images written" in out
    for name, box in boxes.items():
        after = _stored(tmp_path / "out" / name)
        assert np.array_equal(after[~box], originals[name][~box]) and not np.array_equal(after[box], originals[name][box])
    assert not (tmp_path / "out" / "masks").exists() and not (tmp_path / "out" / "b.png").exists()


def test_folder_with_one_mask_for_every_image(tmp_path, capsys):
    for i in range(2):
        _photo(tmp_path / "in" / f"p{i}.png", seed=i)
    box = _mask(tmp_path / "logo.png")
    code, out, err = _run(capsys, tmp_path / "in", "--mask", tmp_path / "logo.png", "--method", "telea")
    assert code == 0 and "2 of 2 images written" in out, err
    for i in range(2):
        assert not np.array_equal(_stored(tmp_path / "in_inpaint" / f"p{i}.png")[box], _stored(tmp_path / "in" / f"p{i}.png")[box])


def test_never_overwrites_and_missing_mask(tmp_path, capsys):
    _photo(tmp_path / "a.png")
    _mask(tmp_path / "m.png")
    assert _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "m.png", "--method", "telea")[0] == 0
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "m.png", "--method", "telea")
    assert code == 1 and "--overwrite" in err
    assert _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "m.png", "--method", "telea", "--overwrite")[0] == 0
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "nope.png")
    assert code == 1 and "nope.png: no such mask file" in err
    code, _, err = _run(capsys, tmp_path / "a.png", "--mask", tmp_path / "m.png", "-o", tmp_path / "m.png", "--overwrite")
    assert code == 1 and "is the mask" in err
