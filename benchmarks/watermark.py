"""Invisible watermarking: imperceptibility, robustness to every attack, false positives on clean images, speed.

Ours (acutance.watermark, 64-bit payload, default strength) against imwatermark's dwtDct, dwtDctSvd (64 bits)
and rivaGan (32 bits: its model's fixed length), all through the same attacks (acutance.watermark.attacks:
real JPEG 4:2:0 and WebP codecs, area/bicubic resizes, random-offset crops, rotations, ...) on Kodak24 and
BSD100. Bit accuracy counts the payload's bits (ours: after error correction when a codeword is found,
otherwise the raw decisions); the decode rate counts images whose whole payload came back exactly. An image
a method refuses (imwatermark needs 256x256) counts as chance (0.5) and not decoded.

Also: the URL use ("natural-image QR code": a URL embedded, read back from a JPEG 85 of the photo); false
positives on >= 1,000 clean images and video frames at the shipped threshold; 1080p embed and detect time,
as ratios to imwatermark dwtDct in the same run.

imwatermark is installed for the benchmark only, without its dependencies (it pins opencv-python, which would
shadow opencv-python-headless): pip install --no-deps invisible-watermark && pip install PyWavelets.

Writes benchmarks/results/watermark.json and watermark.md; docs/watermark_gallery.png with --gallery.
Usage: python benchmarks/watermark.py [--limit N] [--methods ours,dwtDct,dwtDctSvd,rivaGan] [--skip-fp]
       [--skip-speed] [--gallery]
"""

from __future__ import annotations

import argparse
import sys
import time

import common
import numpy as np
from tqdm import tqdm

KEY = "acutance-benchmark"
PAYLOAD = bytes.fromhex("a5c3e1f00f1e3c5a")  # 64 bits
URL = "https://acu.example/p/42"
METHODS = ("ours", "dwtDct", "dwtDctSvd", "rivaGan")


def to_bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, np.uint8))


class Ours:
    bits = 64

    def embed(self, rgb):
        from acutance.watermark import embed

        return embed(rgb, PAYLOAD, KEY)

    def decode(self, rgb) -> np.ndarray | None:
        from acutance.watermark import detect
        from acutance.watermark.payload import SHORT, message_bits

        found = detect(np.ascontiguousarray(rgb, np.float32), KEY)
        if found.found:
            return to_bits(found.payload.ljust(8, b"\0")[:8])
        return (found.bits[message_bits(SHORT, 8)] > 0).astype(np.uint8)


class Imwatermark:
    """imwatermark on 8-bit BGR, as its README uses it."""

    def __init__(self, method: str):
        from imwatermark import WatermarkDecoder, WatermarkEncoder

        self.method = method
        self.bits = 32 if method == "rivaGan" else 64
        self.truth = to_bits(PAYLOAD)[: self.bits]
        if method == "rivaGan":
            WatermarkEncoder.loadModel()
        self.encoder = WatermarkEncoder()
        self.encoder.set_watermark("bits", self.truth.tolist())
        self.decoder = WatermarkDecoder("bits", self.bits)

    def embed(self, rgb):
        bgr = (np.clip(rgb[:, :, ::-1], 0, 1) * 255 + 0.5).astype(np.uint8)
        out = self.encoder.encode(np.ascontiguousarray(bgr), self.method)
        return out[:, :, ::-1].astype(np.float32) / 255

    def decode(self, rgb) -> np.ndarray | None:
        bgr = np.ascontiguousarray((np.clip(rgb[:, :, ::-1], 0, 1) * 255 + 0.5).astype(np.uint8))
        try:
            return np.asarray(self.decoder.decode(bgr, self.method), np.uint8)[: self.bits]
        except Exception:  # refuses small images; counted as chance
            return None


def make_method(name: str):
    return Ours() if name == "ours" else Imwatermark(name)


def images(data, sets, limit):
    from acutance.io import list_images, read_image

    paths = []
    for name in sets:
        folder = data / ("restore/Kodak24" if name == "Kodak24" else f"sr/{name}")
        found, _ = list_images(folder)
        paths += found[:limit] if limit else found
    return [(path, read_image(path).rgb) for path in paths]


def robustness(methods, dataset, limits: dict) -> tuple[dict, dict]:
    from acutance.metrics.registry import compute
    from acutance.watermark.attacks import ATTACKS

    table = {m: {a: {"bit_accuracy": [], "decoded": []} for a in ATTACKS} for m in methods}
    quality = {m: {"y_psnr": [], "ssim": []} for m in methods}
    made = {name: make_method(name) for name in methods}
    for index, (path, rgb) in enumerate(tqdm(dataset, desc="robustness", file=sys.stderr)):
        for name, method in made.items():
            if name in limits and index % max(1, len(dataset) // limits[name]) != 0:
                continue  # a slow peer runs on an even subset of the images
            marked = method.embed(rgb)
            quality[name]["y_psnr"].append(compute("psnr", rgb, marked, y_channel=True))
            quality[name]["ssim"].append(compute("ssim", rgb, marked, y_channel=True))
            truth = to_bits(PAYLOAD)[: method.bits]
            for attack, fn in ATTACKS.items():
                attacked = np.ascontiguousarray(fn(marked, np.random.default_rng(index)), np.float32)
                bits = method.decode(attacked) if min(attacked.shape[:2]) >= 128 or name != "ours" else None
                accuracy = 0.5 if bits is None else float(np.mean(bits == truth))
                table[name][attack]["bit_accuracy"].append(accuracy)
                table[name][attack]["decoded"].append(bool(bits is not None and accuracy == 1.0))
    summary = {
        m: {a: {k: float(np.mean(v)) for k, v in row.items()} | {"images": len(row["decoded"])} for a, row in rows.items()}
        for m, rows in table.items()
    }
    imperceptibility = {
        m: {
            "y_psnr_mean": float(np.mean(q["y_psnr"])),
            "y_psnr_min": float(np.min(q["y_psnr"])),
            "ssim_mean": float(np.mean(q["ssim"])),
            "ssim_min": float(np.min(q["ssim"])),
        }
        for m, q in quality.items()
    }
    return summary, imperceptibility


def url_use(dataset) -> dict:
    from acutance.watermark import detect, embed
    from acutance.watermark.attacks import jpeg

    ok = 0
    for _, rgb in dataset:
        found = detect(jpeg(embed(rgb, URL, KEY), 85), KEY)
        ok += found.text == URL
    return {"url": URL, "jpeg_quality": 85, "images": len(dataset), "read_back": ok}


def clean_sources(data, frames_per_clip: int = 60):
    """>= 1,000 unmarked images: training and test sets, LFW faces, frames of the shared clips."""
    from acutance.io import list_images, read_image

    folders = ["train/BSDS400", "train/T91_partial", "restore/Kodak24", "sr/BSD100", "sr/Set14", "sr/Set5",
               "restore/McMaster", "anime"]  # fmt: skip
    for folder in folders:
        found, _ = list_images(data / folder, recursive=True)
        for path in found:
            yield str(path.relative_to(data)), read_image(path).rgb
    lfw, _ = list_images(data / "faces/lfw", recursive=True)
    for path in lfw[:300]:
        yield str(path.relative_to(data)), read_image(path).rgb
    import av

    for clip in sorted((data / "video").glob("*.mp4")):
        with av.open(str(clip)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index >= frames_per_clip:
                    break
                yield f"{clip.name}#{index}", frame.to_ndarray(format="rgb24").astype(np.float32) / 255


def false_positives(data) -> dict:
    from acutance.watermark import MIN_SIZE, detect, false_positive_rate

    count, detections, outputs, worst_z, skipped = 0, [], [], 0.0, 0
    for name, rgb in tqdm(clean_sources(data), desc="clean images", file=sys.stderr):
        if min(rgb.shape[:2]) < MIN_SIZE:
            skipped += 1
            continue
        result = detect(np.ascontiguousarray(rgb, np.float32), KEY)
        count += 1
        outputs.append(float(np.abs(result.bits).mean()))
        worst_z = max(worst_z, result.reference_z)
        if result.found:
            detections.append(name)
    return {
        "images": count,
        "skipped_below_minimum": skipped,
        "detections": len(detections),
        "detected": detections[:20],
        "mean_abs_decoder_output": float(np.mean(outputs)),
        "max_abs_decoder_output_mean": float(np.max(outputs)),
        "max_reference_z": worst_z,
        "analytic_false_positive_rate": false_positive_rate(),
    }


def speed(repeats: int = 5) -> dict:
    from acutance.watermark import detect, embed

    rng = np.random.default_rng(0)
    base = np.clip(rng.normal(0.5, 0.2, (135, 240, 3)), 0, 1).astype(np.float32)
    import cv2

    frame = np.clip(cv2.resize(base, (1920, 1080), interpolation=cv2.INTER_CUBIC), 0, 1)
    frame += rng.normal(0, 0.02, frame.shape).astype(np.float32)
    frame = np.clip(frame, 0, 1)

    def timed(fn):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    marked = embed(frame, PAYLOAD, KEY)
    out = {
        "frame": "1920x1080",
        "ours_embed_s": timed(lambda: embed(frame, PAYLOAD, KEY)),
        "ours_detect_s": timed(lambda: detect(marked, KEY)),
    }
    try:
        peer = Imwatermark("dwtDct")
        peer_marked = peer.embed(frame)
        out["dwtDct_embed_s"] = timed(lambda: peer.embed(frame))
        out["dwtDct_detect_s"] = timed(lambda: peer.decode(peer_marked))
        out["embed_ratio_to_dwtDct"] = out["ours_embed_s"] / out["dwtDct_embed_s"]
        out["detect_ratio_to_dwtDct"] = out["ours_detect_s"] / out["dwtDct_detect_s"]
    except ImportError:
        out["dwtDct"] = "imwatermark not installed"
    return out


def _decode_all(path) -> tuple[list[np.ndarray], float]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        return [f.to_ndarray(format="rgb24").astype(np.float32) / 255 for f in container.decode(stream)], fps


def _encode(frames, fps, path, crf=12) -> None:
    from acutance.video.encode import write_clip

    write_clip(path, frames, fps, crf=crf)


def _ffmpeg(source, target, *args) -> None:
    import subprocess

    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(source), *args, "-an",
                    str(target)], check=True)  # fmt: skip


def video_clips(data, tmp) -> list[tuple[str, object]]:
    """The shared clips, Vid4 city as a clip, and a generated pan over a synthetic scene."""
    clips = [(p.name, p) for p in sorted((data / "video").glob("*.mp4")) if "distorted" not in p.name]
    from acutance.io import list_images, read_image

    city, _ = list_images(data / "video" / "Vid4" / "city")
    if city:
        path = tmp / "vid4_city.mp4"
        _encode([read_image(p).rgb for p in city], 12.0, path)  # Vid4 city is 34 frames; 12 fps: ~2.8 s
        clips.append(("Vid4 city", path))
    rng = np.random.default_rng(5)
    base = np.clip(rng.normal(0.5, 0.25, (60, 100, 3)), 0, 1).astype(np.float32)
    import cv2

    scene = np.clip(cv2.resize(base, (1600, 960), interpolation=cv2.INTER_CUBIC), 0, 1)
    scene = np.clip(scene + rng.normal(0, 0.03, scene.shape).astype(np.float32), 0, 1)
    pan = [np.ascontiguousarray(scene[100 + i : 820 + i, 3 * i : 3 * i + 1280]) for i in range(120)]
    path = tmp / "generated_pan.mp4"
    _encode(pan, 24.0, path)
    clips.append(("generated pan 1280x720", path))
    return clips


def video_robustness(data) -> dict:
    """Each clip marked (acutance video --model none --watermark), then re-encoded by ffmpeg's libx264 at
    CRF 23 and 28 and rescaled to 480p; the share of 2-second excerpts that read the payload back; and the
    frame-to-frame change that marking adds, next to the one a CRF 23 re-encode adds."""
    import tempfile
    from pathlib import Path

    from acutance.video import VideoOptions, enhance_video
    from acutance.video.stages import StageSpec
    from acutance.watermark import embed
    from acutance.watermark.video import detect_video

    out = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for name, path in tqdm(video_clips(data, tmp), desc="clips", file=sys.stderr):
            frames, fps = _decode_all(path)
            marked = tmp / "marked.mp4"
            options = VideoOptions(model="none", stages=(StageSpec.of("watermark", bits=PAYLOAD.hex(), key=KEY),))
            enhance_video(path, marked, options, overwrite=True, progress=False)
            row = {"frames": len(frames), "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}", "fps": round(fps, 3)}
            attacks = {"as marked (CRF 18)": None, "libx264 CRF 23": ["-c:v", "libx264", "-crf", "23"],
                       "libx264 CRF 28": ["-c:v", "libx264", "-crf", "28"],
                       "480p CRF 23": ["-vf", "scale=-2:480", "-c:v", "libx264", "-crf", "23"]}  # fmt: skip
            for attack, args in attacks.items():
                target = marked
                if args is not None:
                    target = tmp / "attacked.mp4"
                    _ffmpeg(marked, target, *args)
                try:
                    windows = detect_video(target, KEY)
                    good = sum(w.detection.payload == PAYLOAD for w in windows)
                    row[attack] = f"{good}/{len(windows)}"
                except Exception as error:  # e.g. frames below the minimum size after the rescale
                    row[attack] = f"error: {error}"
            # temporal change added by marking vs by a CRF 23 re-encode (mean absolute, 0-255 luma-ish)
            marked_frames = [embed(f, PAYLOAD, KEY) for f in frames[:48]]
            _ffmpeg(path, tmp / "recoded.mp4", "-c:v", "libx264", "-crf", "23")
            recoded, _ = _decode_all(tmp / "recoded.mp4")

            def added(others):
                diffs = [np.abs((others[i] - others[i - 1]) - (frames[i] - frames[i - 1])).mean()
                         for i in range(1, min(len(others), 48))]  # fmt: skip
                return float(255 * np.mean(diffs))

            row["temporal_change_added_by_marking"] = added(marked_frames)
            row["temporal_change_added_by_crf23"] = added(recoded)
            out[name] = row
    return out


def gallery(dataset, path) -> None:
    from acutance.io import write_image
    from acutance.watermark import embed

    rows = []
    for _, rgb in dataset[:2]:
        marked = embed(rgb, PAYLOAD, KEY)
        difference = np.clip((marked - rgb) * 20 + 0.5, 0, 1)  # amplified 20x around grey
        h, w = rgb.shape[:2]
        y0, x0 = (h - 320) // 2, (w - 320) // 2  # a central 320x320 crop at full resolution
        rows.append(np.concatenate([a[y0 : y0 + 320, x0 : x0 + 320] for a in (rgb, marked, difference)], axis=1))
    write_image(path, np.concatenate(rows, axis=0), overwrite=True)


def markdown(result: dict) -> str:
    from acutance.watermark.attacks import ATTACKS

    methods = list(result.get("robustness", {}))
    lines = ["# Invisible watermarking", "", f"Images: {result['images']} (Kodak24 + BSD100). Payload 64 bits "
             "(rivaGan: 32). Each cell: bit accuracy / decode rate.", ""]  # fmt: skip
    counts = {m: result["robustness"][m]["none"].get("images", "?") for m in methods}
    lines[-1:] = [f"Images per method: {', '.join(f'{m} {n}' for m, n in counts.items())}.", ""]
    lines += ["| attack | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for attack in ATTACKS:
        cells = []
        for m in methods:
            row = result["robustness"][m][attack]
            cells.append(f"{100 * row['bit_accuracy']:.1f}% / {100 * row['decoded']:.0f}%")
        lines.append(f"| {attack} | " + " | ".join(cells) + " |")
    lines += ["", "| imperceptibility | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for key in ("y_psnr_mean", "y_psnr_min", "ssim_mean", "ssim_min"):
        lines.append(f"| {key} | " + " | ".join(f"{result['imperceptibility'][m][key]:.4g}" for m in methods) + " |")
    if "url" in result:
        u = result["url"]
        lines += ["", f"URL use: `{u['url']}` read back from JPEG {u['jpeg_quality']} in {u['read_back']} of {u['images']} images."]
    if "false_positives" in result:
        fp = result["false_positives"]
        lines += ["", f"Clean images: {fp['detections']} detections in {fp['images']} (analytic rate "
                  f"{fp['analytic_false_positive_rate']:.2g}); mean |decoder output| {fp['mean_abs_decoder_output']:.4f}; "
                  f"largest reference z {fp['max_reference_z']:.2f}."]  # fmt: skip
    if "video" in result:
        rows = result["video"]
        columns = ["as marked (CRF 18)", "libx264 CRF 23", "libx264 CRF 28", "480p CRF 23"]
        lines += ["", "Video: 2-second excerpts whose payload is read back; the frame-to-frame change (mean absolute, "
                  "0-255) that marking adds, against the one a CRF 23 re-encode adds.", "",
                  "| clip | size | " + " | ".join(columns) + " | added by marking | added by CRF 23 |",
                  "|---|---|" + "---|" * (len(columns) + 2)]  # fmt: skip
        for name, row in rows.items():
            lines.append(f"| {name} | {row['size']} | " + " | ".join(str(row[c]) for c in columns)
                         + f" | {row['temporal_change_added_by_marking']:.3f} | {row['temporal_change_added_by_crf23']:.3f} |")  # fmt: skip
    if "speed" in result:
        sp = result["speed"]
        lines += ["", f"1080p: embed {1e3 * sp['ours_embed_s']:.0f} ms, detect {1e3 * sp['ours_detect_s']:.0f} ms"]
        if "dwtDct_embed_s" in sp:
            lines[-1] += (f" (imwatermark dwtDct: {1e3 * sp['dwtDct_embed_s']:.0f} / {1e3 * sp['dwtDct_detect_s']:.0f} ms; "
                          f"ratios {sp['embed_ratio_to_dwtDct']:.2f} / {sp['detect_ratio_to_dwtDct']:.2f}).")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="Kodak24,BSD100")
    parser.add_argument("--limit", type=int, default=0, help="images per set (0: all)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--riva-images", type=int, default=24,
        help="rivaGan runs on an even subset of this many images (its ONNX nets take ~7 s per image and attack)",
    )
    parser.add_argument("--skip-fp", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-video", action="store_true")
    parser.add_argument("--only-video", action="store_true", help="the video rows alone (merged into the results)")
    parser.add_argument("--gallery", action="store_true")
    args = parser.parse_args()
    data = common.require_shared_data()
    methods = [m for m in args.methods.split(",") if m]
    for name in methods:
        if name != "ours":
            try:
                import imwatermark  # noqa: F401
            except ImportError:
                sys.exit("imwatermark is not installed (see this script's docstring), or leave it out of --methods")
    if args.only_video:
        result = common.read_result("watermark")
        result["video"] = video_robustness(data)
        common.write_result("watermark", result)
        (common.RESULTS / "watermark.md").write_text(markdown(result), encoding="utf-8")
        print(markdown(result))
        return
    dataset = images(data, args.sets.split(","), args.limit)
    summary, imperceptibility = robustness(methods, dataset, {"rivaGan": args.riva_images})
    result = {"images": len(dataset), "payload_bits": 64, "robustness": summary, "imperceptibility": imperceptibility}
    if "ours" in methods:
        result["url"] = url_use(dataset)
    if not args.skip_fp:
        result["false_positives"] = false_positives(data)
    if not args.skip_video:
        result["video"] = video_robustness(data)
    if not args.skip_speed:
        result["speed"] = speed()
    if args.gallery:
        gallery(dataset, common.ROOT / "docs" / "watermark_gallery.png")
    common.write_result("watermark", result)
    (common.RESULTS / "watermark.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
