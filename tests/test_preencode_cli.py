"""``acutance video --pre-encode``: end to end on a tiny generated clip, and the bad inputs' one-line messages."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import smooth_test_image

pytest.importorskip("av")

from acutance.cli.main import main  # noqa: E402
from acutance.video.compare import _frames  # noqa: E402
from acutance.video.encode import write_clip  # noqa: E402


def _clip(path, frames: int):
    base = smooth_test_image(64, 96, seed=3)
    return write_clip(path, [np.roll(base, i, axis=1) for i in range(frames)], 25, crf=0, preset="veryfast")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return _clip(tmp_path_factory.mktemp("pre") / "clip.mkv", 12)


def _one_line_error(capsys, expected: str) -> str:
    err = capsys.readouterr().err.strip()
    assert expected in err, err
    assert len(err.splitlines()) == 1, err
    return err


def test_fixed_level_sharpens_and_auto_runs(clip, tmp_path, capsys):
    outputs = {}
    for level in ("0", "4", "auto"):
        out = tmp_path / f"out_{level}.mp4"
        assert main(["video", str(clip), "-o", str(out), "--model", "none", "--crf", "21", "--pre-encode", level]) == 0
        outputs[level] = list(_frames(out, None))
        assert len(outputs[level]) == 12
    capsys.readouterr()

    def detail(frames):
        return float(np.mean([np.abs(np.diff(f.mean(axis=2), axis=1)).mean() for f in frames]))

    assert detail(outputs["4"]) > detail(outputs["0"]) * 1.05


def test_unknown_codec_is_one_line(clip, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), "--pre-encode", "auto", "--codec", "mpeg2"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --codec: invalid choice: 'mpeg2'" in err


@pytest.mark.parametrize(("codec", "crf", "top"), [("h264", 60, 51), ("h265", 52, 51), ("h264", -1, 51), ("vp9", 64, 63)])
def test_crf_out_of_range_is_one_line(clip, tmp_path, capsys, codec, crf, top):
    out = tmp_path / "o.mkv"
    args = ["video", str(clip), "-o", str(out), "--model", "none", "--pre-encode", "2", "--codec", codec, "--crf", str(crf)]
    assert main(args) == 1
    _one_line_error(capsys, f"--crf for {codec} must be in 0..{top}, got {crf}")
    assert not out.exists()


def test_clip_too_short_for_scene_analysis_is_one_line(tmp_path, capsys):
    short = _clip(tmp_path / "short.mkv", 5)
    out = tmp_path / "o.mp4"
    assert main(["video", str(short), "-o", str(out), "--model", "none", "--pre-encode", "auto"]) == 1
    _one_line_error(capsys, "--pre-encode auto needs at least 8 frames for scene analysis, the clip has 5")
    assert not out.exists()
    # a fixed level needs no analysis
    assert main(["video", str(short), "-o", str(out), "--model", "none", "--pre-encode", "1"]) == 0


@pytest.mark.parametrize("value", ["9", "strong", "-1"])
def test_bad_level_is_one_line(clip, tmp_path, capsys, value):
    with pytest.raises(SystemExit) as stop:
        main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), f"--pre-encode={value}"])
    assert stop.value.code == 2
    assert "must be 'auto' or a level 0..5" in capsys.readouterr().err.strip().splitlines()[-1]
