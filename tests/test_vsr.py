"""Temporal SR (acutance.vsr): flow/warp parity with training, streaming, scene cuts, bad input, the video
pipeline (resume gives the same frames) and ``acutance upscale-frames``. Clips are generated here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acutance.models.registry import load_model
from acutance.vsr import flow as fl
from tests.conftest import smooth_test_image


def panned(n: int, h: int = 40, w: int = 56, speed: float = 1.5, seed: int = 0, big: int = 160) -> list[np.ndarray]:
    """``n`` frames of a smooth camera pan (sub-pixel steps) over a generated image."""
    import cv2

    still = smooth_test_image(big, big, seed)
    frames = []
    for t in range(n):
        m = np.float32([[1, 0, -10 - speed * t], [0, 1, -8 - 0.5 * speed * t]])
        frames.append(cv2.warpAffine(still, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return frames


def test_opencv_warp_and_flow_upscale_match_the_trainers_torch_ones():
    torch = pytest.importorskip("torch")
    from acutance.vsr import net

    rng = np.random.default_rng(0)
    image = rng.random((20, 24, 5)).astype(np.float32)
    flow = rng.normal(0, 2, (20, 24, 2)).astype(np.float32)
    ours = fl.warp(image, flow)
    theirs = net.warp(torch.from_numpy(image.transpose(2, 0, 1)[None]), torch.from_numpy(flow.transpose(2, 0, 1)[None]))
    assert np.abs(ours - theirs[0].numpy().transpose(1, 2, 0)).max() < 0.02  # cv2.remap: 1/32-pixel weights
    up = net.upscale_flow(torch.from_numpy(flow.transpose(2, 0, 1)[None]), 4)[0].numpy().transpose(1, 2, 0)
    assert np.abs(fl.upscale_flow(flow, 4) - up).max() < 1e-4


def test_the_stream_reproduces_the_training_recurrence(tmp_path):
    """The ONNX step + OpenCV flow/warp at run time give what the torch recurrence trained on gives."""
    torch = pytest.importorskip("torch")
    from acutance.io import write_image
    from acutance.vsr.net import Refiner
    from acutance.vsr.runtime import Stream, read
    from acutance.vsr.train import TrainConfig, _chw, _tensors, export_model, make_clips, run_clip

    write_image(tmp_path / "still.png", smooth_test_image(200, 200, 3))
    config = TrainConfig(scale=2, lr_size=32, frames=4, blocks=1, features=8, hidden=4)
    clips = make_clips(config, [tmp_path / "still.png"], 1, seed=1, log=lambda line: None)
    torch.manual_seed(0)
    refiner = Refiner(config.spec())
    with torch.no_grad():
        refiner.tail.weight.mul_(10)  # a residual far from zero, so a mismatch would show
    lr, hr, base, prev, nxt, _ = _tensors(clips, 0, scale=2)
    with torch.no_grad():
        expected = run_clip(refiner, _chw(lr)[None], _chw(base)[None], _chw(prev)[None], _chw(nxt)[None])
    meta = {"config": {"scale": 2}, "best": None, "train_seconds": 0, "data": [], "history": []}
    model = read(export_model(refiner, meta, tmp_path / "tiny.onnx"))
    stream, got = Stream(model), []
    for k, frame in enumerate(lr):
        got += stream.push(k, frame)
    got += stream.flush()
    assert [k for k, _ in got] == [0, 1, 2, 3]
    for (k, out), want in zip(got, expected):
        want = want[0].numpy().transpose(1, 2, 0)
        assert np.abs(out - base[k]).mean() > 0.01  # the refiner does change the frame
        assert np.abs(out - want).max() < 5e-3


def test_scene_cuts_are_found_and_pans_are_not():
    pan = panned(8, speed=2.5)
    other = panned(4, seed=9)
    grey = [fl.gray8(f) for f in pan + other]
    cuts = [k for k in range(1, len(grey)) if fl.is_cut(grey[k - 1], grey[k])]
    assert cuts == [8]


def test_stream_resets_at_cuts_and_size_changes_with_a_notice():
    model = load_model("vsr-x2")
    notices = []
    stream = model.stream(notice=lambda key, text: notices.append((key, text)))
    frames = panned(4) + [1 - f for f in panned(3, seed=9)] + panned(2, h=32, w=40)
    out = []
    for k, frame in enumerate(frames):
        out += stream.push(k, frame)
    out += stream.flush()
    assert [k for k, _ in out] == list(range(9))
    assert [o.shape for _, o in out] == [(80, 112, 3)] * 7 + [(64, 80, 3)] * 2
    assert [k for k, _ in notices] == [4, 7]
    assert "scene cut" in notices[0][1] and "size changed from 56x40 to 40x32" in notices[1][1]
    # after a cut the state is fresh: frame 4 is what the first frame of a clip starting there gives
    assert np.array_equal(out[4][1], _first_of(model, frames[4:6]))
    assert not np.array_equal(out[1][1], _first_of(model, frames[1:3]))  # ... and without a cut it is not


def _first_of(model, frames):
    stream = model.stream()
    stream.push(0, frames[0])
    return stream.push(1, frames[1])[0][1]


def test_one_frame_is_the_single_image_model_with_a_fresh_state():
    model = load_model("vsr-x4")
    frame = panned(1)[0]
    assert np.array_equal(model(frame, 4), _flush_one(model, frame))
    assert model(frame, 4).shape == (160, 224, 3)
    with pytest.raises(Exception, match="x4"):
        model(frame, 2)


def _flush_one(model, frame):
    stream = model.stream()
    assert stream.push(0, frame) == []
    return stream.flush()[0][1]


# --- the video pipeline ----------------------------------------------------------------------------------


def _raw_h264(path: Path, frames: list[np.ndarray]) -> bytes:
    av = pytest.importorskip("av")
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast", "crf": "10"}
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray((rgb * 255 + 0.5).astype(np.uint8), format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path.read_bytes()


def clip_of_shots(path: Path, *shots: list[np.ndarray]) -> Path:
    """An .mkv of the shots one after another (each shot may have its own frame size: the raw H.264
    streams are joined, so the decoder meets a new size mid-clip)."""
    import fractions

    av = pytest.importorskip("av")
    raw = path.with_suffix(".h264")
    raw.write_bytes(b"".join(_raw_h264(path.with_name(f"shot{i}.h264"), shot) for i, shot in enumerate(shots)))
    with av.open(str(raw)) as source, av.open(str(path), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for i, packet in enumerate(p for p in source.demux(source.streams.video[0]) if p.size):
            packet.pts = packet.dts = i
            packet.time_base, packet.stream = fractions.Fraction(1, 24), stream
            target.mux(packet)
    return path


def test_video_resume_gives_the_same_frames_as_an_uninterrupted_run(tmp_path):
    pytest.importorskip("av")
    from acutance.video import VideoInterrupted, VideoOptions, enhance_video
    from acutance.video.enhance import work_folder
    from tests.test_video import decoded, make_clip, packets

    clip = make_clip(tmp_path / "clip.mkv")  # 24 frames, audio and subtitles
    options = VideoOptions(model="vsr-x2", segment_frames=5, crf=20)  # segments shorter than the warm-up
    whole = enhance_video(clip, tmp_path / "whole.mkv", options, progress=False).output
    target = tmp_path / "resumed.mkv"
    with pytest.raises(VideoInterrupted):
        enhance_video(clip, target, options, progress=False, stop_after_frames=12)
    report = enhance_video(clip, target, options, progress=False)
    assert report.reused_segments == 2 and report.enhanced_frames == 14
    first, second = decoded(whole), decoded(target)
    assert len(first) == len(second) == 24
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert packets(target, "audio") == packets(clip, "audio")
    assert not work_folder(target).exists()


def test_segments_start_from_warm_up_frames_not_from_the_run():
    """Each segment's frames are those of a stream started WARMUP frames before it, whatever else ran."""
    from acutance.vsr.video import SegmentedStreams

    model = load_model("vsr-x2")
    frames = panned(14)
    whole = dict(_run_segments(SegmentedStreams(model, 5, set(), warmup=3), frames))
    resumed = dict(_run_segments(SegmentedStreams(model, 5, {0}, warmup=3), frames))
    assert sorted(whole) == list(range(14)) and sorted(resumed) == list(range(5, 14))
    assert all(np.array_equal(whole[i], resumed[i]) for i in resumed)
    stream = model.stream()  # segment 1 = a stream started at frame 2, its outputs from frame 5 on
    alone = [out for k, frame in enumerate(frames[2:11], 2) for out in stream.push(k, frame)]
    assert all(np.array_equal(whole[i], out) for i, out in alone if 5 <= i < 10)


def _run_segments(streams, frames):
    out = []
    for k, frame in enumerate(frames):
        if any(s not in streams.done for s in streams.segments_of(k)):
            out += streams.push(k, frame)
    return out + streams.finish()


def test_video_vfr_timestamps_kept(tmp_path):
    pytest.importorskip("av")
    from acutance.video import VideoOptions, enhance_video
    from tests.test_video import make_clip, video_facts

    source = make_clip(tmp_path / "vfr.mp4", vfr=True, n=8)
    out = enhance_video(source, tmp_path / "out.mp4", VideoOptions(model="vsr-x2", segment_frames=4), progress=False).output
    before, after = video_facts(source), video_facts(out)
    assert after["size"] == (128, 96)
    assert np.allclose(after["times"], before["times"], atol=1e-6)


def test_video_scene_cut_and_size_change_reset_the_state_with_a_notice(tmp_path, capsys):
    pytest.importorskip("av")
    from acutance.cli.main import main
    from tests.test_video import video_facts

    shots = (panned(5, h=48, w=64), [1 - f for f in panned(4, h=48, w=64, seed=9)], panned(4, h=32, w=48, seed=4))
    source = clip_of_shots(tmp_path / "shots.mkv", *shots)
    out = tmp_path / "out.mkv"
    assert main(["video", str(source), "-o", str(out), "--model", "vsr-x2", "--segment-frames", "20"]) == 0
    err = capsys.readouterr().err
    assert "frame 5: scene cut; temporal state reset" in err
    assert "frame 9: frame size changed from 64x48 to 48x32; temporal state reset" in err
    facts = video_facts(out)
    assert facts["size"] == (128, 96) and len(facts["times"]) == 13  # the pipeline's own size rule


# --- acutance upscale-frames -----------------------------------------------------------------------------


def test_upscale_frames_streams_a_folder_in_natural_order(tmp_path, capsys):
    from acutance.cli.main import main
    from acutance.io import read_image, write_image
    from acutance.metrics.sr_protocol import quantise

    frames = panned(11) + [1 - f for f in panned(1, seed=5)]
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(frames):
        write_image(folder / f"f{k + 1}.png", quantise(frame))  # f2 before f10: natural order
    out = tmp_path / "out"
    assert main(["upscale-frames", str(folder), "-o", str(out), "--model", "vsr-x2", "--no-progress"]) == 0
    assert "f12.png: scene cut; temporal state reset" in capsys.readouterr().err
    stream, expected = load_model("vsr-x2").stream(), []
    for k, frame in enumerate(frames):
        expected += stream.push(k, quantise(frame))
    expected += stream.flush()
    for k, want in expected:
        got = read_image(out / f"f{k + 1}.png").rgb
        assert np.abs(got - quantise(want.clip(0, 1))).max() < 1e-6
    assert main(["upscale-frames", str(folder), "-o", str(out), "--model", "vsr-x2"]) == 1  # no --overwrite
    assert "exists" in capsys.readouterr().err


def test_upscale_frames_one_frame_and_an_empty_folder(tmp_path, capsys):
    from acutance.cli.main import main
    from acutance.io import read_image, write_image

    (tmp_path / "one").mkdir()
    (tmp_path / "none").mkdir()
    write_image(tmp_path / "one" / "a.png", panned(1)[0])
    assert main(["upscale-frames", str(tmp_path / "one"), "-o", str(tmp_path / "o1"), "-m", "vsr-x4", "--no-progress"]) == 0
    assert read_image(tmp_path / "o1" / "a.png").rgb.shape == (160, 224, 3)
    assert main(["upscale-frames", str(tmp_path / "none"), "-o", str(tmp_path / "o2")]) == 1
    assert "no image files" in capsys.readouterr().err


def test_video_of_one_frame(tmp_path):
    pytest.importorskip("av")
    from acutance.video import VideoOptions, enhance_video
    from tests.test_video import make_clip, video_facts

    source = make_clip(tmp_path / "one.mkv", n=1, audio=False, subs=False)
    out = enhance_video(source, tmp_path / "out.mkv", VideoOptions(model="vsr-x2"), progress=False)
    assert out.frames == 1 and video_facts(out.output)["size"] == (128, 96)


def test_train_recipe_resumes_to_the_same_weights_and_exports(tmp_path):
    torch = pytest.importorskip("torch")
    from acutance.io import write_image
    from acutance.vsr.runtime import read
    from acutance.vsr.train import TrainConfig, export_model, train

    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        write_image(data / f"{i}.png", smooth_test_image(120, 120, i))
    config = TrainConfig(scale=2, features=8, blocks=1, hidden=4, clips=2, val_clips=1, val_images=1, frames=3,
                         lr_size=20, crop=12, batch=1, steps=4, val_every=2, time_limit_min=0)  # fmt: skip
    quiet = dict(log=lambda line: None)
    whole, _ = train(config, [data], run=tmp_path / "whole", **quiet)
    with pytest.raises(Exception):  # another config in the same run folder is refused
        train(TrainConfig(**{**config.__dict__, "features": 16}), [data], run=tmp_path / "whole", **quiet)
    train(config, [data], run=tmp_path / "split", stop_after=1, **quiet)
    resumed, meta = train(config, [data], run=tmp_path / "split", **quiet)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    model = read(export_model(resumed, meta, tmp_path / "mine.onnx"))
    assert model.scale == 2 and model.meta["training"]["steps"] == 4

    # A fine-tune: the exported refiner is the starting point, and the frame-to-frame term is trained and logged
    from acutance.train.loop import init_from_onnx
    from acutance.vsr.net import Refiner

    start = Refiner(config.spec())
    assert init_from_onnx(start, str(tmp_path / "mine.onnx"), "refiner.") == len(start.state_dict())
    for a, b in zip(start.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    tuned_config = TrainConfig(**{**config.__dict__, "init": str(tmp_path / "mine.onnx"), "temporal": 2.0})
    _, tuned = train(tuned_config, [data], run=tmp_path / "tuned", **quiet)
    assert tuned["best"] is None  # the last state is kept
    assert all(row["temporal"] > 0 and row["val_twe"] >= 0 for row in tuned["history"])
    with pytest.raises(Exception, match="temporal"):
        train(TrainConfig(**{**config.__dict__, "temporal": -1.0}), [data], **quiet)
