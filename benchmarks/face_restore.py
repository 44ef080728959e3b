"""Our face restorer (``face-restore``) against bicubic on the held-out LFW identities, in the same run.

Held out: the last 60 LFW identities in sorted order (never trained on; the same rule as the face-quality
model). Each image is aligned by its 5 landmarks to the 128x128 template (``acutance.faces.train.align``),
then degraded once by a fixed recipe: Gaussian blur sigma 1.5 (13x13 kernel), bicubic x4 down to 32x32,
8-bit JPEG quality 40 (OpenCV/libjpeg, 4:2:0), bicubic x4 back to 128x128 ("bicubic"). The restorer runs on
the bicubic image ("restored"). Against the clean crop: PSNR (RGB, 8-bit peak, whole crop), SSIM (RGB mean),
and identity similarity: the cosine of dlib's 128-d face descriptors of each version and the clean crop,
with the face geometry (box and 5 dlib landmarks) found once on the clean crop and reused for every version,
so only the pixels differ. The "via 512" row feeds the restorer the 32x32 input enlarged to a 512 crop, as
the face pipeline does, and compares the result shrunk back to 128.

Usage: python benchmarks/face_restore.py [--per-identity 2] [--limit N] [--restorer face-restore]
Writes benchmarks/results/face_restore.json and face_restore.md, and docs/face_restore_gallery.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import common
import cv2
import numpy as np

from acutance.faces.restorer import load_restorer
from acutance.faces.train import (
    BENCHMARK_DEGRADATION,
    HELD_OUT,
    benchmark_degrade,
    held_out_identities,
    lfw_identities,
    prepare_crops,
)
from acutance.metrics.registry import compute

GALLERY = common.ROOT / "docs" / "face_restore_gallery.png"


def identity_scorer():
    """``score(clean) -> fn(version) -> cosine`` with H5's dlib identity model; geometry from the clean crop."""
    from acutance.errors import ModelError
    from acutance.faces import identity

    def for_clean(clean: np.ndarray):
        try:
            face = identity.find_face(clean)
        except ModelError:
            face = identity.find_face(clean, face=(24, 36, 104, 116))  # the template's face region at 128
        ref = identity.embedding_from_chip(identity.face_chip(clean, face))
        return lambda version: identity.cosine_similarity(ref, identity.embedding_from_chip(identity.face_chip(version, face)))

    return for_clean


def label_tile(tile: np.ndarray, text: str) -> np.ndarray:
    u8 = np.clip(np.rint(tile * 255), 0, 255).astype(np.uint8)
    bar = np.full((22, u8.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, u8], axis=0)


def gallery(rows: list[list[np.ndarray]], path: Path) -> None:
    names = ["input 32x32 (JPEG q40)", "bicubic x4", "restored", "clean"]
    zoom = lambda im: cv2.resize(im, (256, 256), interpolation=cv2.INTER_NEAREST)  # noqa: E731
    out = []
    for row in rows:
        tiles = [label_tile(zoom(im), name) for im, name in zip(row, names)]
        out.append(np.concatenate([np.concatenate([t, np.full((t.shape[0], 4, 3), 255, np.uint8)], 1) for t in tiles], 1))
    image = np.concatenate(out, axis=0)
    from acutance.io import write_image
    from acutance.contract import to_float

    write_image(path, to_float(image), overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restorer", default="face-restore")
    parser.add_argument("--limit", type=int, default=0, help="at most this many images (0: all)")
    parser.add_argument("--per-identity", type=int, default=2, help="images per held-out identity (the first in sorted order)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/acutance-faces/lfw_aligned128.npz"))
    parser.add_argument("--gallery", type=Path, default=GALLERY)
    args = parser.parse_args()
    data = common.require_shared_data()
    lfw = data / "faces" / "lfw"
    names = lfw_identities(lfw)
    held = held_out_identities(names)
    crops = prepare_crops(lfw, args.cache, per_identity=2, per_held_out=2)  # the training's cache
    picks, seen = [], {}
    for i, name in enumerate(crops["identity"]):
        if name in held and seen.get(name, 0) < args.per_identity:
            picks.append(i)
            seen[name] = seen.get(name, 0) + 1
    if args.limit:
        picks = picks[: args.limit]
    restorer = load_restorer(args.restorer)
    scorer = identity_scorer()
    rows = {k: {"psnr": [], "ssim": [], "identity": []} for k in ("bicubic", "restored", "restored_via_512")}
    seconds, gallery_rows = [], []
    gallery_at = {picks[j] for j in np.linspace(0, len(picks) - 1, 4).astype(int)}
    for i in picks:
        clean = crops["crops"][i].astype(np.float32) / np.float32(255.0)
        small, bicubic = benchmark_degrade(clean)
        start = time.perf_counter()
        restored = restorer(bicubic)
        seconds.append(time.perf_counter() - start)
        big = np.clip(cv2.resize(small, (512, 512), interpolation=cv2.INTER_CUBIC), 0, 1)
        via512 = cv2.resize(restorer(big), (128, 128), interpolation=cv2.INTER_AREA)
        score = scorer(clean)
        for key, image in (("bicubic", bicubic), ("restored", restored), ("restored_via_512", via512)):
            rows[key]["psnr"].append(compute("psnr", clean, image))
            rows[key]["ssim"].append(compute("ssim", clean, image))
            rows[key]["identity"].append(score(image))
        if i in gallery_at:
            gallery_rows.append([cv2.resize(small, (128, 128), interpolation=cv2.INTER_NEAREST), bicubic, restored, clean])
    summary = {k: {m: float(np.mean(v)) for m, v in metrics.items()} for k, metrics in rows.items()}
    gains = {
        "psnr_db": summary["restored"]["psnr"] - summary["bicubic"]["psnr"],
        "identity": summary["restored"]["identity"] - summary["bicubic"]["identity"],
        "psnr_wins": int(np.sum(np.array(rows["restored"]["psnr"]) > np.array(rows["bicubic"]["psnr"]))),
        "identity_wins": int(np.sum(np.array(rows["restored"]["identity"]) > np.array(rows["bicubic"]["identity"]))),
    }
    meta = restorer.meta
    command = "python benchmarks/face_restore.py" + "".join(f" {a}" for a in sys.argv[1:])
    payload = {
        "command": command,
        "restorer": args.restorer,
        "model": {k: meta.get(k) for k in ("name", "arch", "hyper_parameters", "native_size")},
        "training": {k: v for k, v in meta.get("training", {}).items() if k != "history"},
        "held_out_rule": f"the last {HELD_OUT} LFW identities in sorted order",
        "held_out_identities": held,
        "images": len(picks),
        "degradation": BENCHMARK_DEGRADATION | {"size": 128, "down": "OpenCV bicubic", "up": "OpenCV bicubic"},
        "mean": summary,
        "gain_over_bicubic": gains,
        "restore_ms_per_128_crop_median": 1000 * float(np.median(seconds)),
    }
    common.write_result("face_restore", payload)
    gallery(gallery_rows, args.gallery)
    md = [
        "# Face restorer on held-out LFW identities",
        "",
        f"Command: `{command}` ({len(picks)} images, the first {args.per_identity} of each of the {HELD_OUT} "
        f"held-out identities: the last {HELD_OUT} in sorted order; list in face_restore.json).",
        "",
        "Degradation: aligned 128x128 crop, Gaussian blur sigma 1.5, bicubic x4 down, JPEG q40, bicubic x4 up.",
        "Identity: cosine of dlib 128-d descriptors against the clean crop (same face geometry for all).",
        "",
        "| | PSNR (dB) | SSIM | identity cosine |",
        "|---|---|---|---|",
    ]
    for key in rows:
        s = summary[key]
        md.append(f"| {key.replace('_', ' ')} | {s['psnr']:.2f} | {s['ssim']:.4f} | {s['identity']:.4f} |")
    md += [
        "",
        f"Restored over bicubic: {gains['psnr_db']:+.2f} dB PSNR ({gains['psnr_wins']}/{len(picks)} images better), "
        f"identity {gains['identity']:+.4f} ({gains['identity_wins']}/{len(picks)} images higher).",
        f"Restore time: {payload['restore_ms_per_128_crop_median']:.1f} ms per 128 crop (median, onnxruntime CPU).",
        "",
        f"Model: {meta.get('arch')} {json.dumps(meta.get('hyper_parameters'))}, native size {meta.get('native_size')}; "
        f"training: {payload['training'].get('steps')} steps, {payload['training'].get('seconds')} s wall.",
        "",
        f"Gallery: `docs/{args.gallery.name}` (input | bicubic | restored | clean).",
        "",
    ]
    (common.RESULTS / "face_restore.md").write_text("\n".join(md), encoding="utf-8")
    print("\n".join(md))


if __name__ == "__main__":
    main()
