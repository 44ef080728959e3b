"""Video stages: table order whatever the flag order, secrets hashed in the job file, and a stage that
depends on earlier frames gives the same frames after a resume as in an uninterrupted run."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

pytest.importorskip("av")

from acutance.errors import OptionError  # noqa: E402
from acutance.video import VideoInterrupted, VideoOptions, enhance_video  # noqa: E402
from acutance.video import stages as stages_module  # noqa: E402
from acutance.video.enhance import _job_options, work_folder  # noqa: E402
from acutance.video.stages import STAGES, StageRow, StageSpec, ordered  # noqa: E402
from tests.test_video import decoded, make_clip  # noqa: E402


class RunningMean:
    """Darkens each frame by the summed brightness of every frame seen so far: wrong after a resume unless
    the pipeline shows it the finished segments' frames."""

    needs_history = True

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def observe(self, index, source) -> None:
        self.total += float(source.mean())
        self.count += 1

    def __call__(self, index, source, frame):
        self.observe(index, source)
        return np.clip(frame - 0.02 * self.total, 0, 1).astype(np.float32)


@pytest.fixture
def running_mean_stage(monkeypatch):
    module = types.ModuleType("acutance_test_stage")
    module.build = lambda params, context: RunningMean()
    monkeypatch.setitem(sys.modules, "acutance_test_stage", module)
    monkeypatch.setitem(STAGES, "running-mean", StageRow("output", "acutance_test_stage:build", "test"))
    return StageSpec.of("running-mean")


def test_stages_run_in_table_order_and_once_each():
    mark = StageSpec.of("watermark", bits="00", key="k")
    style = StageSpec.of("style", ref="r.png")
    assert ordered((mark, style)) == (style, mark)
    with pytest.raises(OptionError, match="twice"):
        ordered((mark, mark))
    with pytest.raises(OptionError, match="unknown video stage"):
        StageSpec.of("sepia")


def test_the_watermark_key_is_hashed_in_the_job_file():
    options = VideoOptions(stages=(StageSpec.of("watermark", bits="00", key="my secret"),))
    text = json.dumps(_job_options(options))
    assert "my secret" not in text and "sha256:" in text


def test_a_history_stage_resumes_to_the_same_frames(tmp_path, running_mean_stage):
    clip = tmp_path / "clip.mkv"
    make_clip(clip, n=20)
    options = VideoOptions(model="nearest", scale=2, segment_frames=6, stages=(running_mean_stage,))
    whole = enhance_video(clip, tmp_path / "whole.mkv", options, progress=False).output
    target = tmp_path / "resumed.mkv"
    with pytest.raises(VideoInterrupted):
        enhance_video(clip, target, options, progress=False, stop_after_frames=14)
    assert work_folder(target).is_dir()
    report = enhance_video(clip, target, options, progress=False)
    assert report.reused_segments == 2
    first, second = decoded(whole), decoded(target)
    assert len(first) == len(second) == 20
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_a_stage_checks_its_parameters_before_any_frame(tmp_path):
    clip = tmp_path / "clip.mkv"
    make_clip(clip, n=4)
    options = VideoOptions(model="none", stages=(StageSpec.of("watermark", bits="00", key=""),))
    with pytest.raises(OptionError, match="needs --watermark-key"):
        enhance_video(clip, tmp_path / "out.mkv", options, progress=False)
    assert not work_folder(tmp_path / "out.mkv").exists()
    assert stages_module.STAGES["watermark"].secret == ("key",)
