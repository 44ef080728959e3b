"""docs/inpaint_gallery.png: real removals on Kodak photos (issue 18, acceptance 4), one row each.

- **object**: the white door knob of kodim02 (a disc over it, from the knob's own pixels);
- **text**: the sail number and name of kodim10 ("SADOS 20042": its letters, darker than the sail, dilated 2 px);
- **scratch**: bright hairline scratches drawn on kodim04 with a seeded generator, as on an old print; the mask
  is the scratches, dilated 1 px.

Columns (the text row zoomed on its 250x250 corner): the input, the input with the mask in red, OpenCV Telea, ours (``--method learned``; ``--ours auto`` for
what ``acutance inpaint`` picks by default). Each row also prints the time of each method and, for the
scratch (where the photo under the damage is known), PSNR inside the mask.

    .venv/bin/python benchmarks/inpaint_gallery.py            # writes docs/inpaint_gallery.png
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from common import ROOT, require_shared_data

TILE = 360  # pixels per tile in the sheet (the Kodak crops are 500x500)


def knob_mask(rgb: np.ndarray) -> np.ndarray:
    """The knob: the bright, unsaturated blob around (130, 230), filled, grown by 4 px for its shadow line."""
    yy, xx = np.mgrid[: rgb.shape[0], : rgb.shape[1]]
    near = (yy - 230) ** 2 + (xx - 130) ** 2 <= 60**2
    bright = (rgb[..., 1] > 0.35) & near  # the red door's green channel is dark; the white knob's is not
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright.astype(np.uint8))
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    hull = cv2.convexHull(np.argwhere(labels == biggest)[:, ::-1].astype(np.int32))
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))) > 0


def text_mask(rgb: np.ndarray) -> np.ndarray:
    """The sail's lettering: pixels inside the box around 'SADOS 20042' (x 366-445, y 105-165) darker than the
    sail around them (its local median, 31 px) by 0.035, in pieces of 8 px or more, dilated 2 px: the letters' shapes, not a box."""
    luma = (rgb @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)
    background = cv2.medianBlur(np.clip(luma * 255, 0, 255).astype(np.uint8), 31).astype(np.float32) / 255
    box = np.zeros(rgb.shape[:2], bool)
    box[105:165, 366:445] = True
    dark = box & (luma < background - 0.035)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark.astype(np.uint8), connectivity=8)
    dark = np.isin(labels, 1 + np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= 8))  # no specks of sail texture
    return cv2.dilate(dark.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0


def scratched(rgb: np.ndarray, seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` with seeded hairline scratches (1-2 px, bright, slightly curved) and their mask."""
    rng = np.random.default_rng(seed)
    height, width = rgb.shape[:2]
    lines = np.zeros((height, width), np.uint8)
    for _ in range(5):
        x0 = rng.uniform(0, width)
        points = []
        for y in np.linspace(0, height - 1, 12):
            x0 += rng.normal(0, 6)
            points.append((int(x0), int(y)))
        cv2.polylines(lines, [np.array(points, np.int32)], False, 1, int(rng.integers(1, 3)), cv2.LINE_AA)
    streak = cv2.GaussianBlur(lines.astype(np.float32), (3, 3), 0.6)
    damaged = np.clip(rgb + 0.85 * streak[..., None] * (1.0 - rgb), 0, 1).astype(np.float32)
    mask = cv2.dilate((streak > 0.05).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return damaged, mask


def overlay(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    out[mask] = 0.35 * out[mask] + 0.65 * np.array([1.0, 0.0, 0.0], np.float32)
    return out


def label(tile: np.ndarray, text: str) -> np.ndarray:
    u8 = np.clip(np.rint(tile * 255), 0, 255).astype(np.uint8)
    bar = np.full((24, u8.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (5, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, u8], axis=0)


def psnr_inside(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    error = float(np.mean((a[mask] - b[mask]) ** 2))
    return 10 * np.log10(1.0 / max(error, 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours", default="learned", choices=("learned", "auto", "ns"),
                        help="the method of the last column (default: learned)")  # fmt: skip
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "inpaint_gallery.png"))
    args = parser.parse_args()
    data = require_shared_data() / "restore" / "Kodak24"

    from acutance.inpaint import inpaint
    from acutance.io import read_image, write_image

    door, sails, portrait = (read_image(data / f"kodim{n}.png").rgb for n in ("02", "10", "04"))
    damaged, scratch = scratched(portrait)
    # (title, image, mask, the photo under the damage if known, the square shown: y, x, side)
    cases = [("object: door knob (kodim02)", door, knob_mask(door), None, (0, 0, 500)),
             ("text: sail lettering (kodim10)", sails, text_mask(sails), None, (10, 250, 250)),
             ("scratches (kodim04)", damaged, scratch, portrait, (0, 0, 500))]  # fmt: skip
    probe = np.zeros((64, 64), bool)
    probe[20:40, 20:40] = True
    inpaint(np.full((64, 64, 3), 0.5, np.float32), probe, args.ours)  # load the model once: times are per image
    rows = []
    for title, rgb, mask, truth, (y, x, side) in cases:
        results, line = {}, [f"{title}: mask {mask.mean() * 100:.1f}%"]
        for method in ("telea", args.ours):
            started = time.perf_counter()
            results[method] = inpaint(rgb, mask, method)
            line.append(f"{method} {time.perf_counter() - started:.3f} s")
            if truth is not None:
                line.append(f"PSNR in mask {psnr_inside(results[method], truth, mask):.2f} dB")
        print("; ".join(line))
        tiles = [(rgb, "input: " + title), (overlay(rgb, mask), "mask"), (results["telea"], "Telea (OpenCV)"),
                 (results[args.ours], f"ours ({args.ours})")]  # fmt: skip
        shown = [(t[y : y + side, x : x + side], name) for t, name in tiles]
        shrunk = [label(cv2.resize(t, (TILE, TILE), interpolation=cv2.INTER_AREA if side > TILE else cv2.INTER_CUBIC), name)
                  for t, name in shown]  # fmt: skip
        gap = np.full((shrunk[0].shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([x for t in shrunk for x in (t, gap)][:-1], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    sheet = np.concatenate(rows[:-1], axis=0)
    write_image(args.output, sheet.astype(np.float32) / 255.0, overwrite=True)
    print(args.output)


if __name__ == "__main__":
    main()
