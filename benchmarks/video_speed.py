"""Video enhancement speed end to end (decode + model + encode + mux), flicker reduction, and VMAF/PSNR.

1. Frames per second for 640x360 -> 1280x720 (a 640x360 crop of onepiece_demo.mp4 with its audio, 60 frames)
   with `nearest` (the pipeline's own cost: decode, colour conversion, encode, mux), `bicubic`, `raisr-x2`,
   at h264 CRF 18 with preset veryfast (the default) and medium, and bicubic with --temporal 0.5; the model
   call alone per frame and OpenCV INTER_CUBIC per frame are timed in the same run as the baseline.
2. onepiece_demo.mp4 (640x480, anime) with `anime4k-x2`, first 60 frames, end to end.
3. Flicker: a static 640x360 scene with Gaussian noise (sigma 0.03) per frame, 24 frames; mean |frame t -
   frame t-1| of the input, of the model's output, and with --temporal 0.5 / 0.8.
4. carphone_distorted.mp4 vs carphone_pristine.mp4: PSNR/SSIM (Y) and VMAF v0.6.1, all 120 frames.

Writes benchmarks/results/video_speed.json and .md. Usage: python benchmarks/video_speed.py [--frames 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import cv2
import numpy as np

import acutance
from acutance.video import VideoOptions, enhance_video
from acutance.video.compare import compare_videos, ffmpeg_exe


def _cut(source: Path, target: Path, frames: int, crop: str | None = None) -> Path:
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-frames:v", str(frames)]
    if crop:
        command += ["-vf", f"crop={crop}"]
    command += ["-c:v", "libx264", "-crf", "14", "-preset", "veryfast", "-c:a", "copy", str(target)]
    subprocess.run(command, check=True)
    return target


def _first_frame(path: Path) -> np.ndarray:
    import av

    from acutance.video.frames import frame_to_rgb

    with av.open(str(path)) as container:
        frame = next(container.decode(container.streams.video[0]))
        return frame_to_rgb(frame, 2, 1)


def _model_call_ms(name: str, rgb: np.ndarray, repeats: int = 5) -> float:
    from acutance.pipeline import enhance

    model = acutance.load_model(name)
    enhance(rgb, model, 2)
    start = time.perf_counter()
    for _ in range(repeats):
        enhance(rgb, model, 2)
    return (time.perf_counter() - start) / repeats * 1000


def _opencv_ms(rgb: np.ndarray, repeats: int = 20) -> float:
    size = (rgb.shape[1] * 2, rgb.shape[0] * 2)
    start = time.perf_counter()
    for _ in range(repeats):
        cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
    return (time.perf_counter() - start) / repeats * 1000


def _run(source: Path, folder: Path, model: str, **options) -> dict:
    target = folder / f"{model}_{options.get('preset') or 'default'}.mp4"
    try:
        report = enhance_video(source, target, VideoOptions(model=model, **options), overwrite=True, restart=True)
    except acutance.AcutanceError as error:  # e.g. a model being rebuilt by someone else
        return {"error": str(error)}
    return {"frames": report.frames, "seconds": round(report.seconds, 2), "fps": round(report.fps, 2)}


def speed(data: Path, folder: Path, frames: int) -> dict:
    clip = _cut(data / "video" / "onepiece_demo.mp4", folder / "in_640x360.mp4", frames, crop="640:360:0:60")
    rgb = _first_frame(clip)
    rows = {}
    registered = {info.name for info in acutance.list_models()}
    extra = [name for name in ("raisr-fast-x2",) if name in registered]  # a faster variant, when present
    for model in ("nearest", "bicubic", "raisr-x2", *extra):
        for preset in ("medium", "veryfast"):
            row = _run(clip, folder, model, scale=2, preset=preset)
            print(model, preset, row, file=sys.stderr)
            rows[f"{model} ({preset})"] = row | {"model": model, "preset": preset}
    row = _run(clip, folder, "bicubic", scale=2, preset="veryfast", temporal=0.5)
    rows["bicubic (veryfast) --temporal 0.5"] = row | {"model": "bicubic --temporal 0.5", "preset": "veryfast"}
    calls = {"opencv INTER_CUBIC": _opencv_ms(rgb)}
    for model in ("bicubic", "raisr-x2", *extra, "anime4k-x2"):
        try:
            calls[model] = _model_call_ms(model, rgb)
        except acutance.AcutanceError as error:
            calls[model] = str(error)
    anime = _cut(data / "video" / "onepiece_demo.mp4", folder / "onepiece_first.mp4", frames)
    anime_row = _run(anime, folder, "anime4k-x2", preset="veryfast")
    anime_row |= {"model": "anime4k-x2", "preset": "veryfast", "size": "640x480 -> 1280x960"}
    calls = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in calls.items()}
    return {"clip_640x360": rows, "model_call_ms_640x360_to_720p": calls, "onepiece_anime4k": anime_row}


def flicker(data: Path) -> dict:
    from acutance.pipeline import enhance
    from acutance.video.temporal import TemporalStabiliser, mean_abs_frame_difference

    one = Path(tempfile.mkdtemp()) / "one.mp4"
    scene = _first_frame(_cut(data / "video" / "onepiece_demo.mp4", one, 1, crop="640:360:0:60"))
    rng = np.random.default_rng(0)
    frames = [np.clip(scene + rng.normal(0, 0.03, scene.shape), 0, 1).astype(np.float32) for _ in range(24)]
    out = {"input": round(mean_abs_frame_difference(frames), 5)}
    for name in ("usm", "cas-x2", "anime4k-x2"):
        model = acutance.load_model(name)
        plain = [enhance(f, model) for f in frames]
        row = {"off": round(mean_abs_frame_difference(plain), 5)}
        for mode in ("residual", "output"):
            for alpha in (0.5, 0.8):
                stabiliser = TemporalStabiliser(alpha, mode)
                start = time.perf_counter()
                steady = [stabiliser(f, e) for f, e in zip(frames, plain)]
                row[f"{mode} {alpha}"] = round(mean_abs_frame_difference(steady), 5)
                row[f"{mode} ms per frame"] = round((time.perf_counter() - start) / len(frames) * 1000, 1)
        out[name] = row
    return out


def quality(data: Path) -> dict:
    ref, dist = data / "video" / "carphone_pristine.mp4", data / "video" / "carphone_distorted.mp4"
    first = compare_videos(ref, dist, progress=False).summary
    second = compare_videos(ref, dist, progress=False).summary
    itself = compare_videos(ref, ref, frames=30, progress=False).summary
    return {"carphone": first, "repeat_identical": first == second, "self_vmaf_30_frames": itself["vmaf"]}


def _fps(row: dict) -> str:
    return str(row["fps"]) if "fps" in row else "not run: " + row.get("error", "?").split(": ", 1)[-1]


def markdown(result: dict) -> str:
    s = result["speed"]
    lines = [
        "## Video: end-to-end speed, flicker, VMAF",
        "",
        f"640x360 -> 1280x720, {s['frames']} frames with audio, h264 CRF 18, on 2 CPU cores shared with other jobs "
        f"(load average {result['load_average']} at the start: absolute numbers are pessimistic, compare rows). "
        "Frames per second including decode, colour conversion, encode and mux; `nearest` is the pipeline's own "
        "cost. `python benchmarks/video_speed.py`.",
        "",
        "| model | x264 preset | fps | seconds | time vs nearest, same preset |",
        "|---|---|---|---|---|",
    ]
    rows = s["clip_640x360"]
    for row in rows.values():
        base = rows.get(f"nearest ({row['preset']})", {})
        ratio = round(row["seconds"] / base["seconds"], 2) if "seconds" in row and "seconds" in base else ""
        lines.append(f"| {row['model']} | {row['preset']} | {_fps(row)} | {row.get('seconds', '')} | {ratio} |")
    a = s["onepiece_anime4k"]
    name = f"anime4k-x2, onepiece_demo.mp4 {a['size']}"
    lines.append(f"| {name} | {a['preset']} | {_fps(a)} | {a.get('seconds', '')} | |")
    calls = s["model_call_ms_640x360_to_720p"]
    cv = calls["opencv INTER_CUBIC"]
    timed = [
        f"{k} {v}" + (f" ({v / cv:.1f}x)" if k != "opencv INTER_CUBIC" else "")
        for k, v in calls.items()
        if isinstance(v, float)
    ]
    lines += ["", "The model call alone, one 640x360 frame -> 1280x720, in ms (x OpenCV INTER_CUBIC in the same run): "
              + ", ".join(timed) + ".", ""]
    f = result["flicker"]
    lines += [
        "Flicker on a static 640x360 scene with Gaussian noise (sigma 0.03) per frame, 24 frames: mean |frame t - "
        f"frame t-1| in [0, 1] units (the input's own: {f['input']}); `--temporal A`, `--temporal-mode residual` "
        "(default) or `output`.",
        "",
        "| model | off | residual 0.5 | residual 0.8 | output 0.5 | output 0.8 | stabiliser ms/frame "
        "(residual, output) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in f.items():
        if name != "input":
            lines.append(
                f"| {name} | {row['off']} | {row['residual 0.5']} | {row['residual 0.8']} | {row['output 0.5']} | "
                f"{row['output 0.8']} | {row['residual ms per frame']}, {row['output ms per frame']} |"
            )
    q = result["quality"]
    c = q["carphone"]
    lines += [
        "",
        f"`acutance video-compare carphone_pristine.mp4 carphone_distorted.mp4` ({c['frames']} frames, Y): PSNR "
        f"{c['psnr']:.3f} dB, SSIM {c['ssim']:.4f}, VMAF {c['vmaf']:.3f}; scored twice, identical: "
        f"{q['repeat_identical']}; the pristine clip against itself (30 frames): VMAF {q['self_vmaf_30_frames']:.3f}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    data = common.require_shared_data()
    with tempfile.TemporaryDirectory(prefix="acutance-video-bench-") as folder:
        load = round(os.getloadavg()[0], 2)
        result = {"load_average": load, "speed": speed(data, Path(folder), args.frames) | {"frames": args.frames}}
    result["flicker"] = flicker(data)
    result["quality"] = quality(data)
    path = common.write_result("video_speed", result)
    (common.RESULTS / "video_speed.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
