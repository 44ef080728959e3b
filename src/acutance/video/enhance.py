"""Enhance a video with any registered model: decode, enhance frame by frame, encode in resumable segments.

Work happens in a hidden folder next to the output (``.OUT.partial/``): a ``job.json`` naming everything that
determines the result, and one packet file per finished segment. Rerunning the same command skips finished
segments (their frames are decoded but not enhanced) and continues; the output appears, atomically, only once
every segment exists. See :mod:`acutance.video.encode` for why segments keep the result frame-exact.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from acutance import limits
from acutance.errors import ImageWriteError, OptionError
from acutance.io import check_writable_output
from acutance.video.encode import CODECS, EncoderSettings, SegmentWriter, check_codec, segment_name, write_json_atomic
from acutance.video.errors import VideoInterrupted, VideoReadError, VideoWriteError
from acutance.video.mux import container_format, mux
from acutance.video.probe import VideoInfo, main_video_stream, open_input, probe
from acutance.video.stages import StageContext, StageSpec, build, job_entry, ordered

NO_MODEL = "none"  # --model none: frames are only re-encoded (with a watermark, say)
STOP_ENV = "ACUTANCE_VIDEO_STOP_AFTER"  # test hook: stop after this many enhanced frames, as a crash would
JOB_VERSION = 2  # 2: stages replace the watermark fields


@dataclass(frozen=True)
class VideoOptions:
    """What ``acutance video`` does; everything here is part of the job identity (except progress)."""

    model: str = "bicubic"
    scale: float | None = None
    codec: str = "h264"
    crf: int | None = None  # None: the codec's default (h264 18, h265 22, vp9 32, av1 32)
    preset: str | None = None  # None: the codec's default
    pix_fmt: str | None = None  # None: yuv420p10le for a >8-bit input, else yuv420p
    temporal: float = 0.0  # 0..1 strength of the flicker reduction (0 = off)
    temporal_mode: str = "residual"  # blend what the model adds ("residual") or the whole output ("output")
    tile: int | None = None  # tile size in input pixels; None: the model's advice
    segment_frames: int = 120
    # Per-frame stages around the model (inpaint, style, antialias, pre-encode, watermark): see
    # acutance.video.stages. They run in that table's order; secrets are stored hashed in the job file.
    stages: tuple[StageSpec, ...] = ()

    def validate(self) -> None:
        check_codec(self.codec, self.crf, self.pix_fmt)
        if not 0.0 <= self.temporal <= 1.0:
            raise OptionError(f"--temporal must be in 0..1, got {self.temporal}")
        if self.temporal_mode not in ("residual", "output"):
            raise OptionError(f"--temporal-mode must be residual or output, got {self.temporal_mode!r}")
        if self.segment_frames < 1:
            raise OptionError(f"--segment-frames must be >= 1, got {self.segment_frames}")
        if self.tile is not None and self.tile < 0:
            raise OptionError(f"--tile must be >= 0, got {self.tile}")
        ordered(self.stages)  # known names, one of each


@dataclass(frozen=True)
class VideoReport:
    output: Path
    frames: int
    enhanced_frames: int  # in this run (fewer than ``frames`` when resuming)
    reused_segments: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.enhanced_frames / self.seconds if self.seconds > 0 else 0.0


def work_folder(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_paths(source: Path, target: Path, *, overwrite: bool) -> None:
    """Fail before any work: output equal to the input, existing output, unwritable folder, bad extension."""
    if _same_file(source, target):
        raise VideoWriteError(f"output {target} is the input; choose another name")
    container_format(target)
    try:
        check_writable_output(target, overwrite=overwrite)
    except ImageWriteError as error:  # the same checks as for images, reported as a video error
        raise VideoWriteError(str(error)) from None


def encoder_settings(info: VideoInfo, options: VideoOptions, width: int, height: int) -> EncoderSettings:
    encoder, default_crf, default_preset, _ = CODECS[options.codec]
    pix_fmt = options.pix_fmt or ("yuv420p10le" if info.high_bit_depth else "yuv420p")
    return EncoderSettings(
        codec=options.codec,
        crf=default_crf if options.crf is None else options.crf,
        preset=options.preset or default_preset,
        pix_fmt=pix_fmt,
        width=width,
        height=height,
        time_base=info.time_base,
        rate=info.rate,
        color_primaries=info.color_primaries,
        color_trc=info.color_trc,
        colorspace=info.colorspace,
        color_range=info.color_range,
        # Both axes scale by the same factor, so the pixel shape (and the display aspect) stays the input's.
        sample_aspect_ratio=info.sample_aspect_ratio,
    )


def _job(source: Path, options: VideoOptions, settings: EncoderSettings) -> dict:
    stat = source.stat()
    from acutance import __version__

    return {
        "version": JOB_VERSION,
        "acutance": __version__,
        "input": str(source.resolve()),
        "input_size": stat.st_size,
        "input_mtime_ns": stat.st_mtime_ns,
        "options": _job_options(options),
        "encoder": {k: str(v) for k, v in asdict(settings).items()},
    }


def _job_options(options: VideoOptions) -> dict:
    values = asdict(options)
    values["stages"] = [job_entry(spec) for spec in ordered(options.stages)]  # secrets hashed
    return values


def _prepare_folder(folder: Path, job: dict, *, restart: bool) -> None:
    job_file = folder / "job.json"
    if folder.exists() and restart:
        shutil.rmtree(folder)
    if folder.exists():
        try:
            previous = json.loads(job_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if previous != job:
            raise VideoWriteError(
                f"{folder} holds an unfinished run with other settings or another input; "
                "rerun that command to finish it, or pass --restart to discard it"
            )
        return
    folder.mkdir()
    write_json_atomic(job_file, job)


def _finished_segments(folder: Path) -> set[int]:
    done = set()
    for meta in folder.glob("segment_*.json"):
        index = int(meta.stem.split("_")[1])
        if (folder / f"{segment_name(index)}.pkt").exists():
            done.add(index)
    return done


def _decoded_frames(info: VideoInfo):
    """Yield ``(index, frame)`` in presentation order; decode errors and truncation are ``VideoReadError``."""
    import av

    container = open_input(info.path)
    try:
        stream = main_video_stream(container)
        stream.thread_type = "AUTO"
        index = 0
        last_end = None
        try:
            for frame in container.decode(stream):
                if frame.pts is not None:
                    last_end = float((frame.pts + (frame.duration or 0)) * stream.time_base)
                yield index, frame
                index += 1
        except av.error.FFmpegError as error:
            raise VideoReadError(
                f"{info.path}: decoding failed after {index} frames: {error} (corrupt or truncated)"
            ) from None
        if index == 0:
            raise VideoReadError(f"{info.path}: no frame could be decoded (truncated or corrupt)")
        expected = info.frames
        start = float(info.start_pts * info.time_base) if info.start_pts is not None else 0.0
        if info.duration and last_end is not None and last_end + 2 * info.frame_seconds < start + info.duration:
            raise VideoReadError(
                f"{info.path}: truncated: decoded {index} frames ending at {last_end:.3f}s "
                f"of {start + info.duration:.3f}s"
                + (f" ({expected} expected)" if expected else "")
            )
    finally:
        container.close()


def enhance_video(
    source: str | os.PathLike,
    target: str | os.PathLike,
    options: VideoOptions = VideoOptions(),
    *,
    overwrite: bool = False,
    restart: bool = False,
    progress: bool = True,
    stop_after_frames: int | None = None,
    model=None,
) -> VideoReport:
    """Enhance ``source`` into ``target``; resumable (see the module notes).

    stop_after_frames: test hook; stop (``VideoInterrupted``) after enhancing this many frames in this run,
        leaving the work folder as a crash would. The environment variable ``ACUTANCE_VIDEO_STOP_AFTER`` does
        the same from the command line.
    model: an already loaded enhancer (default: ``load_model(options.model)``).
    """
    from acutance.models.registry import load_model
    from acutance.pipeline.enhance import plan_enhance, resolve_scale

    source, target = Path(source), Path(target)
    options.validate()
    if stop_after_frames is None and os.environ.get(STOP_ENV):
        stop_after_frames = int(os.environ[STOP_ENV])
    if not source.exists():
        raise VideoReadError(f"{source}: no such file")
    check_paths(source, target, overwrite=overwrite)
    info = probe(source)
    limits.check_input_pixels(info.width, info.height, name=f"{source} (video frames)")
    if options.model == NO_MODEL:  # re-encode only (e.g. to watermark): frames kept at their size
        if options.scale not in (None, 1):
            raise OptionError(f"--model {NO_MODEL} keeps the size; it takes no --scale other than 1")
        model, scale = None, 1.0
    else:
        model = model or load_model(options.model)
        scale = resolve_scale(model, options.scale)  # finite, positive, in the model's range
    width, height = round(info.width * scale), round(info.height * scale)
    # Before any frame is decoded: 'video -s 1000' is this one line, not an allocation failure later.
    limits.check_output_pixels(width, height, f"each frame of {target.name}")
    if model is not None:
        plan_enhance(model, (info.height, info.width, 3), scale, tile=options.tile)  # a frame's working memory
    if width % 2 or height % 2:
        raise OptionError(f"{width}x{height} output: 4:2:0 video needs even sizes; choose another --scale")
    # Stages check their parameters (a missing key, a mask of another size) before any frame is decoded.
    name = options.model
    stages = build(options.stages, source=StageContext(info.width, info.height, info.rate or 0.0, name),
                   output=StageContext(width, height, info.rate or 0.0, name))  # fmt: skip
    settings = encoder_settings(info, options, width, height)
    folder = work_folder(target)
    _prepare_folder(folder, _job(source, options, settings), restart=restart)
    try:
        return _run(source, target, info, options, settings, model, scale, folder, stages, overwrite=overwrite,
                    progress=progress, stop_after_frames=stop_after_frames)  # fmt: skip
    except BaseException:
        # A run that failed before finishing any segment leaves nothing worth resuming: no work folder.
        if not _finished_segments(folder):
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _run(source: Path, target: Path, info: VideoInfo, options: VideoOptions, settings: EncoderSettings, model,
         scale: float, folder: Path, stages: list, *, overwrite: bool, progress: bool,
         stop_after_frames: int | None) -> VideoReport:  # fmt: skip
    from tqdm import tqdm

    from acutance.pipeline.enhance import enhance
    from acutance.video.frames import frame_to_rgb, rgb_to_frame

    from acutance.video.temporal import TemporalStabiliser

    done = _finished_segments(folder)
    per = options.segment_frames
    stabiliser = TemporalStabiliser(options.temporal, options.temporal_mode) if options.temporal > 0 else None
    history = [b.stage for b in stages if b.needs_history]  # shown every skipped frame on a resume
    before = [b.stage for b in stages if b.place == "source"]
    after = [b.stage for b in stages if b.place == "output"]
    # A sequence model (acutance.vsr) streams frames through per-segment recurrent state instead of one
    # call per frame; its outputs come out a frame behind, in order (acutance.vsr.video).
    sequence = _sequence_streams(model, per, done)
    waiting: dict[int, tuple] = {}  # index -> (timing, rgb) of frames whose sequence output is not out yet

    total = info.estimated_frames()
    reused = min(len(done) * per, total) if total else len(done) * per  # shown as done: rate and ETA are for new work
    bar = tqdm(total=total, initial=reused, unit="frame", desc=source.name, disable=None if progress else True,
               file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
    # Three threads, so decoding, the model and encoding overlap (PyAV and OpenCV release the GIL): a decoder
    # (frames -> RGB), this thread (the model), an encoder (stabiliser, RGB -> frames -> segment files).
    stop = threading.Event()
    rotation = [0]  # display rotation of the first frame, written back by the mux
    decoded: queue.Queue = queue.Queue(maxsize=4)
    to_encode: queue.Queue = queue.Queue(maxsize=4)

    def decode() -> None:
        with contextlib.closing(_decoded_frames(info)) as frames_in:
            _decode(frames_in)

    def _decode(frames_in) -> None:
        for index, frame in frames_in:
            if index == 0:
                rotation[0] = int(round(frame.rotation or 0))
            segment = index // per
            if segment in done:
                # a finished segment: only the last frame's pixels are needed, to restore the stabiliser
                wanted = bool(history) or (stabiliser is not None and index % per == per - 1)
                wanted = wanted or (sequence is not None and sequence.needs(index))  # warm-up, look-ahead
                rgb = frame_to_rgb(frame, info.colorspace, info.color_range) if wanted else None
                item = (index, None, rgb, True)
            else:
                timing = (_pts(frame, index, info), frame.duration or 0)  # the output frame gets both
                item = (index, timing, frame_to_rgb(frame, info.colorspace, info.color_range), False)
            if not _put(decoded, item, stop):
                return
        _put(decoded, _END, stop)

    def encode() -> None:
        import av

        writer: SegmentWriter | None = None
        previous_rgb = None  # the previous frame's input, to restore the stabiliser at a resumed segment
        in_memory_segment = -2  # the stabiliser's state is that of the last frame of this segment
        try:
            while True:
                item = to_encode.get()
                if item[0] == "previous":  # the last frame of a finished segment
                    previous_rgb = item[1]
                elif item[0] == "frame":
                    _, index, segment, rgb, out, timing = item
                    if writer is None:
                        writer = SegmentWriter(folder, segment, settings)
                        if stabiliser is not None and in_memory_segment != segment - 1:
                            stabiliser.reset(_load_state(folder, segment - 1, previous_rgb))
                    state = None
                    if stabiliser is not None:
                        out = stabiliser(rgb, out)
                        if index % per == per - 1:
                            state, in_memory_segment = stabiliser.state.previous_residual, segment
                    previous_rgb = rgb
                    frame = rgb_to_frame(out, settings.pix_fmt, info.colorspace, info.color_range)
                    frame.pts, duration = timing
                    if duration:
                        frame.duration = duration
                    frame.time_base = info.time_base
                    try:
                        writer.encode(frame)
                    except av.error.FFmpegError as error:
                        raise VideoWriteError(f"encoding frame {index} failed: {error}") from None
                    bar.update(1)
                    if index % per == per - 1:
                        _finish(writer, state, folder, segment)
                        writer = None
                elif item[0] == "end":
                    if writer is not None:
                        _finish(writer, None, folder, segment)
                        writer = None
                    return
                else:  # "abort": an interrupted segment is dropped, as a crash would drop it
                    return
        finally:
            if writer is not None:
                writer.abort()

    decoder, encoder = _Worker(decode), _Worker(encode)
    frames = enhanced = 0

    def emit_sequence(ready) -> None:  # a sequence model's finished frames: as the per-frame path below
        nonlocal enhanced
        for done_index, out in ready:
            done_timing, done_rgb = waiting.pop(done_index)
            for stage in after:
                out = stage(done_index, done_rgb, out)
            _put(to_encode, ("frame", done_index, done_index // per, done_rgb, out, done_timing), stop, encoder)
            enhanced += 1
            if stop_after_frames is not None and enhanced >= stop_after_frames:
                raise VideoInterrupted(f"stopped after {enhanced} frames (test hook); rerun to resume")

    started = time.perf_counter()
    decoder.start()
    encoder.start()
    try:
        while True:
            item = _get(decoded, decoder)
            if item is _END:
                break
            index, timing, rgb, skip = item
            frames = index + 1
            if skip:
                if rgb is not None:
                    for stage in history:
                        stage.observe(index, rgb)
                    if stabiliser is not None and index % per == per - 1:
                        _put(to_encode, ("previous", rgb), stop, encoder)
                    if sequence is not None and sequence.needs(index):
                        frame = rgb
                        for stage in before:
                            frame = stage(index, rgb, frame)
                        emit_sequence(sequence.push(index, frame))
                continue
            frame = rgb
            for stage in before:
                frame = stage(index, rgb, frame)
            if sequence is not None:
                waiting[index] = (timing, rgb)
                emit_sequence(sequence.push(index, frame))
                continue
            out = enhance(frame, model, scale, tile=options.tile) if model is not None else frame
            for stage in after:
                out = stage(index, rgb, out)
            _put(to_encode, ("frame", index, index // per, rgb, out, timing), stop, encoder)
            enhanced += 1
            if stop_after_frames is not None and enhanced >= stop_after_frames:
                raise VideoInterrupted(f"stopped after {enhanced} frames (test hook); rerun to resume")
        if sequence is not None:
            emit_sequence(sequence.finish())
        _put(to_encode, ("end",), stop, encoder)
        encoder.join()
        encoder.check()
    except BaseException:
        stop.set()
        try:
            _put(to_encode, ("abort",), threading.Event(), encoder)
        except BaseException:  # the encoder's own error: the one being raised already says enough
            pass
        raise
    finally:
        stop.set()
        encoder.join()
        _drain(decoded)
        decoder.join()
        bar.close()
    encoder.check()
    count = -(-frames // per)
    missing = [i for i in range(count) if not (folder / f"{segment_name(i)}.json").exists()]
    if missing:
        raise VideoWriteError(f"segments {missing} are missing in {folder}; rerun with --restart")
    mux(source, target, folder, count, settings, overwrite=overwrite, rotation=rotation[0], default=info.default)
    shutil.rmtree(folder, ignore_errors=True)
    return VideoReport(target, frames, enhanced, len(done), time.perf_counter() - started)


_END = object()


def _sequence_streams(model, per: int, done: set[int]):
    if not getattr(model, "sequence", False):
        return None
    from acutance.vsr.video import SegmentedStreams

    return SegmentedStreams(model, per, done)


class _Worker(threading.Thread):
    """A daemon thread that keeps the exception it died of, for the main thread to raise."""

    def __init__(self, target) -> None:
        super().__init__(daemon=True)
        self._work = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as error:  # handed to the main thread
            self.error = error

    def check(self) -> None:
        if self.error is not None:
            raise self.error


def _put(target: queue.Queue, item, stop: threading.Event, consumer: _Worker | None = None) -> bool:
    """Put unless ``stop`` is set or the consumer died (then raise its error); False if stopped."""
    while not stop.is_set():
        if consumer is not None and not consumer.is_alive():
            consumer.check()
            return False
        try:
            target.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _get(source: queue.Queue, producer: _Worker):
    while True:
        try:
            return source.get(timeout=0.05)
        except queue.Empty:
            if not producer.is_alive() and source.empty():
                producer.check()
                return _END


def _drain(source: queue.Queue) -> None:
    while True:
        try:
            source.get_nowait()
        except queue.Empty:
            return


def _pts(frame, index: int, info: VideoInfo) -> int:
    if frame.pts is not None:
        return frame.pts
    step = round(1 / (info.rate * info.time_base)) if info.rate else 1
    return index * step


def _finish(writer: SegmentWriter, state: np.ndarray | None, folder: Path, segment: int) -> None:
    # The temporal state goes first: a segment counts as finished only once its .json exists.
    if state is not None:
        temp = folder / f"{segment_name(segment)}.state.tmp.npy"
        np.save(temp, state)
        os.replace(temp, folder / f"{segment_name(segment)}.state.npy")
    writer.finish()


def _load_state(folder: Path, segment: int, previous_rgb):
    from acutance.video.temporal import TemporalState

    path = folder / f"{segment_name(segment)}.state.npy"
    if segment < 0 or previous_rgb is None or not path.exists():
        return None
    return TemporalState(previous_rgb, np.load(path))
