"""Fit the shipped NIQE pristine model (src/acutance/weights/niqe-pristine.npz) on pristine natural images.

    nice -n 10 .venv/bin/python benchmarks/fit_niqe.py --overwrite                # the shipped model (BSDS400)
    .venv/bin/python benchmarks/fit_niqe.py --data DIR [DIR ...] -o my-niqe.npz   # your own images

Deterministic: the same files give the same mean and covariance (the meta holds no time stamp). See docs/niqe.md for why BSDS400.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

from common import ROOT, SHARED_DATA  # also puts src/ on sys.path

DEFAULT_OUTPUT = ROOT / "src" / "acutance" / "weights" / "niqe-pristine.npz"
DEFAULT_DATA = ("train/BSDS400",)
DATA_NOTES = {
    "train/BSDS400": "BSDS500 train + test images (400 natural photographs, 481x321, JPEG quality about 94 "
    "estimated from the quantisation tables)",
    "train/T91_partial": "53 of the T91 images (PNG, about 300x210: 6 patches each)",
}


def main() -> None:
    from acutance.io import list_images
    from acutance.metrics.niqe import save_model
    from acutance.metrics.niqe_fit import SHARPNESS_THRESHOLD, fit_pristine

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=None, help="image folders (default ../shared/data/train/BSDS400)")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--sharpness-threshold", type=float, default=SHARPNESS_THRESHOLD)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()

    folders = [Path(d) for d in args.data] if args.data else [SHARED_DATA / d for d in DEFAULT_DATA]
    paths = []
    for folder in folders:
        images, _ = list_images(folder)
        paths += images
    names = "\n".join(f"{p.parent.name}/{p.name}" for p in paths)
    labels = [_label(folder) for folder in folders]
    meta = {
        "description": "NIQE pristine model: mean and covariance of the 36 patch features (Mittal et al. 2013)",
        "fitted_on": labels,
        "data_notes": [DATA_NOTES.get(label, label) for label in labels],
        "files_sha256": hashlib.sha256(names.encode()).hexdigest(),  # of the sorted list of file names
        "colour": "MATLAB rgb2gray of the 8-bit image, rounded, 0-255",
        "script": "benchmarks/fit_niqe.py",
    }
    start = time.perf_counter()
    model = fit_pristine(paths, sharpness_threshold=args.sharpness_threshold, meta=meta)
    seconds = time.perf_counter() - start
    save_model(model, args.output, overwrite=args.overwrite)
    print(f"{args.output}: {model.meta['images']} images, {model.meta['patches_kept']} patches kept, {seconds:.1f} s")


def _label(folder: Path) -> str:
    try:
        return folder.resolve().relative_to(SHARED_DATA.resolve()).as_posix()
    except ValueError:
        return folder.name


if __name__ == "__main__":
    main()
