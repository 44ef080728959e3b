"""Video (issue 15, defect 6 and defect 2's ``video -s 1000``): the pixel shape and the stream's 'default'
flag are kept, a run that fails before any segment leaves no work folder, and a request over the resource
limits is one line before any work."""

from __future__ import annotations

from fractions import Fraction

import pytest

av = pytest.importorskip("av")

from acutance.cli.main import main  # noqa: E402
from acutance.video import VideoOptions, enhance_video  # noqa: E402
from acutance.video.enhance import work_folder  # noqa: E402
from test_video import make_clip  # noqa: E402


def _bitstream_sar(stream, container):
    """The SAR the codec's own headers (H.264 VUI) say, from a bare decoder that never saw the container."""
    decoder = av.CodecContext.create(stream.codec_context.name, "r")
    decoder.extradata = stream.codec_context.extradata
    for packet in container.demux(stream):
        if decoder.decode(packet):
            return decoder.sample_aspect_ratio
    return decoder.sample_aspect_ratio


def _video_stream_facts(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {
            "size": (stream.codec_context.width, stream.codec_context.height),
            "stream_sar": stream.sample_aspect_ratio,
            "bitstream_sar": _bitstream_sar(stream, container),
            "dar": stream.display_aspect_ratio,
            "default": bool(stream.disposition & av.stream.Disposition.default),
        }


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_sample_aspect_ratio_is_kept(tmp_path, suffix):
    source = make_clip(tmp_path / f"anamorphic{suffix}", w=640, h=360, n=3, audio=False, subs=False,
                       sar=Fraction(3, 4))  # fmt: skip
    before = _video_stream_facts(source)
    assert before["stream_sar"] == Fraction(3, 4) and before["bitstream_sar"] == Fraction(3, 4)  # really SAR 3:4
    out = enhance_video(source, tmp_path / f"out{suffix}", VideoOptions(model="nearest", scale=2),
                        progress=False).output  # fmt: skip
    after = _video_stream_facts(out)
    assert after["size"] == (1280, 720)
    assert after["stream_sar"] == Fraction(3, 4) and after["bitstream_sar"] == Fraction(3, 4)
    assert after["dar"] == Fraction(4, 3) == before["dar"]  # displays as the input does


def test_square_pixels_stay_square(tmp_path):
    source = make_clip(tmp_path / "square.mkv", n=2, audio=False, subs=False)
    out = enhance_video(source, tmp_path / "out.mkv", VideoOptions(model="nearest", scale=2), progress=False).output
    assert _video_stream_facts(out)["bitstream_sar"] in (None, Fraction(0, 1), Fraction(1, 1))


@pytest.mark.parametrize("default", [True, False])
def test_mkv_default_disposition_is_kept(tmp_path, default):
    source = make_clip(tmp_path / "in.mkv", n=2, subs=False, default=default)
    assert _video_stream_facts(source)["default"] is default
    out = enhance_video(source, tmp_path / "out.mkv", VideoOptions(model="nearest", scale=2), progress=False).output
    assert _video_stream_facts(out)["default"] is default


def test_failure_before_any_segment_leaves_no_work_folder(tmp_path):
    source = make_clip(tmp_path / "in.mkv", n=6, audio=False, subs=False)
    target = tmp_path / "out.mkv"

    class Broken:  # a model that fails on its first frame
        from acutance.models.registry import load_model

        info = load_model("nearest").info

        def __call__(self, rgb, scale):
            raise RuntimeError("model failed")

    with pytest.raises(RuntimeError, match="model failed"):
        enhance_video(source, target, VideoOptions(model="nearest", scale=2), progress=False, model=Broken())
    assert not work_folder(target).exists()
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]


def test_scale_1000_is_one_line_before_any_work(tmp_path, capsys):
    source = make_clip(tmp_path / "in.mkv", n=2, audio=False, subs=False)
    out = tmp_path / "out.mkv"
    assert main(["video", str(source), "-o", str(out), "-s", "1000"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("acutance: error:") and err.count("\n") == 1, err
    assert "1000" in err
    assert not out.exists() and not work_folder(out).exists()


def test_video_takes_the_limit_flags(tmp_path, capsys):
    source = make_clip(tmp_path / "in.mkv", n=2, audio=False, subs=False)
    out = tmp_path / "out.mkv"
    assert main(["video", str(source), "-o", str(out), "-s", "2", "--max-output-pixels", "10000"]) == 1
    err = capsys.readouterr().err
    assert "128x96" in err and "over the output limit" in err and "--max-output-pixels" in err
    assert main(["video", str(source), "-o", str(out), "-s", "2", "--max-pixels", "1000"]) == 1
    assert "64x48" in capsys.readouterr().err
    assert not out.exists() and not work_folder(out).exists()


def test_working_memory_of_a_frame_is_checked_before_any_work(tmp_path, capsys):
    source = make_clip(tmp_path / "in.mkv", n=2, audio=False, subs=False)
    out = tmp_path / "out.mkv"
    assert main(["video", str(source), "-o", str(out), "-s", "2", "--tile", "0", "--max-memory", "64K"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("acutance: error:") and err.count("\n") == 1 and "--max-memory" in err, err
    assert not out.exists() and not work_folder(out).exists()
