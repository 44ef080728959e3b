"""Colour style transfer: DNCM (ours) against Reinhard (Lab mean/std) and histogram matching, on held-out looks.

Ground truth. A held-out family of eight looks (``LOOKS`` below: Lab split-toning, bleach bypass, fades,
sigmoid contrast, cross-processing, sepia, matte, vivid; parametric forms that the training perturbations of
``acutance.grading.perturb`` never draw) is sampled into 33^3 tables, written as ``.cube`` files and applied
through ``acutance.grading.cube`` (tetrahedral). For image i of a set, the look L = LOOKS[i % 8] is applied to
image i+1 to make the reference; the task is to give image i (untouched) the reference's look; the ground
truth is L(image i). Images at 8-bit levels. Scores: CIEDE2000 (colour-science's ``delta_E``, sRGB -> Lab D65)
per image: the mean and the 95th percentile over its pixels, averaged over the images; RGB PSNR (0-255).
"unchanged" (the input itself) is the floor.

Exported LUT: for the first 6 Kodak triples, ours as a 33^3 .cube applied with ``lut apply``'s path, against
the network's own output (mean CIEDE2000).

Speed: a 3840x2160 image: the mapping applied (the ``ColourMapping.apply`` numba kernel), median of 5 after a
warm-up, wall and process CPU; the encoder (both tables, incl. the thumbnail of the 4K input) separately;
the baselines and a 33^3 LUT (tetrahedral) on the same image.

Video: ``carphone_pristine.mp4`` (a camera fixed in a car, 120 frames) through ``acutance video -m none
--style REF`` (REF: Kodak image 1 under the first held-out look); the frame-to-frame colour change the styling
adds where the picture holds still (``acutance.grading.video.added_change``: input CIEDE2000 < 1 between
frames), on the encoded output, and without the encoder for ours and for the look recomputed every frame.

Writes benchmarks/results/colour.json and colour.md.
Usage: python benchmarks/colour.py [--sets Kodak24,BSD100] [--limit N] [--skip-speed] [--skip-video] [--weights FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import common
import numpy as np

# This script is named like colour-science's package: take its own folder off the path, or 'import colour'
# would import this file again.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

SETS = {"Kodak24": ("restore", "Kodak24"), "BSD100": ("sr", "BSD100")}


# ------------------------------------------------------------------------------------------- held-out looks


def _lab(rgb):
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)


def _rgb(lab):
    import cv2

    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB), 0, 1)


def _luma(rgb):
    return rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def _sigmoid_contrast(x, k, mid=0.5):
    lo, hi = 1 / (1 + np.exp(k * mid)), 1 / (1 + np.exp(-k * (1 - mid)))
    return (1 / (1 + np.exp(-k * (x - mid))) - lo) / (hi - lo)


def teal_orange(rgb):
    lab = _lab(rgb)
    t = lab[..., 0:1] / 100
    lab[..., 1:] = lab[..., 1:] * 1.15 + (1 - t) * np.array([-6, -12]) + t * np.array([5, 14])
    return _rgb(lab)


def bleach_bypass(rgb):
    y = _luma(rgb)[..., None]
    return np.clip(_sigmoid_contrast(0.55 * rgb + 0.45 * y, 5.0), 0, 1)


def warm_fade(rgb):
    out = 0.06 + 0.9 * rgb**0.9
    return np.clip(out * np.array([1.07, 1.0, 0.88], dtype=np.float32), 0, 1)


def cool_contrast(rgb):
    return np.clip(_sigmoid_contrast(rgb, 6.0) * np.array([0.9, 1.0, 1.08], dtype=np.float32), 0, 1)


def cross_process(rgb):
    out = np.stack([rgb[..., 0] ** 0.8, rgb[..., 1] ** 1.05, 0.1 + 0.8 * rgb[..., 2] ** 1.3], -1)
    mix = np.array([[0.9, 0.1, 0.0], [0.05, 0.9, 0.05], [0.0, 0.15, 0.85]], dtype=np.float32)
    return np.clip(out @ mix.T, 0, 1)


def sepia(rgb):
    matrix = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], dtype=np.float32)
    return np.clip(0.5 * rgb + 0.5 * (rgb @ matrix.T), 0, 1)


def matte_green(rgb):
    lab = _lab(0.08 + 0.84 * rgb)
    t = lab[..., 0:1] / 100
    lab[..., 1:] += (1 - t) ** 2 * np.array([-10, 4])
    return _rgb(lab)


def vivid(rgb):
    lab = _lab(np.clip(rgb, 0, 1) ** 1.1)
    lab[..., 1:] *= 1.4
    return _rgb(lab)


LOOKS = (teal_orange, bleach_bypass, warm_fade, cool_contrast, cross_process, sepia, matte_green, vivid)


def look_cubes(folder: Path, size: int = 33) -> list:
    """Each look sampled on a size^3 grid, written as a .cube and read back (the file path users take)."""
    from acutance.grading.cube import read_cube, write_cube

    grid = np.linspace(0.0, 1.0, size, dtype=np.float32)
    r, g, b = np.meshgrid(grid, grid, grid, indexing="ij")
    points = np.stack([r, g, b], -1).reshape(size * size, size, 3)
    cubes = []
    for look in LOOKS:
        path = write_cube(folder / f"{look.__name__}.cube", look(points).reshape(size, size, size, 3), title=look.__name__)
        cubes.append(read_cube(path))
    return cubes


# ------------------------------------------------------------------------------------------------ scoring


def delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import colour

    def lab(rgb):
        return colour.XYZ_to_Lab(colour.sRGB_to_XYZ(rgb.astype(np.float64)))

    return colour.delta_E(lab(a), lab(b), method="CIE 2000")


def quantise(rgb: np.ndarray) -> np.ndarray:
    return (np.round(np.clip(rgb, 0, 1) * 255) / 255).astype(np.float32)


def score(out, gt) -> dict:
    from acutance.metrics.registry import compute

    de = delta_e(quantise(out), gt)
    return {"de_mean": float(de.mean()), "de_p95": float(np.percentile(de, 95)),
            "psnr": compute("psnr", gt, quantise(out))}  # fmt: skip


WEIGHTS = None  # --weights: a DNCM model file (default: the shipped one)


def methods():
    from acutance.grading.dncm import load_encoder, style_transfer
    from acutance.grading.transfer import histogram_match, reinhard

    encoder = load_encoder(WEIGHTS)
    return {
        "dncm (ours)": lambda rgb, ref: style_transfer(rgb, ref, 1.0, encoder),
        "reinhard (Lab)": reinhard,
        "histogram matching": histogram_match,
        "unchanged": lambda rgb, ref: rgb,
    }


def run_set(name: str, folder: Path, cubes, limit: int) -> dict:
    from tqdm import tqdm

    from acutance.grading.cube import apply_lut
    from acutance.io import list_images, read_image

    paths, _ = list_images(folder)
    paths = paths[:limit] if limit else paths
    images = [quantise(read_image(p).rgb) for p in paths]
    scores: dict[str, list] = {m: [] for m in methods()}
    fns = methods()
    for i in tqdm(range(len(images)), desc=name, file=sys.stderr, leave=False):
        cube = cubes[i % len(cubes)]
        ref = quantise(apply_lut(images[(i + 1) % len(images)], cube))
        gt = quantise(apply_lut(images[i], cube))
        for method, fn in fns.items():
            scores[method].append(score(fn(images[i], ref), gt))
    return {
        method: {k: round(float(np.mean([s[k] for s in rows])), 3) for k in ("de_mean", "de_p95", "psnr")}
        for method, rows in scores.items()
    } | {"images": len(images)}


def exported_lut_check(folder: Path, cubes, count: int = 6) -> dict:
    from acutance.grading.cube import apply_lut, read_cube
    from acutance.grading.dncm import compute_mapping, load_encoder
    from acutance.io import list_images, read_image

    paths, _ = list_images(folder)
    images = [quantise(read_image(p).rgb) for p in paths[: count + 1]]
    errors = []
    with tempfile.TemporaryDirectory() as temp:
        for i in range(count):
            ref = quantise(apply_lut(images[i + 1], cubes[i % len(cubes)]))
            mapping = compute_mapping(images[i], ref, load_encoder(WEIGHTS))
            path = mapping.to_cube(Path(temp) / f"{i}.cube", 33)
            via_lut = apply_lut(images[i], read_cube(path), "tetrahedral")
            errors.append(float(delta_e(quantise(via_lut), quantise(mapping.apply(images[i]))).mean()))
    return {"images": count, "size": 33, "de_mean": round(float(np.mean(errors)), 4), "de_max_image": round(max(errors), 4)}


def gallery(folder: Path, cubes, out: Path, index: int = 4, width: int = 320) -> Path:
    """docs/colour_gallery.png: input, reference, ground truth, ours, Reinhard, histogram matching (labelled)."""
    import cv2

    from acutance.grading.cube import apply_lut
    from acutance.io import list_images, read_image

    paths, _ = list_images(folder)
    image, other = (quantise(read_image(paths[i]).rgb) for i in (index, index + 1))
    cube = cubes[index % len(cubes)]
    ref, gt = quantise(apply_lut(other, cube)), quantise(apply_lut(image, cube))
    fns = methods()
    tiles = [("input", image), ("reference", ref), ("ground truth", gt)]
    tiles += [(name, fns[name](image, ref)) for name in ("dncm (ours)", "reinhard (Lab)", "histogram matching")]
    row = []
    for label, tile in tiles:
        h, w = tile.shape[:2]
        small = cv2.resize(tile, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
        small = np.round(np.clip(small, 0, 1) * 255).astype(np.uint8).copy()
        cv2.putText(small, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(small, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        row.append(small)
    grid = np.concatenate([np.concatenate(row[:3], 1), np.concatenate(row[3:], 1)], 0)
    cv2.imwrite(str(out), grid[..., ::-1])
    return out


def timed(fn, repeats: int = 5) -> dict:
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"wall_s": round(float(np.median(walls)), 4), "cpu_s": round(float(np.median(cpus)), 4)}


def speed(cubes) -> dict:
    import cv2

    from acutance.grading.cube import apply_lut
    from acutance.grading.dncm import compute_mapping, load_encoder
    from acutance.grading.transfer import histogram_match, reinhard

    rng = np.random.default_rng(0)
    small = rng.random((270, 480, 3)).astype(np.float32)
    frame = np.clip(cv2.resize(small, (3840, 2160), interpolation=cv2.INTER_CUBIC), 0, 1)
    ref = np.clip(cv2.resize(rng.random((270, 480, 3)).astype(np.float32), (1920, 1080)), 0, 1)
    encoder = load_encoder(WEIGHTS)
    mapping = compute_mapping(frame, ref, encoder)
    load = __import__("os").getloadavg()[0]  # the machine is shared: wall times depend on it
    return {
        "size": "3840x2160",
        "load_average": round(load, 1),
        "apply": timed(lambda: mapping.apply(frame)),
        "encoder (input + reference tables)": timed(lambda: compute_mapping(frame, ref, encoder)),
        "lut 33^3 tetrahedral": timed(lambda: apply_lut(frame, cubes[0], "tetrahedral")),
        "lut 33^3 trilinear": timed(lambda: apply_lut(frame, cubes[0], "trilinear")),
        "cv2.transform 3x3 matrix (a floor: one matrix per pixel)": timed(lambda: cv2.transform(frame, np.eye(3, dtype=np.float32))),
        "reinhard (Lab)": timed(lambda: reinhard(frame, ref), repeats=2),
        "histogram matching": timed(lambda: histogram_match(frame, ref), repeats=1),
    }


def video_check(data: Path, cubes) -> dict:
    from acutance.grading.cube import apply_lut
    from acutance.grading.dncm import load_encoder, style_transfer
    from acutance.grading.video import StyleStage, added_change, stage_params
    from acutance.io import list_images, read_image, write_image
    from acutance.video import VideoOptions, enhance_video
    from acutance.video.compare import _frames
    from acutance.video.stages import StageSpec

    clip = data / "video" / "carphone_pristine.mp4"
    paths, _ = list_images(data.joinpath(*SETS["Kodak24"]))
    ref = quantise(apply_lut(quantise(read_image(paths[1]).rgb), cubes[0]))
    with tempfile.TemporaryDirectory() as temp:
        ref_path = write_image(Path(temp) / "ref.png", ref)
        out = Path(temp) / "styled.mp4"
        spec = StageSpec.of("style", **stage_params(ref_path, 1.0, WEIGHTS))
        started = time.perf_counter()
        enhance_video(clip, out, VideoOptions(model="none", stages=(spec,)), overwrite=True)
        seconds = time.perf_counter() - started
        inputs, outputs = list(_frames(clip, None)), list(_frames(out, None))
    encoder = load_encoder(WEIGHTS)
    stage = StyleStage(encoder, encoder.tables(ref)[1], 1.0)
    ours = [stage(i, f, f) for i, f in enumerate(inputs)]
    per_frame = [style_transfer(f, ref, 1.0, encoder) for f in inputs]
    return {"clip": clip.name, "frames": len(inputs), "seconds": round(seconds, 1), "shots": len(stage.shots),
            "added_de_encoded": round(added_change(inputs, outputs), 4),
            "added_de_ours": round(added_change(inputs, ours), 4),
            "added_de_per_frame": round(added_change(inputs, per_frame), 4)}  # fmt: skip


def markdown(result: dict) -> str:
    lines = ["# Colour style transfer (held-out looks)", "",
             "Task: give image i the look of image i+1 under a held-out look (8 looks, never used in training); "
             "ground truth = the look on image i. CIEDE2000 mean / 95th percentile per image, averaged; RGB PSNR.",
             "", "| set | method | mean dE2000 | p95 dE2000 | PSNR (dB) |", "|---|---|---|---|---|"]  # fmt: skip
    for name, rows in result["quality"].items():
        for method, s in rows.items():
            if method != "images":
                lines.append(f"| {name} ({rows['images']}) | {method} | {s['de_mean']:.2f} | {s['de_p95']:.2f} | {s['psnr']:.2f} |")
    if "exported_lut" in result:
        e = result["exported_lut"]
        lines += ["", f"Exported {e['size']}^3 .cube applied with `lut apply` (tetrahedral) against the network's own "
                  f"output, {e['images']} Kodak images: mean dE2000 {e['de_mean']:.3f} (worst image {e['de_max_image']:.3f})."]
    if "video" in result:
        v = result["video"]
        lines += ["", f"Video ({v['clip']}, {v['frames']} frames, {v['shots']} shot(s), `acutance video -m none --style`, "
                  f"{v['seconds']} s): colour change added by the styling where the picture holds still, mean dE2000: "
                  f"{v['added_de_encoded']:.3f} on the encoded output, {v['added_de_ours']:.3f} before encoding; "
                  f"the look recomputed on every frame: {v['added_de_per_frame']:.3f}."]
    if "speed" in result:
        load = result["speed"].get("load_average")
        busy = f", load average {load} at the start: wall times on a shared machine" if load is not None else ""
        lines += ["", f"Speed on a {result['speed']['size']} image ({result['machine']['cpus']} CPUs{busy}; median wall / CPU s):", "",
                  "| step | wall s | CPU s |", "|---|---|---|"]
        for step, t in result["speed"].items():
            if step not in ("size", "load_average"):
                lines.append(f"| {step} | {t['wall_s']:.3f} | {t['cpu_s']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="Kodak24,BSD100")
    parser.add_argument("--limit", type=int, default=0, help="images per set (0: all)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-video", action="store_true")
    parser.add_argument("--only-speed", action="store_true", help="only the speed rows (merged into the stored results)")
    parser.add_argument("--weights", help="a DNCM model file (default: the shipped weights/dncm.npz)")
    args = parser.parse_args()
    global WEIGHTS
    WEIGHTS = args.weights
    warnings.simplefilter("ignore")  # colour-science's notice about its optional plotting dependency
    data = common.require_shared_data()
    result: dict = {"quality": {}}
    with tempfile.TemporaryDirectory() as temp:
        cubes = look_cubes(Path(temp))
        if args.only_speed:
            result = common.read_result("colour") | {"speed": speed(cubes)}
            path = common.write_result("colour", result)
            result["machine"] = {"cpus": __import__("os").cpu_count()}
            (common.RESULTS / "colour.md").write_text(markdown(result), encoding="utf-8")
            print(markdown(result))
            return
        for name in args.sets.split(","):
            result["quality"][name] = run_set(name, data.joinpath(*SETS[name]), cubes, args.limit)
        result["exported_lut"] = exported_lut_check(data.joinpath(*SETS["Kodak24"]), cubes)
        gallery(data.joinpath(*SETS["Kodak24"]), cubes, common.ROOT / "docs" / "colour_gallery.png")
        if not args.skip_video:
            result["video"] = video_check(data, cubes)
        if not args.skip_speed:
            result["speed"] = speed(cubes)
    path = common.write_result("colour", result)
    result["machine"] = {"cpus": __import__("os").cpu_count()}
    (common.RESULTS / "colour.md").write_text(markdown(result), encoding="utf-8")
    print(path)
    print(markdown(result))


if __name__ == "__main__":
    main()
