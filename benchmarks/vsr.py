"""Temporal video SR (vsr-x4, vsr-x2) against bicubic and the single-frame models: Vid4 quality and temporal
consistency, speed, memory.

1. Quality, the standard Vid4 protocol (EDVR's and BasicVSR's test code): BI degradation (the HR frame,
   modcropped, to its MATLAB bicubic x4 LR at 8-bit levels: ``acutance.metrics.sr_protocol.make_lr``), the
   output rounded to 8 bits, PSNR/SSIM on the Y channel (MATLAB ``rgb2ycbcr``) with no border cropped
   (``crop_border = 0`` in those scripts: what the published per-clip tables use), averaged over every frame
   of a clip, then over clips. The same with ``scale`` border pixels cropped is reported beside it.
   Temporal consistency, for each method: ``tOF`` (TecoGAN's: mean |flow(out t-1 -> t) - flow(GT t-1 -> t)|,
   DIS on the Y planes, pixels) and ``tWE`` (warped error against the GT's: mean |(out_t - W out_{t-1}) -
   (GT_t - W GT_{t-1})|, W the warp by the GT's flow, Y in 0-255 levels: how far the output's change from
   frame to frame is from the true change; flicker and swimming detail raise it). Lower is steadier for
   both. Vid4 is evaluation only. Part ``quality_x2``: the same clips at BI x2 for vsr-x2 and the x2 models.
2. Speed: a generated clip (a sub-pixel pan over a test image), per frame end to end of the model (flow,
   warps, graph), against the per-frame compact net in the same run: x4 at 180x144 -> 720x576, x2 at
   640x360 -> 1280x720.
3. Held-out (part ``heldout``): the trainer's held-out synthetic clips of the training split, bicubic,
   compact-x4 and the vsr models: PSNR and tWE, where a temporal loss weight is chosen (not on Vid4).
4. Memory: peak RSS of ``acutance video`` (a subprocess) on generated clips of 100 and 1000 frames (64x48
   x4), and of a few frames at 360p and 1440p output.

Writes benchmarks/results/vsr.json and .md. Usage: python benchmarks/vsr.py [--part quality,quality_x2,heldout,speed,memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np

PUBLISHED_BICUBIC = {  # BI x4, Y, crop 0; EDVR (Wang et al. 2019) Table 1 / TDAN / BasicVSR supplementary
    "calendar": (20.39, 0.5720), "city": (25.16, 0.6028), "foliage": (23.47, 0.5666), "walk": (26.10, 0.7974),
}  # fmt: skip
SINGLE = ("bicubic", "compact-x4", "lut-x4", "raisr-x4")
SINGLE_X2 = ("bicubic", "compact-x2", "lut-x2", "raisr-x2")  # part quality_x2: the same clips at BI x2


def vid4_clips() -> list[Path]:
    root = common.require_shared_data() / "video" / "Vid4"
    return sorted(p for p in root.iterdir() if p.is_dir())


def run_method(name: str, lrs: list[np.ndarray], scale: int) -> tuple[list[np.ndarray], float]:
    """Outputs of every frame and seconds per frame."""
    import acutance
    from acutance.resize import imresize

    started = time.perf_counter()
    if name == "bicubic":  # MATLAB imresize, as the published tables
        outs = [imresize(lr, float(scale), method="bicubic") for lr in lrs]
    else:
        model = acutance.load_model(name)
        if getattr(model, "sequence", False):
            stream, done = model.stream(notice=lambda key, text: print(f"  note: frame {key}: {text}")), []
            for k, lr in enumerate(lrs):
                done += stream.push(k, lr)
            done += stream.flush()
            outs = [out for _, out in sorted(done, key=lambda item: item[0])]
        else:
            outs = [model(lr, scale) for lr in lrs]
    return outs, (time.perf_counter() - started) / len(lrs)


def quality(models: list[str], scale: int) -> dict:
    from acutance.io import read_image
    from acutance.metrics.registry import compute
    from acutance.metrics.sr_protocol import make_lr, modcrop, quantise
    from acutance.vsr import flow as fl

    table: dict = {}
    for clip in vid4_clips():
        gts = [modcrop(read_image(p).rgb, scale) for p in sorted(clip.glob("*.png"))]
        lrs = [make_lr(gt, scale) for gt in gts]
        print(f"{clip.name}: {len(gts)} frames, {gts[0].shape[1]}x{gts[0].shape[0]}")
        for name in models:
            outs, seconds = run_method(name, lrs, scale)
            outs = [quantise(np.clip(o, 0, 1)) for o in outs]
            row = {
                "psnr_y": [round(compute("psnr", g, o, y_channel=True), 3) for g, o in zip(gts, outs)],
                "ssim_y": [round(compute("ssim", g, o, y_channel=True), 4) for g, o in zip(gts, outs)],
                "psnr_y_crop": [round(compute("psnr", g, o, crop_border=scale, y_channel=True), 3) for g, o in zip(gts, outs)],
            }
            summary = {key: round(float(np.mean(v)), 4 if "ssim" in key else 3) for key, v in row.items()}
            summary |= fl.temporal_scores(gts, outs) | {"seconds_per_frame": round(seconds, 3)}
            table.setdefault(clip.name, {})[name] = summary | {"per_frame": row}
            print(f"  {name:12s} " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return table


def generated_clip(n: int, h: int, w: int, seed: int = 0) -> list[np.ndarray]:
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : 2 * h, 0 : 2 * w].astype(np.float32)
    base = np.stack([(np.sin(xx / 7) * np.cos(yy / 11) + 1) / 2, (np.sin((xx + yy) / 5) + 1) / 2,
                     ((xx // 16 + yy // 16) % 2) * 0.6 + 0.2], -1)  # fmt: skip
    base = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1).astype(np.float32)
    frames = []
    for t in range(n):
        m = np.float32([[1, 0, -w / 4 - 0.37 * t], [0, 1, -h / 4 - 0.21 * t]])
        frames.append(cv2.warpAffine(base, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return frames


def heldout(models: list[str]) -> dict:
    """Part ``heldout``: the trainer's held-out synthetic clips (``acutance train vsr``'s defaults: the first
    images of the training folders, sorted, made into clips as ``val.npz`` is), scored like Vid4 but with
    the scale border cropped, as the trainer's validation: what a temporal weight is chosen on."""
    from acutance.metrics.registry import compute
    from acutance.metrics.sr_protocol import quantise
    from acutance.train.data import find_images, held_out_split
    from acutance.vsr import flow as fl
    from acutance.vsr.train import TrainConfig, make_clips

    config = TrainConfig()
    data = common.require_shared_data() / "train"
    held, _ = held_out_split(find_images([data / "BSDS400", data / "T91_partial"], sort=True), config.val_images)
    clips = make_clips(config, held, config.val_clips, config.seed + 1, log=lambda line: None)
    table = {}
    for name in models:
        psnrs, twes = [], []
        for hr_clip, lr_clip in zip(clips["hr"], clips["lr"]):
            gts = [f.astype(np.float32) / 255 for f in hr_clip]
            outs, _ = run_method(name, [f.astype(np.float32) / 255 for f in lr_clip], config.scale)
            outs = [quantise(np.clip(o, 0, 1)) for o in outs]
            psnrs += [compute("psnr", g, o, crop_border=config.scale, y_channel=True) for g, o in zip(gts, outs)]
            twes.append(fl.temporal_scores(gts, outs)["tWE"])
        key = Path(name).stem if name.endswith(".onnx") else name  # a file given to compare: its name
        table[key] = {"psnr_y_crop": round(float(np.mean(psnrs)), 3), "tWE": round(float(np.mean(twes)), 4)}
        print(f"  {key:12s} {table[key]}")
    return table


def speed(frames: int) -> dict:
    result = {}
    for name, base, (w, h), scale in (("vsr-x4", "compact-x4", (180, 144), 4), ("vsr-x2", "compact-x2", (640, 360), 2)):
        clip = generated_clip(frames, h, w)
        _, vsr = run_method(name, clip, scale)
        _, single = run_method(base, clip, scale)
        result[name] = {"input": f"{w}x{h}", "output": f"{w * scale}x{h * scale}", "frames": frames,
                        "seconds_per_frame": round(vsr, 3), "fps": round(1 / vsr, 2),
                        f"{base}_seconds_per_frame": round(single, 3), "ratio_to_single_frame": round(vsr / single, 2)}  # fmt: skip
        print(name, result[name])
    return result


_RSS = """
import sys
from acutance.video import VideoOptions, enhance_video
enhance_video(sys.argv[1], sys.argv[2], VideoOptions(model=sys.argv[3], segment_frames=120), progress=False)
# VmHWM: this process's own peak (ru_maxrss would also count the parent's RSS at the fork)
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def _write_clip(path: Path, frames: list[np.ndarray]) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt, stream.codec_context.options = "yuv420p", {"preset": "ultrafast", "crf": "14"}
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray((rgb * 255 + 0.5).astype(np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def memory() -> dict:
    result = {}
    cases = [("frames_100", "vsr-x4", 100, 48, 64), ("frames_1000", "vsr-x4", 1000, 48, 64),
             ("out_360p", "vsr-x4", 6, 90, 160), ("out_1440p", "vsr-x4", 3, 360, 640),
             ("out_1440p_x2", "vsr-x2", 3, 720, 1280)]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for key, model, n, h, w in cases:
            source = _write_clip(Path(folder) / f"{key}.mkv", generated_clip(n, h, w))
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _RSS, str(source), str(Path(folder) / f"{key}_out.mkv"), model],
                                 capture_output=True, text=True, check=True, cwd=common.ROOT)  # fmt: skip
            rss_mb = int(out.stdout.strip().splitlines()[-1]) / 1024
            result[key] = {"model": model, "frames": n, "input": f"{w}x{h}", "peak_rss_mb": round(rss_mb, 1),
                           "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
            print(key, result[key])
    a, b = result["frames_100"]["peak_rss_mb"], result["frames_1000"]["peak_rss_mb"]
    result["rss_change_100_to_1000"] = round(b / a - 1, 4)
    return result


def markdown(payload: dict) -> str:
    lines = ["# Temporal video SR (benchmarks/vsr.py)", ""]
    for key, scale in (("quality", 4), ("quality_x2", 2)):
        for clip, rows in payload.get(key, {}).items():
            published = PUBLISHED_BICUBIC.get(clip) if scale == 4 else None
            lines += [f"## Vid4 {clip} (BI x4, Y; published bicubic {published[0]}/{published[1]} per EDVR/TDAN/BasicVSR)"
                      if published else f"## Vid4 {clip} (BI x{scale}, Y)", "",
                      f"| method | Y-PSNR | Y-SSIM | Y-PSNR (crop {scale}) | tOF | tWE | s/frame |",
                      "|---|---|---|---|---|---|---|"]  # fmt: skip
            for name, row in rows.items():
                lines.append(f"| {name} | {row['psnr_y']} | {row['ssim_y']} | {row['psnr_y_crop']} | {row['tOF']} | "
                             f"{row['tWE']} | {row['seconds_per_frame']} |")  # fmt: skip
            lines.append("")
    if "heldout" in payload:
        lines += ["## Held-out synthetic clips of the training split (x4, Y, crop 4): what the temporal weight is "
                  "chosen on", "", "| method | Y-PSNR | tWE |", "|---|---|---|"]  # fmt: skip
        lines += [f"| {name} | {row['psnr_y_crop']} | {row['tWE']} |" for name, row in payload["heldout"].items()]
        lines.append("")
    if "speed" in payload:
        lines += ["## Speed (generated clip, this machine)", "", "```", json.dumps(payload["speed"], indent=1), "```", ""]
    if "memory" in payload:
        lines += ["## Peak RSS of acutance video", "", "```", json.dumps(payload["memory"], indent=1), "```", ""]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="quality,quality_x2,heldout,speed,memory")
    parser.add_argument("--models", default=",".join(SINGLE + ("vsr-x4",)))
    parser.add_argument("--frames", type=int, default=12, help="frames of the speed clip")
    parser.add_argument("--merge", action="store_true", help="keep the other models' and parts' rows of vsr.json")
    args = parser.parse_args()
    parts = args.part.split(",")
    payload: dict = {"protocol": "Vid4 BI x4, Y (rgb2ycbcr), crop 0 (EDVR/BasicVSR test code); crop-4 column too",
                     "published_bicubic": PUBLISHED_BICUBIC}  # fmt: skip
    fresh: dict = {}
    if "quality" in parts:
        fresh["quality"] = quality(args.models.split(","), 4)
    if "quality_x2" in parts:
        fresh["quality_x2"] = quality(list(SINGLE_X2) + ["vsr-x2"], 2)
    if "heldout" in parts:
        fresh["heldout"] = heldout(["bicubic", "compact-x4"] + [m for m in args.models.split(",") if "vsr" in m])
    if "speed" in parts:
        fresh["speed"] = speed(args.frames)
    if "memory" in parts:
        fresh["memory"] = memory()
    previous = common.RESULTS / "vsr.json"
    if args.merge and previous.is_file():  # read now, not at the start: other runs may have written since
        payload |= {k: v for k, v in json.loads(previous.read_text()).items() if k != "machine"}
    for key in ("quality", "quality_x2"):
        for clip, rows in fresh.pop(key, {}).items():
            payload.setdefault(key, {}).setdefault(clip, {}).update(rows)
    payload |= fresh
    path = common.write_result("vsr", payload)
    path.with_suffix(".md").write_text(markdown(payload), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
