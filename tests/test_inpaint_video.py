"""``acutance video --inpaint-mask``: the fill is steady on a still clip (no boiling inside the mask), follows
the picture when it moves, resumes to the same frames, and a mask of the wrong size fails before any frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")

from acutance.cli.main import main  # noqa: E402
from acutance.inpaint import inpaint  # noqa: E402
from acutance.inpaint.video import build_stage, stage_params  # noqa: E402
from acutance.io import write_image  # noqa: E402
from acutance.video import VideoInterrupted, VideoOptions, enhance_video  # noqa: E402
from acutance.video.encode import write_clip  # noqa: E402
from acutance.video.enhance import work_folder  # noqa: E402
from acutance.video.frames import frame_to_rgb  # noqa: E402
from acutance.video.probe import probe  # noqa: E402
from acutance.video.stages import StageContext, StageSpec  # noqa: E402
from conftest import smooth_test_image  # noqa: E402

H, W = 96, 128
BOX = (30, 54, 40, 80)  # a logo-sized hole: y0, y1, x0, x1


def _mask_file(path: Path, size=(H, W)) -> np.ndarray:
    mask = np.zeros(size, np.float32)
    y0, y1, x0, x1 = BOX
    mask[y0:y1, x0:x1] = 1.0
    write_image(path, np.repeat(mask[..., None], 3, axis=2))
    return mask > 0.5


def still_frames(n: int = 24, sigma: float = 0.03, seed: int = 0) -> list[np.ndarray]:
    """A still scene with fresh sensor noise on every frame: what makes a per-frame fill boil."""
    rng = np.random.default_rng(seed)
    scene = smooth_test_image(H, W, seed=5)
    return [np.clip(scene + rng.normal(0, sigma, scene.shape), 0, 1).astype(np.float32) for _ in range(n)]


def _rgb_frames(path: Path) -> list[np.ndarray]:
    import av

    info = probe(path)
    with av.open(str(path)) as container:
        return [frame_to_rgb(f, info.colorspace, info.color_range) for f in container.decode(container.streams.video[0])]


def flicker(frames: list[np.ndarray], where: np.ndarray) -> float:
    """Mean absolute frame-to-frame change over the pixels ``where``."""
    return float(np.mean([np.abs(b[where] - a[where]).mean() for a, b in zip(frames, frames[1:])]))


def _stage(mask_path: Path, method: str = "telea"):
    spec = StageSpec.of("inpaint", **stage_params(mask_path, method))
    return build_stage(spec.dict(), StageContext(W, H, 24.0, "none"))


def test_no_boiling_inside_the_mask_on_a_still_clip(tmp_path):
    hole = _mask_file(tmp_path / "logo.png")
    frames = still_frames()
    stage = _stage(tmp_path / "logo.png")
    steady = [stage(i, f, f) for i, f in enumerate(frames)]
    per_frame = [inpaint(f, hole, "telea") for f in frames]
    inside, outside, naive = flicker(steady, hole), flicker(steady, ~hole), flicker(per_frame, hole)
    assert all(np.array_equal(s[~hole], f[~hole]) for s, f in zip(steady, frames))  # untouched outside
    assert inside < 0.25 * outside, (inside, outside)
    assert inside < 0.5 * naive, (inside, naive)


def test_the_fill_follows_a_moving_picture(tmp_path):
    hole = _mask_file(tmp_path / "logo.png")
    scene = smooth_test_image(H, W + 60, seed=2)
    frames = [np.ascontiguousarray(scene[:, 3 * i : 3 * i + W]) for i in range(12)]  # a pan, 3 px a frame
    stage = _stage(tmp_path / "logo.png")
    for i, frame in enumerate(frames):
        # the surroundings move, so each frame's fill is its own: no ghost of the previous frames
        np.testing.assert_allclose(stage(i, frame, frame), inpaint(frame, hole, "telea"), atol=1e-6)


def test_cli_end_to_end_still_clip(tmp_path, capsys):
    hole = _mask_file(tmp_path / "logo.png")
    clip = write_clip(tmp_path / "still.mp4", still_frames(n=16, seed=1), crf=18, preset="ultrafast")
    out = tmp_path / "out.mp4"
    code = main(["video", str(clip), "-o", str(out), "--model", "none", "--inpaint-mask", str(tmp_path / "logo.png"),
                 "--inpaint-method", "telea"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    after, before = _rgb_frames(out), _rgb_frames(clip)
    assert len(after) == 16
    core = np.zeros_like(hole)
    core[BOX[0] + 2 : BOX[1] - 2, BOX[2] + 2 : BOX[3] - 2] = True  # chroma subsampling blurs the edge
    assert flicker(after, core) < 0.5 * flicker(after, ~hole)
    assert np.abs(after[5][core] - before[5][core]).mean() > 0.02  # the hole's noise is gone, not copied


def test_resume_gives_the_same_frames(tmp_path):
    _mask_file(tmp_path / "logo.png")
    clip = write_clip(tmp_path / "still.mkv", still_frames(n=14, seed=3), crf=18, preset="ultrafast")
    spec = StageSpec.of("inpaint", **stage_params(tmp_path / "logo.png", "telea"))
    options = VideoOptions(model="none", segment_frames=5, stages=(spec,))
    whole = enhance_video(clip, tmp_path / "whole.mkv", options, progress=False).output
    target = tmp_path / "resumed.mkv"
    with pytest.raises(VideoInterrupted):
        enhance_video(clip, target, options, progress=False, stop_after_frames=11)
    assert enhance_video(clip, target, options, progress=False).reused_segments == 2
    import av

    def planes(path):
        with av.open(str(path)) as container:
            return [f.to_ndarray() for f in container.decode(container.streams.video[0])]

    first, second = planes(whole), planes(target)
    assert len(first) == len(second) == 14 and all(np.array_equal(a, b) for a, b in zip(first, second))


def test_wrong_size_mask_fails_before_any_frame(tmp_path, capsys, monkeypatch):
    _mask_file(tmp_path / "small.png", size=(H // 2, W // 2))
    clip = write_clip(tmp_path / "still.mp4", still_frames(n=4), crf=18, preset="ultrafast")
    import acutance.video.enhance as driver

    def no_decoding(*args, **kwargs):
        raise AssertionError("a frame was decoded")

    monkeypatch.setattr(driver, "_decoded_frames", no_decoding)
    out = tmp_path / "out.mp4"
    code = main(["video", str(clip), "-o", str(out), "--model", "none", "--inpaint-mask", str(tmp_path / "small.png")])
    err = capsys.readouterr().err
    assert code == 1 and "64x48" in err and "128x96" in err and "--inpaint-resize-mask" in err, err
    assert not out.exists() and not work_folder(out).exists()
    code = main(["video", str(clip), "-o", str(out), "--model", "none", "--inpaint-mask", str(tmp_path / "nope.png")])
    assert code == 1 and "no such file" in capsys.readouterr().err
