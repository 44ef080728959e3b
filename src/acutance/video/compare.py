"""Compare a distorted clip with its reference: per-frame PSNR/SSIM (acutance.metrics) and VMAF (libvmaf).

VMAF runs in the ffmpeg binary of ``imageio-ffmpeg`` (built with libvmaf and its built-in models). Frames are
paired in order; a distorted clip of another size is resized to the reference's (bicubic) first, as VMAF's
own tools do. PSNR/SSIM are on BT.601 Y (MATLAB ``rgb2ycbcr``), the video convention, unless ``y_channel``
is False.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from acutance.metrics import psnr, ssim
from acutance.video.errors import VideoReadError, VideoWriteError
from acutance.video.probe import main_video_stream, open_input, probe

VMAF_MODEL = "version=vmaf_v0.6.1"
VMAF_NEG_MODEL = "version=vmaf_v0.6.1neg"  # "no enhancement gain": sharpening earns no credit


@dataclass
class CompareResult:
    rows: list[dict] = field(default_factory=list)  # one per frame: frame, psnr, ssim, vmaf
    summary: dict = field(default_factory=dict)


def _frames(path: Path, limit: int | None):
    from acutance.video.frames import frame_to_rgb

    info = probe(path)
    container = open_input(path)
    try:
        stream = main_video_stream(container)
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if limit is not None and index >= limit:
                break
            yield frame_to_rgb(frame, info.colorspace, info.color_range)
    finally:
        container.close()


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as error:
        raise VideoReadError(f"VMAF needs imageio-ffmpeg (pip install imageio-ffmpeg): {error}") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def vmaf(ref: Path, dist: Path, *, frames: int | None = None, threads: int = 2,
         model: str = VMAF_MODEL) -> tuple[float, list[float]]:  # fmt: skip
    """(mean VMAF, per-frame VMAF) of ``dist`` against ``ref`` with libvmaf's built-in v0.6.1 model (or
    ``model``, e.g. :data:`VMAF_NEG_MODEL`)."""
    info = probe(ref)
    with tempfile.TemporaryDirectory(prefix="acutance-vmaf-") as folder:
        log = Path(folder) / "vmaf.json"
        # Both inputs are trimmed in the graph (not with -frames:v, which stops the output while libvmaf may
        # still hold a frame: the pooled mean then varies from run to run).
        trim = f"trim=end_frame={frames}," if frames else ""
        graph = (
            f"[0:v]{trim}setpts=PTS-STARTPTS,scale={info.width}:{info.height}:flags=bicubic,format=yuv420p[d];"
            f"[1:v]{trim}setpts=PTS-STARTPTS,format=yuv420p[r];"
            f"[d][r]libvmaf=model={model}:n_threads={threads}:log_fmt=json:log_path={log.as_posix()}"
        )
        command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(dist), "-i", str(ref)]
        command += ["-lavfi", graph]
        command += ["-f", "null", "-"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not log.exists():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise VideoReadError(f"VMAF failed on {dist} vs {ref}: {last}")
        data = json.loads(log.read_text())
    per_frame = [float(f["metrics"]["vmaf"]) for f in data["frames"]]
    if frames and len(per_frame) != frames:
        raise VideoReadError(f"VMAF scored {len(per_frame)} frames of {dist}, expected {frames}")
    return float(data["pooled_metrics"]["vmaf"]["mean"]), per_frame


def compare_videos(
    ref: str | os.PathLike,
    dist: str | os.PathLike,
    *,
    frames: int | None = None,
    use_vmaf: bool = True,
    y_channel: bool = True,
    progress: bool = True,
) -> CompareResult:
    """Per-frame PSNR/SSIM (and VMAF) of ``dist`` against ``ref``, plus means."""
    from tqdm import tqdm

    ref, dist = Path(ref), Path(dist)
    ref_info, dist_info = probe(ref), probe(dist)
    size = (ref_info.width, ref_info.height)
    rows: list[dict] = []
    total = min(filter(None, (ref_info.estimated_frames(), dist_info.estimated_frames(), frames)), default=None)
    bar = tqdm(total=total, unit="frame", desc="psnr/ssim", disable=None if progress else True, file=sys.stderr)
    for index, (a, b) in enumerate(zip(_frames(ref, frames), _frames(dist, frames))):
        if b.shape[:2] != a.shape[:2]:
            b = np.clip(cv2.resize(b, size, interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
        rows.append({"frame": index, "psnr": psnr(a, b, y_channel=y_channel), "ssim": ssim(a, b, y_channel=y_channel)})
        bar.update(1)
    bar.close()
    if not rows:
        raise VideoReadError(f"no frames to compare in {ref} and {dist}")
    summary: dict = {"frames": len(rows), "channel": "Y" if y_channel else "RGB"}
    finite = [r["psnr"] for r in rows if math.isfinite(r["psnr"])]
    summary["psnr"] = float(np.mean(finite)) if finite else math.inf
    summary["ssim"] = float(np.mean([r["ssim"] for r in rows]))
    if use_vmaf:
        mean, per_frame = vmaf(ref, dist, frames=len(rows))
        for row, score in zip(rows, per_frame):
            row["vmaf"] = score
        summary["vmaf"] = mean
        summary["vmaf_model"] = VMAF_MODEL
    ref_n, dist_n = ref_info.estimated_frames(), dist_info.estimated_frames()
    if frames is None and ref_n and dist_n and ref_n != dist_n:
        summary["warning"] = f"frame counts differ ({ref_n} vs {dist_n}); compared the first {len(rows)}"
    return CompareResult(rows, summary)


def write_csv(rows: list[dict], path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    from acutance.io import atomic_write_bytes

    columns = list(rows[0]) if rows else ["frame"]
    import io

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    return atomic_write_bytes(path, text.getvalue().encode(), overwrite=overwrite)


def side_by_side(
    ref: str | os.PathLike, dist: str | os.PathLike, target: str | os.PathLike, *, frames: int | None = None,
    overwrite: bool = False, crf: int = 18,
) -> Path:
    """A split-screen preview: left half from ``ref``, right half from ``dist`` (resized to ref), a line between."""
    import av

    from acutance.video.enhance import check_paths
    from acutance.video.frames import rgb_to_frame
    from acutance.video.mux import _move_into_place, container_format

    ref, dist, target = Path(ref), Path(dist), Path(target)
    check_paths(ref, target, overwrite=overwrite)
    if _same(dist, target):
        raise VideoWriteError(f"output {target} is an input; choose another name")
    info = probe(ref)
    width, height = info.width - info.width % 2, info.height - info.height % 2
    temp = target.with_name(f".{target.stem}.sbs.tmp{target.suffix}")
    try:
        with av.open(str(temp), "w", format=container_format(target)) as out:
            stream = out.add_stream("libx264", rate=info.rate or 25)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.options = {"crf": str(crf), "preset": "veryfast"}
            for index, (a, b) in enumerate(zip(_frames(ref, frames), _frames(dist, frames))):
                if b.shape[:2] != a.shape[:2]:
                    b = np.clip(cv2.resize(b, (info.width, info.height), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
                half = info.width // 2
                frame = np.concatenate([a[:, :half], b[:, half:]], axis=1)[:height, :width].copy()
                frame[:, max(half - 1, 0) : half + 1] = 1.0
                video = rgb_to_frame(frame, "yuv420p", info.colorspace, info.color_range)
                video.pts = index
                for packet in stream.encode(video):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        _move_into_place(temp, target, overwrite=overwrite)
    finally:
        temp.unlink(missing_ok=True)
    return target


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
