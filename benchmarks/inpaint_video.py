"""``acutance video --inpaint-mask`` on a still clip: does the fill boil? (issue 18, the video item)

The clip: a Kodak photo (kodim05, 480x480) held still for 32 frames with fresh sensor noise (sigma 0.02) on each,
encoded H.264 at CRF 12; the mask: a logo-sized box (64x128) and a timestamp strip (12x160). Each method runs
through ``enhance_video`` (``--model none``) twice: with the stage's temporal blend, and with it off (every
frame's fill its own: what a frame-by-frame inpainter does). Reported: the mean absolute frame-to-frame change
(8-bit levels) inside the mask's core (2 px in from its edge, where chroma subsampling does not mix in the
outside) and outside the mask, and the frames per second of the whole run (decode, fill, encode).

    .venv/bin/python benchmarks/inpaint_video.py      # writes benchmarks/results/inpaint_video.json
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from common import require_shared_data, write_result

METHODS = ("telea", "learned")


def clip_and_mask(folder: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    from acutance.io import read_image, write_image
    from acutance.video.encode import write_clip

    scene = read_image(require_shared_data() / "restore" / "Kodak24" / "kodim05.png").rgb[:480, :480]
    rng = np.random.default_rng(0)
    frames = [np.clip(scene + rng.normal(0, 0.02, scene.shape), 0, 1).astype(np.float32) for _ in range(32)]
    clip = write_clip(folder / "still.mp4", frames, crf=12, preset="veryfast")
    hole = np.zeros((480, 480), bool)
    hole[24:88, 328:456] = True  # a logo
    hole[440:452, 24:184] = True  # a burnt-in timestamp
    write_image(folder / "mask.png", np.repeat(hole[..., None].astype(np.float32), 3, axis=2))
    core = np.zeros_like(hole)
    core[26:86, 330:454] = True
    core[442:450, 26:182] = True
    return clip, folder / "mask.png", hole, core


def decoded(path: Path) -> list[np.ndarray]:
    import av

    from acutance.video.frames import frame_to_rgb
    from acutance.video.probe import probe

    info = probe(path)
    with av.open(str(path)) as container:
        return [frame_to_rgb(f, info.colorspace, info.color_range) for f in container.decode(container.streams.video[0])]


def change(frames: list[np.ndarray], where: np.ndarray) -> float:
    return 255 * float(np.mean([np.abs(b[where] - a[where]).mean() for a, b in zip(frames, frames[1:])]))


def main() -> None:
    import acutance.inpaint.video as stage
    from acutance.inpaint.video import stage_params
    from acutance.video import VideoOptions, enhance_video
    from acutance.video.stages import StageSpec

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip, mask, hole, core = clip_and_mask(folder)
        results["input"] = {"inside": round(change(decoded(clip), core), 3), "outside": round(change(decoded(clip), ~hole), 3)}
        print(f"input clip: inside {results['input']['inside']:.3f}, outside {results['input']['outside']:.3f} levels")
        still = stage.STILL
        for method in METHODS:
            for blended in (True, False):
                stage.STILL = still if blended else 1.0  # 1: every frame's own fill, no blend
                spec = StageSpec.of("inpaint", **stage_params(mask, method))
                out = folder / f"{method}_{blended}.mp4"
                report = enhance_video(clip, out, VideoOptions(model="none", stages=(spec,)), progress=False)
                frames = decoded(out)
                row = {"inside": round(change(frames, core), 3), "outside": round(change(frames, ~hole), 3),
                       "fps": round(report.fps, 2)}  # fmt: skip
                results[f"{method}{'' if blended else ' (no temporal blend)'}"] = row
                print(f"{method:8s} blend={blended!s:5s}: inside {row['inside']:.3f}, outside {row['outside']:.3f} "
                      f"levels/frame; {row['fps']:.1f} fps")  # fmt: skip
        stage.STILL = still
    write_result("inpaint_video", {"clip": "kodim05 480x480, 32 still frames, noise 0.02, H.264 CRF 12",
                                   "unit": "mean |frame - previous frame|, 8-bit levels", "results": results})  # fmt: skip


if __name__ == "__main__":
    main()
