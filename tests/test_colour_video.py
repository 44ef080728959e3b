"""The video ``style`` stage: one mapping per shot, no flicker on a static camera, resume-exact, cuts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from acutance.grading import dncm
from acutance.grading.video import SETTLE, StyleStage, added_change, build_stage, stage_params
from acutance.errors import OptionError
from acutance.video.stages import StageContext

warnings.simplefilter("ignore")  # colour-science's notice about its optional plotting dependency
pytest.importorskip("colour")


def scene(seed: int, h: int = 72, w: int = 96) -> np.ndarray:
    """A smooth colourful background (low-frequency noise, upsampled)."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.random((6, 8, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)


def static_clip(frames: int = 20, seed: int = 0) -> list[np.ndarray]:
    """A static camera: a fixed background, sensor noise, and a saturated object crossing the frame."""
    rng = np.random.default_rng(seed + 100)
    background = scene(seed)
    clip = []
    for t in range(frames):
        frame = background.copy()
        x = 4 + 3 * t
        frame[16:60, x : x + 36] = (0.95, 0.15, 0.1)  # fills a growing then shrinking share of the histogram
        clip.append(np.clip(frame + rng.normal(0, 0.004, frame.shape), 0, 1).astype(np.float32))
    return clip


def reference() -> np.ndarray:
    ref = scene(7)
    return np.clip(0.1 + 0.8 * ref * np.array([1.1, 0.95, 0.7], dtype=np.float32), 0, 1).astype(np.float32)


def new_stage() -> StyleStage:
    encoder = dncm.load_encoder()
    return StyleStage(encoder, encoder.tables(reference())[1], 1.0)


def run(stage, clip, start: int = 0):
    return [stage(i, frame, frame) for i, frame in enumerate(clip) if i >= start]


def test_static_camera_adds_under_half_a_delta_e_and_per_frame_mapping_would_not():
    clip = static_clip()
    ours = run(new_stage(), clip)
    added = added_change(clip, ours)
    assert added < 0.5, added
    # The same look recomputed on every frame follows the moving object: the background flickers.
    ref = reference()
    per_frame = [dncm.style_transfer(frame, ref) for frame in clip]
    assert added_change(clip, per_frame) > added
    # and the styling does change the colours (the test would pass trivially on an identity)
    assert float(np.abs(ours[0] - clip[0]).mean()) > 0.01


def test_mapping_holds_after_the_shot_settles():
    stage, clip = new_stage(), static_clip(SETTLE + 6)
    run(stage, clip[:SETTLE])
    held = stage.mapping
    run(stage, clip[SETTLE:])
    assert stage.mapping is held and stage.shots == [0]


def test_resumed_run_makes_the_same_frames():
    clip = static_clip(16)
    whole = run(new_stage(), clip)
    resumed = new_stage()
    for i in range(5):  # the finished segment's frames, as acutance.video replays them
        resumed.observe(i, clip[i])
    tail = run(resumed, clip, start=5)
    for a, b in zip(whole[5:], tail):
        np.testing.assert_array_equal(a, b)


def test_a_cut_starts_a_new_mapping():
    first, second = static_clip(12, seed=0), static_clip(12, seed=3)
    second = [np.ascontiguousarray(1 - f) for f in second]  # another scene entirely
    stage = new_stage()
    run(stage, first + second)
    assert stage.shots == [0, 12]


def test_stage_params_and_build(tmp_path):
    from acutance.io import write_image

    ref, grey = tmp_path / "ref.png", tmp_path / "grey.png"
    write_image(ref, reference())
    write_image(grey, np.repeat(scene(1)[..., :1], 3, axis=2))
    params = stage_params(ref, 0.5)
    assert params["strength"] == 0.5 and len(params["sha256"]) == 64
    stage = build_stage(params, StageContext(96, 72, 24.0, "none"))
    frame = static_clip(1)[0]
    out = stage(0, frame, frame)
    assert out.shape == frame.shape and out.dtype == np.float32
    with pytest.raises(OptionError, match="grayscale"):
        build_stage(stage_params(grey), StageContext(96, 72, 24.0, "none"))
    with pytest.raises(OptionError, match="no such file"):
        stage_params(tmp_path / "missing.png")
    with pytest.raises(OptionError, match="strength"):
        stage_params(ref, 1.5)


def test_cli_end_to_end_and_resume(tmp_path, capsys):
    """``acutance video --style`` on an encoded static clip; an interrupted run resumes to the same frames."""
    import av

    from acutance.cli.main import main
    from acutance.io import write_image
    from acutance.video import VideoOptions, enhance_video
    from acutance.video.encode import write_clip
    from acutance.video.enhance import VideoInterrupted
    from acutance.video.stages import StageSpec

    clip = write_clip(tmp_path / "still.mkv", static_clip(14), crf=18, preset="ultrafast")
    ref = write_image(tmp_path / "ref.png", reference())
    out = tmp_path / "out.mkv"
    code = main(["video", str(clip), "-o", str(out), "--model", "none", "--style", str(ref), "--style-strength", "0.8"])
    assert code == 0, capsys.readouterr().err

    def planes(path):
        with av.open(str(path)) as container:
            return [f.to_ndarray() for f in container.decode(container.streams.video[0])]

    styled, source = planes(out), planes(clip)
    assert len(styled) == 14 and np.abs(styled[3].astype(int) - source[3]).mean() > 1
    options = VideoOptions(model="none", segment_frames=5, stages=(StageSpec.of("style", **stage_params(ref, 0.8)),))
    target = tmp_path / "resumed.mkv"
    with pytest.raises(VideoInterrupted):
        enhance_video(clip, target, options, progress=False, stop_after_frames=7)
    assert enhance_video(clip, target, options, progress=False).reused_segments == 1
    whole = enhance_video(clip, tmp_path / "whole.mkv", options, progress=False).output  # same segments
    first, second = planes(whole), planes(target)
    assert len(first) == len(second) == 14 and all(np.array_equal(a, b) for a, b in zip(first, second))
    assert main(["video", str(clip), "-o", str(tmp_path / "x.mkv"), "--model", "none", "--style",
                 str(tmp_path / "missing.png")]) != 0  # fmt: skip
    assert "no such file" in capsys.readouterr().err
