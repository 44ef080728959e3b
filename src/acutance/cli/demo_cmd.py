"""``acutance demo``: the one-command tour on a bundled input; no arguments needed.
``acutance warm``: compile every numba kernel the shipped models use, once, into numba's on-disk cache.

The demo downscales a generated test chart by 4 with MATLAB bicubic, upscales it back with the registered
upscalers, and writes the results and a labelled side-by-side comparison with each one's PSNR.

numba compiles a kernel on its first call and caches the machine code next to the source (``__pycache__``,
keyed by file and argument types). Without a warm cache the first ``acutance upscale`` of a RAISR or LUT model
spends seconds compiling; ``make install``/``make demo`` run ``acutance warm``, which calls each model the way
real runs do (float32 HxWx3 through ``pipeline.enhance``, untiled and tiled), so the types compiled are the ones
later runs look up.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEMO_MODELS = ("nearest", "bicubic", "lanczos", "raisr-x{scale}")  # the learned model of the demo's scale


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="upscale a bundled test image and write a comparison", description=__doc__)
    parser.add_argument("-o", "--output", type=Path, default=Path("demo_output"), help="folder (default: demo_output)")
    parser.add_argument("--scale", type=int, default=4, choices=(2, 3, 4), help="scale factor (default: 4)")
    parser.add_argument("--overwrite", action="store_true", help="replace files from an earlier demo run")
    parser.set_defaults(func=run)

    warm = subparsers.add_parser(
        "warm",
        help="compile the numba kernels of the shipped models once, so first runs start fast",
        description=(
            "Run every shipped model that needs no extra, NIQE and the video stabiliser once on small generated "
            "images, so that numba compiles their kernels into its on-disk cache now instead of on first use. "
            "'make install' and 'make demo' run it; rerun it after editing a kernel."
        ),
    )
    warm.add_argument("-m", "--model", action="append", metavar="NAME", help="warm only this model (repeatable)")
    warm.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    warm.set_defaults(func=run_warm)


def _label(panel, text: str):
    import cv2
    import numpy as np

    out = np.rint(np.clip(panel, 0, 1) * 255).astype(np.uint8)  # OpenCV draws text on 8-bit images only
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out.astype(np.float32) / 255.0


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from acutance.errors import ImageWriteError
    from acutance.io import check_writable_output, write_image
    from acutance.metrics import psnr, ssim
    from acutance.models.registry import load_model
    from acutance.pipeline import enhance
    from acutance.resize import imresize
    from acutance.samples import test_chart

    out_dir: Path = args.output
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # e.g. -o names an existing file, or a folder under a file
        raise ImageWriteError(f"cannot create folder {out_dir}: {error.strerror or error}") from None
    scale = args.scale
    names = {"reference": "reference.png", "input": f"input_x{scale}_smaller.png", "comparison": "comparison.png"}
    models = [m.format(scale=scale) for m in DEMO_MODELS]
    names |= {m: f"{m}_x{scale}.png".replace(f"-x{scale}_x{scale}", f"_x{scale}") for m in models}
    for name in names.values():
        check_writable_output(out_dir / name, overwrite=args.overwrite)

    reference = test_chart(480)
    small = np.clip(imresize(reference, 1 / scale), 0, 1)
    small = np.rint(small * 255).astype(np.float32) / 255  # an 8-bit input, as from a file
    write_image(out_dir / names["reference"], reference, overwrite=args.overwrite)
    write_image(out_dir / names["input"], small, overwrite=args.overwrite)
    panels = [_label(imresize(small, scale, method="nearest"), f"input ({small.shape[1]}x{small.shape[0]})")]
    print(f"{'model':10s} {'Y-PSNR dB':>10s} {'SSIM':>7s}  file")
    for name in models:
        result = enhance(small, load_model(name), scale)
        write_image(out_dir / names[name], result, overwrite=args.overwrite)
        quality = psnr(reference, result, crop_border=scale, y_channel=True)
        similarity = ssim(reference, result, crop_border=scale, y_channel=True)
        print(f"{name:10s} {quality:10.2f} {similarity:7.4f}  {out_dir / names[name]}")
        panels.append(_label(result, f"{name} x{scale}: {quality:.2f} dB"))
    panels.append(_label(reference, "reference"))
    gap = np.ones((reference.shape[0], 4, 3), dtype=np.float32)
    row = [p for panel in panels for p in (panel, gap)][:-1]
    write_image(out_dir / names["comparison"], np.concatenate(row, axis=1), overwrite=args.overwrite)
    print(f"comparison: {out_dir / names['comparison']}")
    return 0


WARM_TASKS = ("upscale", "denoise", "deblock", "sharpen")


def warm_models(names: list[str] | None = None, *, report=print) -> list[tuple[str, float]]:
    """Run each named model (default: every registered model of an image task that needs no extra) on small
    images as real runs call it, untiled, then tiled; returns ``[(name, seconds)]``."""
    import time

    import numpy as np

    from acutance.models.registry import list_models, load_model
    from acutance.pipeline import enhance
    from acutance.samples import test_chart

    if names is None:
        names = [
            info.name for info in list_models()
            if info.task in WARM_TASKS and not getattr(info, "requires", ())
        ]
    rgb = np.ascontiguousarray(test_chart(96)[:64, :80], dtype=np.float32)  # not square: catches H/W mix-ups
    timings = []
    for name in names:
        start = time.perf_counter()
        model = load_model(name)
        context = max(int(getattr(model.info, "context", 8)), 1)
        enhance(rgb, model, None, tile=0)
        # a tiled run too (2x2 tiles of the smallest size the context allows): tiles are cut from the image,
        # and a kernel may see them with another layout
        tile = max(64, 2 * context)
        big = np.ascontiguousarray(test_chart(tile + 12)[:, : tile + 8], dtype=np.float32)
        enhance(big, model, None, tile=tile)
        timings.append((name, time.perf_counter() - start))
        report(f"{name:22s} {timings[-1][1]:6.2f} s")
    return timings


def warm_other_kernels(*, report=print) -> None:
    """NIQE (``metrics --niqe``, the web page), the video stabiliser's blend and the degradation model's
    shot noise (``acutance degrade``/``pairs``)."""
    import time

    import numpy as np

    from acutance.metrics.niqe import niqe
    from acutance.samples import test_chart
    from acutance.video.temporal import TemporalStabiliser

    start = time.perf_counter()
    niqe(np.ascontiguousarray(test_chart(192), dtype=np.float32))
    report(f"{'niqe':22s} {time.perf_counter() - start:6.2f} s")
    start = time.perf_counter()
    stabiliser = TemporalStabiliser(0.5)
    rgb = np.ascontiguousarray(test_chart(64), dtype=np.float32)
    enhanced = np.ascontiguousarray(np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1))
    for _ in range(2):  # the blend runs from the second frame on
        stabiliser(rgb, enhanced)
    report(f"{'video stabiliser':22s} {time.perf_counter() - start:6.2f} s")
    start = time.perf_counter()
    from acutance.degrade.noise import add_poisson_noise

    add_poisson_noise(rgb, 1.0, np.random.default_rng(0))  # acutance degrade / pairs: shot noise
    report(f"{'degradation noise':22s} {time.perf_counter() - start:6.2f} s")


def run_warm(args: argparse.Namespace) -> int:
    import time

    start = time.perf_counter()
    report = (lambda line: None) if args.quiet else print
    warm_models(args.model, report=report)
    if args.model is None:
        warm_other_kernels(report=report)
    report(f"numba kernels compiled and cached in {time.perf_counter() - start:.1f} s")
    return 0
