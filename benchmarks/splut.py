"""SPLUT: the published SPLUT-S/M/L models converted from the authors' checkpoints and run by our runtime;
their quality under the standard protocol, and speed against OpenCV bicubic and our lut-x4 in the same run.

The checkpoints are read from ../shared/peers/splut (skipped when absent) and converted once into --cache
(outside the repository: the peers' files are never copied into it). Quality: acutance.metrics.sr_protocol
at x4 on --sets; the authors' published Set5 x4 figures are 30.01 / 30.23 / 30.52. The rotation ensemble
(not used by the authors) is scored for SPLUT-L on Set5 as a side row. Our own trained splut-x4 and splut-x2
(registry; skipped when not registered) are scored beside lut-x4 and lut-x2. Speed: best of --repeats calls
on a 256x256 and a 960x540 input (to 3840x2160) at x4, wall and process CPU time.

Writes benchmarks/results/splut.json and splut.md.
Usage: python benchmarks/splut.py [--sets Set5,Set14,BSD100] [--repeats 5] [--cache DIR] [--skip-quality]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import common
from lut_sr import best_time, quality, test_image

PUBLISHED_SET5 = {"S": 30.01, "M": 30.23, "L": 30.52}
ITERATIONS = {"S": "318000", "M": "222000", "L": "560000"}
SIZES = ((256, 256), (540, 960))


def converted(cache: Path) -> dict:
    from acutance.lut import splut

    peers = common.ROOT.parent / "shared" / "peers" / "splut"
    if not peers.is_dir():
        print(f"SPLUT checkpoints not found at {peers}: nothing to measure", file=sys.stderr)
        return {}
    cache.mkdir(parents=True, exist_ok=True)
    models = {}
    for variant, iteration in ITERATIONS.items():
        path = cache / f"splut-{variant.lower()}.npz"
        if not path.is_file():
            model = splut.convert(peers / f"SPLUT_{variant}_model_G_A_i{iteration}.pth",
                                  peers / f"SPLUT_{variant}_model_G_B_i{iteration}.pth")
            splut.save_model(model, path)
        models[f"splut-{variant.lower()}"] = (splut.read(path), path)
    return models


def ours() -> dict:
    """Our trained SPLUT models from the registry, by name (none when they are not registered)."""
    import acutance
    from acutance.errors import ModelError

    found = {}
    for name in ("splut-x4", "splut-x2"):
        try:
            found[name] = acutance.load_model(name)
        except ModelError:
            print(f"{name} is not registered: skipped", file=sys.stderr)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="Set5,Set14,BSD100")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "acutance-splut")
    parser.add_argument("--skip-quality", action="store_true", help="time only; the stored quality rows are kept")
    args = parser.parse_args()
    data = common.require_shared_data()
    sets = args.sets.split(",")

    import cv2

    import acutance
    from acutance.lut import splut

    models = converted(args.cache)
    if not models:
        return
    lut_x4 = acutance.load_model("lut-x4")
    trained = ours()
    stored = common.read_result("splut") if args.skip_quality else {}
    rows, rows_x2 = stored.get("quality", {}), stored.get("quality_x2", {})
    if not args.skip_quality:
        for name, (model, path) in models.items():
            variant = name[-1].upper()
            rows[name] = {"x4": quality(name, lambda lr, m=model: splut.upscale(m, lr), 4, sets, data),
                          "published_set5": PUBLISHED_SET5[variant], "table_mb": round(model.nbytes / 1e6, 2),
                          "file_mb": round(path.stat().st_size / 1e6, 2)}
        ensemble, _ = models["splut-l"]
        ensemble.rotations = 4
        rows["splut-l, rotation ensemble"] = {
            "x4": quality("splut-l x4 rotations", lambda lr: splut.upscale(ensemble, lr), 4, ["Set5"], data)}
        ensemble.rotations = 1
        rows["lut-x4 (ours)"] = {"x4": quality("lut-x4", lambda lr: lut_x4(lr, 4), 4, sets, data)}
        if "splut-x4" in trained:
            model = trained["splut-x4"]
            rows["splut-x4 (ours, trained here)"] = {
                "x4": quality("splut-x4", lambda lr: model(lr, 4), 4, sets, data),
                "table_mb": round(model.model.nbytes / 1e6, 2)}
        if "splut-x2" in trained:
            lut_x2, model = acutance.load_model("lut-x2"), trained["splut-x2"]
            rows_x2["splut-x2 (ours, trained here)"] = quality("splut-x2", lambda lr: model(lr, 2), 2, sets, data)
            rows_x2["lut-x2 (ours)"] = quality("lut-x2", lambda lr: lut_x2(lr, 2), 2, sets, data)

    load_before = os.getloadavg()[0]
    speed = {}
    for height, width in SIZES:
        image = test_image(height, width)
        entry = {"opencv_bicubic_s": best_time(
            lambda: cv2.resize(image, (width * 4, height * 4), interpolation=cv2.INTER_CUBIC), args.repeats)}
        entry["lut-x4_s"] = best_time(lambda: lut_x4(image, 4), args.repeats)
        for name, (model, _) in models.items():
            if name == "splut-l" or (height, width) == SIZES[0]:
                entry[f"{name}_s"] = best_time(lambda m=model: splut.upscale(m, image), args.repeats)
        if "splut-x4" in trained:
            entry["splut-x4_s"] = best_time(lambda: trained["splut-x4"](image, 4), args.repeats)
        key = f"{width}x{height}"
        speed[key] = {k: round(v[0], 4) for k, v in entry.items()}
        speed[key] |= {k.replace("_s", "_cpu_s"): round(v[1], 4) for k, v in entry.items()}
        print(key, speed[key], flush=True)
    payload = {
        "quality": rows,
        "quality_x2": rows_x2,
        "speed_x4": speed,
        "threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    common.write_result("splut", payload)
    (common.RESULTS / "splut.md").write_text(markdown(payload, sets), encoding="utf-8")
    print("wrote benchmarks/results/splut.json and splut.md")


def markdown(p: dict, sets: list[str]) -> str:
    lines = ["## SPLUT (series-parallel LUTs): the published models in our runtime", ""]
    if p["quality"]:
        lines += [
            "Y-PSNR (dB) / SSIM at x4 under the standard protocol (`benchmarks/splut.py`), the authors' "
            "checkpoints converted by `acutance convert-splut` (int16 tables).",
            "",
            "| model | " + " | ".join(sets) + " | published Set5 | tables MB |",
            "|---|" + "---|" * len(sets) + "---|---|",
        ]
        for name, row in p["quality"].items():
            q = row["x4"]
            cells = " | ".join(f"{q[s]['psnr']:.2f} / {q[s]['ssim']:.4f}" if s in q else "" for s in sets)
            lines.append(f"| {name} | {cells} | {row.get('published_set5', '')} | {row.get('table_mb', '')} |")
        lines.append("")
    if p.get("quality_x2"):
        lines += ["At x2 (our trained models):", "", "| model | " + " | ".join(sets) + " |",
                  "|---|" + "---|" * len(sets)]
        for name, q in p["quality_x2"].items():
            lines.append(f"| {name} | " + " | ".join(f"{q[s]['psnr']:.2f} / {q[s]['ssim']:.4f}" for s in sets) + " |")
        lines.append("")
    sp = p["speed_x4"]
    lines += [
        f"Speed at x4, best of several calls, {p['threads']} threads, shared 2-core machine (load average "
        f"{p['load_average'][0]} before, {p['load_average'][1]} after): wall ms (ratio to OpenCV bicubic) and "
        "process CPU ms (both threads summed), which other jobs on the machine do not inflate:",
        "",
    ]
    for size, row in sp.items():
        names = [k[:-2] for k in row if not k.endswith("_cpu_s")]
        lines += [f"| {size} | clock | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for clock, suffix in (("wall", "_s"), ("CPU", "_cpu_s")):
            base = row["opencv_bicubic" + suffix]
            cells = " | ".join(f"{row[n + suffix] * 1000:.1f} ({row[n + suffix] / base:.1f}x)" for n in names)
            lines.append(f"| | {clock} | {cells} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
