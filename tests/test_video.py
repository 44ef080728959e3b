"""Video: streams and timing kept, resumable runs, 10-bit, flicker reduction, bad input, VMAF/PSNR."""

from __future__ import annotations

import fractions
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from acutance.cli.main import main  # noqa: E402
from acutance.video import VideoInterrupted, VideoOptions, VideoWriteError, enhance_video  # noqa: E402
from acutance.video.enhance import work_folder  # noqa: E402


def make_clip(
    path: Path, *, w=64, h=48, n=24, fps=24, audio=True, subs=True, pix_fmt="yuv420p", vfr=False, noise=0.0, bt709=False,
    sar=None, default=None,
):
    """A moving pattern (+ a 440 Hz sine, + two subrip cues in .mkv). ``vfr`` alternates 1/30 s and 1/20 s.
    ``sar``: a sample aspect ratio (Fraction) for the bitstream and the container; ``default``: the video
    stream's 'default' disposition (True/False; None leaves the muxer's choice)."""
    rng = np.random.default_rng(7)
    container = av.open(str(path), "w")
    video = container.add_stream("libx264", rate=fps)
    video.width, video.height, video.pix_fmt = w, h, pix_fmt
    video.codec_context.time_base = fractions.Fraction(1, 90000) if vfr else fractions.Fraction(1, fps)
    video.codec_context.options = {"crf": "12", "preset": "ultrafast"}
    if bt709:
        ctx = video.codec_context
        ctx.color_primaries = ctx.color_trc = ctx.colorspace = 1
        ctx.color_range = 1
    if sar is not None:
        video.codec_context.sample_aspect_ratio = sar
        video.sample_aspect_ratio = sar
    if default is not None:
        video.disposition = av.stream.Disposition.default if default else av.stream.Disposition(0)
    sound = container.add_stream("aac", rate=48000) if audio else None
    if sound is not None:
        sound.layout = "mono"
    mp4 = path.suffix == ".mp4"  # mp4 holds mov_text subtitles (a 2-byte length, then the text), mkv SubRip
    text = container.add_mux_stream("mov_text" if mp4 else "subrip") if subs else None
    if text is not None:
        text.time_base = fractions.Fraction(1, 1000)
    yy, xx = np.mgrid[0:h, 0:w]
    pts = 0
    for i in range(n):
        moving = 0 if noise else i
        stripes = (np.sin((xx + 2 * moving) / 5) + 1) / 2
        img = np.stack([stripes, yy / h, ((xx // 8 + yy // 8 + moving) % 2) * 0.8 + 0.1], -1)
        img = np.clip(img + rng.normal(0, noise, img.shape), 0, 1) if noise else img
        if pix_fmt.endswith("10le"):
            frame = av.VideoFrame.from_ndarray((img * 65535).astype(np.uint16), format="rgb48le")
            frame = frame.reformat(format=pix_fmt)
        else:
            frame = av.VideoFrame.from_ndarray((img * 255).astype(np.uint8), format="rgb24").reformat(format=pix_fmt)
        frame.pts, frame.time_base = pts, video.codec_context.time_base
        pts += (3000 if i % 2 else 4500) if vfr else 1
        for packet in video.encode(frame):
            container.mux(packet)
    for packet in video.encode(None):
        container.mux(packet)
    if sound is not None:
        rate, total, start = 48000, int(48000 * n / fps), 0
        while start < total:
            k = min(1024, total - start)
            samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(start, start + k) / rate)).astype(np.float32)[None]
            chunk = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = rate, start
            for packet in sound.encode(chunk):
                container.mux(packet)
            start += k
        for packet in sound.encode(None):
            container.mux(packet)
    if text is not None:
        for j, cue in enumerate([b"Hello", b"World"]):
            packet = av.Packet(len(cue).to_bytes(2, "big") + cue if mp4 else cue)
            packet.pts = packet.dts = j * 400
            packet.duration, packet.time_base, packet.stream = 300, text.time_base, text
            container.mux(packet)
    container.close()
    return path


def packets(path: Path, kind: str) -> list[tuple]:
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [(float(p.pts * p.time_base), bytes(p)) for p in container.demux(stream) if p.size]


def video_facts(path: Path) -> dict:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * f.time_base) for f in container.decode(stream)]
        return {
            "size": (stream.codec_context.width, stream.codec_context.height),
            "rate": stream.average_rate,
            "times": times,
            "pix_fmt": stream.codec_context.pix_fmt,
            "duration": container.duration / 1e6,
        }


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray() for f in container.decode(container.streams.video[0])]


@pytest.fixture(scope="module")
def clip_mkv(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mkv")


def test_cli_keeps_audio_subtitles_timing_and_scales(clip_mkv, tmp_path):
    out = tmp_path / "out.mkv"
    args = ["video", str(clip_mkv), "-o", str(out), "--model", "bicubic", "--scale", "2", "--segment-frames", "10"]
    assert main(args) == 0
    assert packets(out, "audio") == packets(clip_mkv, "audio")  # stream copy: same bytes, same times
    assert packets(out, "subtitles") == packets(clip_mkv, "subtitles")
    before, after = video_facts(clip_mkv), video_facts(out)
    assert after["size"] == (128, 96)
    assert after["rate"] == before["rate"]
    assert after["times"] == before["times"] and len(after["times"]) == 24
    assert abs(after["duration"] - before["duration"]) <= 1 / 24
    assert not work_folder(out).exists()


def test_mp4_variable_frame_rate_timestamps_kept(tmp_path):
    source = make_clip(tmp_path / "vfr.mp4", vfr=True, n=12)
    out = tmp_path / "vfr_x2.mp4"
    report = enhance_video(source, out, VideoOptions(model="nearest", scale=2, segment_frames=5), progress=False)
    assert report.frames == 12
    before, after = video_facts(source), video_facts(out)
    assert np.allclose(after["times"], before["times"], atol=1e-6)
    assert len(set(np.round(np.diff(after["times"]), 6))) == 2  # still two frame durations: VFR kept
    assert packets(out, "audio") == packets(source, "audio")
    cues = packets(source, "subtitles")  # mov_text: Hello, an empty sample filling the gap, World
    assert [data for _, data in cues if len(data) > 2] == [b"\x00\x05Hello", b"\x00\x05World"]
    assert packets(out, "subtitles") == cues


def test_ten_bit_in_gives_ten_bit_out_with_ten_bit_levels(tmp_path):
    source = make_clip(tmp_path / "ten.mkv", pix_fmt="yuv420p10le", audio=False, subs=False, n=4)
    out = tmp_path / "ten_x2.mkv"
    enhance_video(source, out, VideoOptions(model="bicubic", scale=2, crf=0), progress=False)
    assert video_facts(out)["pix_fmt"] == "yuv420p10le"
    luma = decoded(out)[0][: 96]  # yuv420p10le to_ndarray: Y rows first
    assert luma.max() > 255 and np.any(luma % 4 != 0)  # 10-bit levels, not 8-bit ones shifted


def test_frame_conversion_keeps_ten_bit_precision():
    from acutance.video.frames import frame_to_rgb, rgb_to_frame

    levels = np.linspace(0, 65535, 64 * 48 * 3).reshape(48, 64, 3).astype(np.uint16)
    frame = av.VideoFrame.from_ndarray(levels, format="rgb48le").reformat(format="yuv444p10le")
    rgb = frame_to_rgb(frame, 2, 1)
    assert rgb.dtype == np.float32 and len(np.unique(np.round(rgb * 1023))) > 256
    back = rgb_to_frame(rgb, "yuv444p10le", 2, 1)
    def planes(f):
        return np.stack([np.frombuffer(p, np.uint16).reshape(48, -1)[:, :64] for p in f.planes]).astype(int)

    assert np.abs(planes(back) - planes(frame)).max() <= 1


def test_resume_gives_the_same_frames_as_an_uninterrupted_run(clip_mkv, tmp_path):
    options = VideoOptions(model="cas-x2", segment_frames=5, temporal=0.5, crf=20)
    whole = enhance_video(clip_mkv, tmp_path / "whole.mkv", options, progress=False).output
    target = tmp_path / "resumed.mkv"
    with pytest.raises(VideoInterrupted):
        enhance_video(clip_mkv, target, options, progress=False, stop_after_frames=12)
    assert not target.exists() and work_folder(target).is_dir()
    with pytest.raises(VideoWriteError, match="other settings"):  # a different job must not mix in
        enhance_video(clip_mkv, target, VideoOptions(model="cas-x2", segment_frames=5), progress=False)
    report = enhance_video(clip_mkv, target, options, progress=False)
    assert report.reused_segments == 2 and report.enhanced_frames == 14
    first, second = decoded(whole), decoded(target)
    assert len(first) == len(second) == 24
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert packets(target, "audio") == packets(clip_mkv, "audio")
    assert not work_folder(target).exists()


def test_resume_through_the_cli_env_hook(clip_mkv, tmp_path, monkeypatch, capsys):
    out = tmp_path / "cli.mkv"
    args = ["video", str(clip_mkv), "-o", str(out), "--model", "nearest", "--scale", "2", "--segment-frames", "8"]
    monkeypatch.setenv("ACUTANCE_VIDEO_STOP_AFTER", "10")
    assert main(args) == 1 and not out.exists()
    monkeypatch.delenv("ACUTANCE_VIDEO_STOP_AFTER")
    assert main(args) == 0 and out.exists()
    assert "1 segments reused" in capsys.readouterr().out
    assert main(args) == 1  # exists now, no --overwrite
    assert "exists" in capsys.readouterr().err


def test_temporal_option_lowers_flicker_on_a_static_noisy_scene():
    from acutance.models.registry import load_model
    from acutance.pipeline import enhance
    from acutance.video.temporal import TemporalStabiliser, mean_abs_frame_difference

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:48, 0:64].astype(np.float32)
    scene = np.stack([(np.sin(xx / 6) + 1) / 2, yy / 48, ((xx // 8 + yy // 8) % 2) * 0.6 + 0.2], -1)
    frames = [np.clip(scene + rng.normal(0, 0.03, scene.shape), 0, 1).astype(np.float32) for _ in range(12)]
    model = load_model("usm")  # a sharpener: it amplifies the noise, so it adds flicker
    plain = [enhance(f, model) for f in frames]
    stabiliser = TemporalStabiliser(0.8)
    steady = [stabiliser(f, e) for f, e in zip(frames, plain)]
    inherent, before, after = (mean_abs_frame_difference(x) for x in (frames, plain, steady))
    print(f"flicker (mean |frame t - frame t-1|): input {inherent:.5f}, usm {before:.5f}, usm + temporal {after:.5f}")
    assert before > 1.2 * inherent  # the test can fail: the model must add flicker for this to mean anything
    assert after - inherent < 0.5 * (before - inherent)  # at least half of the added flicker removed
    assert np.array_equal(TemporalStabiliser(0.0)(frames[0], plain[0]), np.clip(plain[0], 0, 1))
    whole = TemporalStabiliser(0.8, mode="output")  # also calms the input's own noise
    assert mean_abs_frame_difference([whole(f, e) for f, e in zip(frames, plain)]) < 0.7 * inherent


@pytest.mark.parametrize("kind", ["text", "audio_only", "truncated", "same_as_input", "folder"])
def test_bad_input_gives_a_clear_error_and_no_output(kind, clip_mkv, tmp_path, capsys):
    out = tmp_path / "out.mkv"
    if kind == "text":
        source = tmp_path / "notes.mp4"
        source.write_text("not a video")
    elif kind == "audio_only":
        source = tmp_path / "sound.mka"
        container = av.open(str(source), "w", format="matroska")
        stream = container.add_stream("pcm_s16le", rate=8000)
        stream.layout = "mono"
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        chunk.sample_rate, chunk.pts = 8000, 0
        for packet in [*stream.encode(chunk), *stream.encode(None)]:
            container.mux(packet)
        container.close()
    elif kind == "truncated":
        whole = make_clip(tmp_path / "whole.mkv", n=48, audio=False, subs=False)
        source = tmp_path / "cut.mkv"
        source.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    elif kind == "same_as_input":
        source = tmp_path / "clip.mkv"
        source.write_bytes(clip_mkv.read_bytes())
        out = source
    else:
        source = tmp_path
    before = out.read_bytes() if out.exists() else None
    assert main(["video", str(source), "-o", str(out), "--scale", "2"]) == 1
    error = capsys.readouterr().err
    expected = {"text": "not a video", "audio_only": "no video stream", "truncated": "truncated",
                "same_as_input": "is the input", "folder": "folder"}[kind]
    assert expected in error and error.startswith("acutance: error:") and error.count("\n") == 1
    assert (out.read_bytes() if out.exists() else None) == before  # nothing written under the final name
    assert not any(p.name.startswith(".out.mkv.") and p.suffix != ".partial" for p in tmp_path.iterdir())


def test_video_compare_cli_on_generated_clips(clip_mkv, tmp_path, capsys):
    out = tmp_path / "x2.mkv"
    enhance_video(clip_mkv, out, VideoOptions(model="bicubic", scale=2), progress=False)
    csv_path, split = tmp_path / "frames.csv", tmp_path / "split.mp4"
    assert main(["video-compare", str(clip_mkv), str(clip_mkv), "--no-vmaf", "--frames", "5", "--csv", str(csv_path),
                 "--side-by-side", str(split)]) == 0
    assert "PSNR inf" in capsys.readouterr().out
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "frame,psnr,ssim" and len(lines) == 6
    assert video_facts(split)["size"] == (64, 48) and len(video_facts(split)["times"]) == 5
    # a x2 result against its source: resized back to the reference's size, then scored
    assert main(["video-compare", str(clip_mkv), str(out), "--no-vmaf", "--json", str(tmp_path / "s.json")]) == 0
    import json

    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["frames"] == 24 and 25 < summary["psnr"] < 60 and 0.8 < summary["ssim"] < 1


@pytest.mark.slow
def test_carphone_vmaf_psnr_repeatable_and_self_vmaf(shared_data):
    from acutance.video.compare import compare_videos

    ref, dist = shared_data / "video" / "carphone_pristine.mp4", shared_data / "video" / "carphone_distorted.mp4"
    if not ref.exists() or not dist.exists():
        pytest.skip("carphone clips not in ../shared/data/video")
    first = compare_videos(ref, dist, frames=30, progress=False)
    second = compare_videos(ref, dist, frames=30, progress=False)
    assert first.summary == second.summary and first.rows == second.rows
    assert 10 < first.summary["vmaf"] < 90 and 15 < first.summary["psnr"] < 40
    itself = compare_videos(ref, ref, frames=30, progress=False)
    assert itself.summary["vmaf"] >= 99 and itself.summary["psnr"] == float("inf")
    assert itself.summary["ssim"] == pytest.approx(1.0)


def test_rotation_and_colour_tags_kept(tmp_path):
    import subprocess

    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    plain = make_clip(tmp_path / "plain.mp4", n=6, subs=False, bt709=True)
    source = tmp_path / "tagged.mp4"
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-display_rotation", "90"]
    command += ["-i", str(plain), "-c", "copy", str(source)]
    subprocess.run(command, check=True)
    out = enhance_video(source, tmp_path / "out.mp4", VideoOptions(model="nearest", scale=2), progress=False).output

    def tags(path):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            frame = next(container.decode(stream))
            colour = (int(ctx.color_primaries), int(ctx.color_trc), int(ctx.colorspace), int(ctx.color_range))
            return (*colour, frame.rotation)

    assert tags(source) == (1, 1, 1, 1, 90)  # the input really carries them
    assert tags(out) == tags(source)
    assert packets(out, "audio") == packets(source, "audio")


def test_ctrl_c_mid_segment_leaves_a_resumable_state(clip_mkv, tmp_path):
    from acutance.models.registry import load_model

    nearest = load_model("nearest")

    class Interrupting:  # the model raises KeyboardInterrupt on its 9th frame, as Ctrl-C would
        info = nearest.info
        calls = 0

        def __call__(self, rgb, scale):
            Interrupting.calls += 1
            if Interrupting.calls == 9:
                raise KeyboardInterrupt
            return nearest(rgb, scale)

    options = VideoOptions(model="nearest", scale=2, segment_frames=4)
    target = tmp_path / "out.mkv"
    with pytest.raises(KeyboardInterrupt):
        enhance_video(clip_mkv, target, options, progress=False, model=Interrupting())
    assert not target.exists()
    finished = sorted(p.name for p in work_folder(target).glob("segment_*.json"))
    assert finished == ["segment_00000.json", "segment_00001.json"]
    assert not list(work_folder(target).glob("*.tmp"))  # the interrupted segment's temp file is gone
    report = enhance_video(clip_mkv, target, options, progress=False)
    assert report.reused_segments == 2 and report.frames == 24
    whole = enhance_video(clip_mkv, tmp_path / "whole.mkv", options, progress=False).output
    assert all(np.array_equal(a, b) for a, b in zip(decoded(target), decoded(whole)))


def test_subrip_into_mp4_becomes_mov_text(clip_mkv, tmp_path):
    out = enhance_video(clip_mkv, tmp_path / "x2.mp4", VideoOptions(model="nearest", scale=2), progress=False).output
    cues = [(t, data) for t, data in packets(out, "subtitles") if len(data) > 2]
    assert cues == [(0.0, b"\x00\x05Hello"), (0.4, b"\x00\x05World")]  # same times, the text as mov_text
    assert packets(out, "audio") == packets(clip_mkv, "audio")


@pytest.mark.parametrize("codec, suffix", [("h265", ".mp4"), ("vp9", ".mkv"), ("av1", ".mkv")])
def test_other_codecs_segment_and_mux(codec, suffix, tmp_path):
    from acutance.video.encode import CODECS

    if CODECS[codec][0] not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {CODECS[codec][0]}")
    source = make_clip(tmp_path / f"in{suffix}", n=7, subs=False)
    options = VideoOptions(model="nearest", scale=2, codec=codec, segment_frames=3)  # three segments
    out = enhance_video(source, tmp_path / f"out{suffix}", options, progress=False).output
    facts = video_facts(out)
    assert facts["size"] == (128, 96) and facts["times"] == video_facts(source)["times"]
    assert packets(out, "audio") == packets(source, "audio")
